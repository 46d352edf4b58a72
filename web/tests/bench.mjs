// Decode throughput of the page in headless Chromium vs native, on one file.
//   node bench.mjs FILE [RUNS]        (scripts/test-web.sh does not run this)
// Browser: the page decodes FILE (summary + state + device tree, the same
// visitors as native) in its worker; the time is the worker's, from the
// first read to the result. Native: wasm/target/release/examples/native
// (same Rust loop, chunk size and visitors), and the CLI's `qevm info` if
// target/release/qevm exists. Best of RUNS each; the file is read once
// before so that it is in the page cache for everyone.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launch, ROOT, serve } from './harness.mjs';

const file = process.argv[2];
const runs = Number(process.argv[3] || 3);
if (!file) {
  console.error('usage: node bench.mjs FILE [RUNS]');
  process.exit(2);
}
const size = statSync(file).size;
const MiB = 2 ** 20;
const rate = (secs) => size / secs / MiB;

execFileSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache

const server = await serve();
const browser = await launch();
const page = browser.context.pages()[0] ?? (await browser.context.newPage());
const browserTimes = [];
const cpuTimes = [];
const readTimes = [];
try {
  for (let i = 0; i < runs; i++) {
    await page.goto(server.url);
    await page.waitForSelector('body[data-state=idle]');
    await page.setInputFiles('#file', file);
    await page.waitForSelector('body[data-state=done], body[data-state=error], body[data-state=failed]', { timeout: 600_000 });
    const state = await page.getAttribute('body', 'data-state');
    if (state !== 'done') throw new Error(`decode ${state}: ${await page.textContent('#status')}`);
    const secs = Number(await page.getAttribute('body', 'data-ms')) / 1000;
    const wait = Number(await page.getAttribute('body', 'data-read-wait-ms')) / 1000;
    browserTimes.push(secs);
    cpuTimes.push(secs - wait);
    console.log(`chromium run ${i + 1}: ${secs.toFixed(3)} s, ${rate(secs).toFixed(0)} MiB/s ` +
      `(${(secs - wait).toFixed(3)} s in wasm, ${wait.toFixed(3)} s waiting for File.slice().arrayBuffer())`);
  }
  // the ceiling: Chromium reading the File alone, the page's way (16 MiB
  // slices, 3 in flight), nothing decoded
  await page.goto(server.url);
  await page.waitForSelector('body[data-state=idle]');
  await page.evaluate(() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'raw'; document.body.append(i); });
  await page.setInputFiles('#raw', file);
  for (let i = 0; i < runs; i++) {
    const ms = await page.evaluate(async () => {
      const f = document.getElementById('raw').files[0];
      const chunk = 16 << 20;
      const t0 = performance.now();
      const q = [];
      let p = 0;
      const issue = () => { if (p < f.size) { q.push(f.slice(p, p + chunk).arrayBuffer()); p += chunk; } };
      for (let k = 0; k < 4; k++) issue();
      while (q.length) { await q.shift(); issue(); }
      return performance.now() - t0;
    });
    readTimes.push(ms / 1000);
  }
} finally {
  await browser.close();
  server.stop();
}

function timeNative(cmd, args) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return Math.min(...times);
}

const rows = [];
const chromium = Math.min(...browserTimes);
rows.push(['page in headless Chromium, end to end (worker: reads + wasm decode)', chromium]);
rows.push(['  of which time in wasm (decode + copy in), reads excluded', Math.min(...cpuTimes)]);
rows.push(['  Chromium reading the File alone (same slices, no decoding)', Math.min(...readTimes)]);
const harness = join(ROOT, 'wasm', 'target', 'release', 'examples', 'native');
if (existsSync(harness)) {
  // the harness prints its own best time; take it from its output
  const out = execFileSync(harness, [file, String(runs)], { encoding: 'utf8' });
  const best = Number(/native best: ([\d.]+) s/.exec(out)[1]);
  rows.push(['native, same loop and visitors (wasm/examples/native.rs)', best]);
}
const cli = join(ROOT, 'target', 'release', 'qevm');
if (existsSync(cli)) rows.push(['native CLI `qevm info --json` (process wall time)', timeNative(cli, ['info', '--json', file])]);

const version = readFileSync('/proc/version', 'utf8').split(' ')[2];
console.log(`\nfile: ${file} (${(size / MiB).toFixed(0)} MiB), best of ${runs}, kernel ${version}\n`);
console.log('| decoder | seconds | MiB/s | browser end to end vs this |');
console.log('|---|---:|---:|---:|');
for (const [name, secs] of rows) {
  console.log(`| ${name} | ${secs.toFixed(3)} | ${rate(secs).toFixed(0)} | ${(100 * secs / chromium).toFixed(0)}% |`);
}
