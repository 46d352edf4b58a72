// End-to-end: the page in real Chromium, real fixtures, no network.
//   cd web/tests && npm ci && node --test e2e.test.mjs
// (scripts/test-web.sh builds web/pkg first and runs this.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, FIXTURES, launch, serve } from './harness.mjs';

let server;
let browser;
let page;
const requests = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await serve();
  browser = await launch();
  // every request of every page and worker in this profile
  browser.context.on('request', (r) => requests.push(r.url()));
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('pageerror', (e) => console.error('page error:', e));
});

after(async () => {
  await browser?.close();
  server?.stop();
});

async function open(query = '') {
  await page.goto(server.url + query);
  await page.waitForSelector('body[data-state=idle]');
}

async function decoded() {
  await page.waitForSelector('body[data-state=done], body[data-state=error], body[data-state=failed]', { timeout: 60_000 });
  return page.getAttribute('body', 'data-state');
}

async function downloadText(button) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return { name: dl.suggestedFilename(), text: readFileSync(await dl.path(), 'utf8') };
}

const fixture = (name) => join(FIXTURES, name);
const golden = (stem, kind) => readFileSync(fixture(`${stem}.${kind}.json`), 'utf8');

test('a real fixture: summary, device tree, hex view, downloads', async () => {
  const stem = 'x86_64-pc-devices-10.0';
  const state = JSON.parse(golden(stem, 'state'));
  await open();
  await page.setInputFiles('#file', fixture(`${stem}.mig`));
  assert.equal(await decoded(), 'done');

  assert.equal(await page.textContent('#machine'), 'pc-i440fx-10.0');
  // every section of the golden but the iterative "ram" is a device
  const devices = Object.keys(state).filter((k) => !k.startsWith('ram (')).length;
  assert.equal(await page.textContent('#device-count'), String(devices));
  assert.equal(await page.locator('#devices tbody tr').count(), devices);
  assert.match(await page.textContent('#blocks tbody'), /pc\.ram/);
  await page.screenshot({ path: join(ARTIFACTS, 'summary.png'), fullPage: true });

  // a decoded field, as shown in the tree after a search
  await page.click('#tab-tree');
  await page.fill('#search', 'cpu_ticks_offset');
  const row = page.locator('.field[data-path="timer/cpu_ticks_offset"] .value');
  await row.waitFor();
  const want = state['timer (0)'].cpu_ticks_offset; // "0x00000000e862...", analyze-migration.py's text
  assert.ok((await row.textContent()).startsWith(want), `${await row.textContent()} vs ${want}`);
  assert.equal(await row.textContent(), `${want} = ${BigInt(want)}`);

  // the hex view of a buffer
  await page.fill('#search', 'timer/unused');
  await page.locator('.field[data-path="timer/unused"] button').click();
  assert.ok(await page.isVisible('#hex'));
  assert.match(await page.textContent('#hex-body'), /^00000000 {2}00 00 00 00 00 00 00 00 {2}/);
  await page.keyboard.press('Escape');
  assert.ok(!(await page.isVisible('#hex')));
  await page.fill('#search', '');
  await page.screenshot({ path: join(ARTIFACTS, 'tree.png') });

  // downloads equal analyze-migration.py's documents (and the CLI's)
  const st = await downloadText('#dl-state');
  assert.equal(st.name, `${stem}.state.json`);
  assert.equal(st.text, golden(stem, 'state'));
  const de = await downloadText('#dl-desc');
  assert.equal(de.text, golden(stem, 'desc'));

  // a RAM block as a raw file
  await page.click('#tab-summary');
  const [img] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#blocks button[aria-label="Download the raw image of RAM block pc.ram"]'),
  ]);
  assert.equal(img.suggestedFilename(), `${stem}.pc.ram.img`);
  const bytes = readFileSync(await img.path());
  const ramKey = Object.keys(state).find((k) => k.startsWith('ram ('));
  const ramSize = Number(state[ramKey]['section sizes']['pc.ram']);
  assert.equal(bytes.length, ramSize);
  assert.ok(bytes.some((b) => b !== 0));

  await page.click('#tab-ram');
  assert.ok((await page.locator('#ram canvas.map').count()) >= 5);
  await page.screenshot({ path: join(ARTIFACTS, 'ram.png'), fullPage: true });
  if (process.env.QEVM_SCREENSHOT) {
    await page.click('#tab-tree');
    await page.fill('#search', 'e1000/mac_reg');
    await page.locator('.field').first().waitFor();
    await page.screenshot({ path: process.env.QEVM_SCREENSHOT });
  }
});

/**
 * Checks a downloaded RAM image against the guest: QEMU's dump of it
 * (NAME.guest.json: SHA-256 of every non-zero guest-physical page) and the
 * bytes -device loader placed (tests/fixtures/README.md). The RAM block
 * sits at guest-physical 0 in these small guests; the legacy window
 * 0xa0000..0x100000 shows ROM or VGA in the dump, so it is skipped.
 */
function checkAgainstGuest(bytes, stem) {
  const g = JSON.parse(readFileSync(fixture(`${stem}.guest.json`), 'utf8'));
  let compared = 0;
  for (const [start, size] of g.loads) {
    for (let gpa = start; gpa < start + size && gpa + 4096 <= bytes.length; gpa += 4096) {
      if (gpa >= 0xa0000 && gpa < 0x100000) continue;
      const page = bytes.subarray(gpa, gpa + 4096);
      const want = g.nonzero_pages['0x' + gpa.toString(16)] ?? null;
      const got = page.some((b) => b !== 0) ? createHash('sha256').update(page).digest('hex') : null;
      assert.equal(got, want, `${stem}: page 0x${gpa.toString(16)}`);
      compared++;
    }
  }
  assert.ok(compared > 1000, `${stem}: ${compared} pages compared`);
  for (const { addr, len, seed } of g.loader) {
    for (let i = 0; i < len; i++) {
      const gpa = addr + i;
      if (gpa >= 0x200000 && gpa < 0x210000 && gpa % 4096 < 4) continue; // the dirtier's counter
      assert.equal(bytes[gpa], (i * 7 + (i >> 12) * 31 + seed) & 0xff, `${stem}: loader byte 0x${gpa.toString(16)}`);
    }
  }
}

test('XBZRLE, postcopy and mapped-ram blocks download as the guest had them', async () => {
  for (const [stem, block] of [
    ['x86_64-pc-xbzrle-10.0', 'pc.ram'],
    ['x86_64-pc-postcopy-switch-10.0', 'pc.ram'],
    ['x86_64-microvm-mapped-ram-10.0', 'microvm.ram'],
  ]) {
    await open();
    await page.setInputFiles('#file', fixture(`${stem}.mig`));
    assert.equal(await decoded(), 'done', stem);
    const [img] = await Promise.all([
      page.waitForEvent('download'),
      page.click(`#blocks button[aria-label="Download the raw image of RAM block ${block}"]`),
    ]);
    checkAgainstGuest(readFileSync(await img.path()), stem);
  }
  // the summary counts the XBZRLE pages
  await open();
  await page.setInputFiles('#file', fixture('x86_64-pc-xbzrle-10.0.mig'));
  assert.equal(await decoded(), 'done');
  const row = await page.locator('#blocks tbody tr', { hasText: 'pc.ram' }).textContent();
  assert.match(row, /16/);
});

test('a qcow2 image: its savevm snapshots, one decoded and its RAM downloaded', async () => {
  await open();
  await page.setInputFiles('#file', fixture('x86_64-pc-savevm-10.0.qcow2'));
  await page.waitForSelector('body[data-state=snapshots]');
  const info = JSON.parse(readFileSync(fixture('x86_64-pc-savevm-10.0.qemu-img-info.json'), 'utf8'));
  const rows = page.locator('#snapshot-list tbody tr');
  assert.equal(await rows.count(), info.snapshots.length);
  assert.match(await rows.nth(1).textContent(), /halted/);
  await page.screenshot({ path: join(ARTIFACTS, 'snapshots.png') });
  await page.click('#snapshot-list button[aria-label="Decode snapshot halted"]');
  assert.equal(await decoded(), 'done');
  assert.equal(await page.textContent('#machine'), 'pc-i440fx-10.0');
  const [img] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#blocks button[aria-label="Download the raw image of RAM block pc.ram"]'),
  ]);
  assert.equal(img.suggestedFilename(), 'x86_64-pc-savevm-10.0@halted.pc.ram.img');
  checkAgainstGuest(readFileSync(await img.path()), 'x86_64-pc-savevm-10.0.halted');
  // the state download is the snapshot's (qevm state --snapshot gives the same)
  const st = await downloadText('#dl-state');
  assert.ok(JSON.parse(st.text)['timer (0)'], 'state.json of the snapshot');
});

test('keyboard: tabs with the arrow keys, the drop zone opens the picker', async () => {
  await open();
  await page.setInputFiles('#file', fixture('s390x-ccw-10.0.mig'));
  assert.equal(await decoded(), 'done');
  assert.equal(await page.textContent('#machine'), 's390-ccw-virtio-10.0');
  await page.focus('#tab-summary');
  await page.keyboard.press('ArrowRight');
  assert.ok(await page.isVisible('#panel-tree'));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-tree');
  await page.keyboard.press('ArrowRight');
  assert.ok(await page.isVisible('#panel-ram'));
  // Enter on the drop zone opens the file picker (its click() is recorded:
  // a real chooser dialog cannot be driven reliably in headless mode)
  await page.evaluate(() => { document.getElementById('file').click = () => { window.__picked = true; }; });
  await page.focus('#drop');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => window.__picked), true);
});

test('a phone-sized screen has no horizontal scrolling', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await open();
    await page.setInputFiles('#file', fixture('x86_64-pc-10.0.mig'));
    assert.equal(await decoded(), 'done');
    for (const tab of ['#tab-summary', '#tab-tree', '#tab-ram']) {
      await page.click(tab);
      const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
      assert.ok(sw <= w, `${tab}: page is ${sw}px wide on a ${w}px screen`);
    }
    await page.click('#tab-summary');
    await page.screenshot({ path: join(ARTIFACTS, 'phone.png'), fullPage: true });
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
});

/** A fixture whose vmdesc and stream are edited: the JSON trailer is rebuilt with its length. */
function hostileStream() {
  const data = readFileSync(fixture('x86_64-pc-10.0.mig'));
  // the trailer: 0x06, be32 length, JSON to the end
  let start = -1;
  for (let p = data.length - 1; p >= 5; p--) {
    if (data[p - 5] === 6 && data.readUInt32BE(p - 4) === data.length - p && data[p] === 0x7b) { start = p; break; }
  }
  assert.ok(start > 0, 'no vmdesc trailer');
  const evilDevice = '<img src=x onerror=window.__pwned=1>timer';
  const evilField = '<b onmouseover=window.__pwned=2>cpu_ticks_offset</b>';
  let json = data.subarray(start).toString('utf8');
  assert.ok(json.includes('{"name": "timer", "instance_id": 0'));
  json = json.replace('{"name": "timer", "instance_id": 0', `{"name": "${evilDevice}", "instance_id": 0`)
    .replace('{"name": "cpu_ticks_offset",', `{"name": "${evilField}",`);
  // the section record's idstr: length byte, name, instance 0, version 2
  const head = Buffer.from([5, ...Buffer.from('timer'), 0, 0, 0, 0, 0, 0, 0, 2]);
  const at = data.indexOf(head);
  assert.ok(at > 0 && at < start);
  const name = Buffer.from(evilDevice);
  const body = Buffer.concat([
    data.subarray(0, at), Buffer.from([name.length]), name, data.subarray(at + 6, start - 4),
  ]);
  const js = Buffer.from(json);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(js.length);
  return { bytes: Buffer.concat([body, len, js]), evilDevice, evilField };
}

test('HTML in device and field names is shown as text (synthetic drop)', async () => {
  const { bytes, evilDevice, evilField } = hostileStream();
  await open();
  // drop the file on the drop zone, as a user would
  await page.evaluate(([b64, name]) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], name));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [bytes.toString('base64'), '<i>evil</i>.mig']);
  assert.equal(await decoded(), 'done');
  assert.ok((await page.textContent('#devices tbody')).includes(evilDevice));
  await page.click('#tab-tree');
  await page.fill('#search', '<img');
  const summary = page.locator('#tree details > summary .dname', { hasText: evilDevice });
  await summary.first().waitFor();
  assert.equal(await summary.first().textContent(), evilDevice);
  const field = page.locator('#tree .fname', { hasText: evilField });
  assert.equal(await field.first().textContent(), evilField);
  // the path carries the names too
  assert.ok(await page.locator(`.field[data-path="${evilDevice}/${evilField}"]`).count() === 1);
  assert.equal(await page.locator('#results img, #results b, #facts i').count(), 0, 'markup from the stream was parsed');
  assert.ok((await page.textContent('#facts')).includes('<i>evil</i>.mig'));
  await page.hover('#tree .fname >> nth=0');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.screenshot({ path: join(ARTIFACTS, 'hostile.png') });
});

test('errors show the offset, section and field path', async () => {
  const data = readFileSync(fixture('x86_64-pc-10.0.mig'));
  // claim 11 bytes for a 10-byte fpreg: the README's example
  const s = data.toString('latin1');
  const at = s.indexOf('"size": 10', s.lastIndexOf('"name": "env.fpregs"'));
  const bad = Buffer.from(data);
  bad[at + '"size": 1'.length] = '1'.charCodeAt(0);
  await open();
  await page.setInputFiles('#file', { name: 'bad.mig', mimeType: 'application/octet-stream', buffer: bad });
  assert.equal(await decoded(), 'error');
  assert.ok(await page.isVisible('#error-banner'));
  assert.ok(await page.isVisible('#panel-error'));
  assert.equal(await page.textContent('#error-offset'), '735,028 (0xb3734)');
  assert.equal(await page.textContent('#error-section'), 'cpu');
  assert.equal(await page.textContent('#error-path'), 'cpu/env.fpregs[0]');
  assert.match(await page.textContent('#error-message'), /consumed 11 byte\(s\) where the vmdesc says 10/);
  // what came before is shown
  assert.equal(await page.textContent('#machine'), 'pc-i440fx-10.0');
  await page.screenshot({ path: join(ARTIFACTS, 'error.png') });

  // a truncated stream
  await page.setInputFiles('#file', { name: 'cut.mig', mimeType: 'application/octet-stream', buffer: data.subarray(0, 500_000) });
  assert.equal(await decoded(), 'error');
  assert.match(await page.textContent('#error-message'), /truncated/);
});

test('progress and cancel', async () => {
  // 512-byte chunks over a 13 MB stream: slow enough to cancel half-way
  await open('?chunk=512');
  await page.setInputFiles('#file', fixture('x86_64-microvm-mapped-ram-10.0.mig'));
  await page.waitForFunction(() => {
    const p = document.getElementById('progress');
    return p.hasAttribute('value') && p.value > 0.01;
  });
  assert.ok(await page.isVisible('#busy'));
  await page.click('#cancel');
  await page.waitForSelector('body[data-state=cancelled]');
  assert.equal(await page.textContent('#status'), 'Cancelled.');
  assert.ok(!(await page.isVisible('#busy')));
  // a new worker takes the next file
  await page.setInputFiles('#file', fixture('alpha-clipper-10.0.mig'));
  assert.equal(await decoded(), 'done');
  assert.equal(await page.textContent('#page-size'), '8.00 KiB');
});

test('no request left for anything but the page\'s own files', () => {
  assert.ok(requests.length > 0);
  const own = new Set(['', 'index.html', 'app.js', 'style.css', 'worker.js', 'pkg/qevm_wasm.js', 'pkg/qevm_wasm_bg.wasm']);
  const seen = new Set();
  for (const u of requests) {
    if (u.startsWith('blob:') || u.startsWith('data:')) continue;
    assert.ok(u.startsWith(server.url), `request to another origin: ${u}`);
    const path = new URL(u).pathname.slice(1);
    assert.ok(own.has(path), `request for an unexpected file: ${u}`);
    seen.add(path);
  }
  assert.ok(seen.has('pkg/qevm_wasm_bg.wasm'), [...seen].join(' '));
});
