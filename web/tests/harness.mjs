// Shared by the e2e test and the benchmark: serve web/ with
// `python3 -m http.server` on 127.0.0.1, and drive Debian's Chromium with
// playwright-core in a fresh profile.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WEB, '..');
export const FIXTURES = join(ROOT, 'tests', 'fixtures');
export const ARTIFACTS = process.env.QEVM_ARTIFACTS || join(WEB, 'test-artifacts');

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Starts `python3 -m http.server` on an ephemeral port; resolves to {url, stop}. */
export function serve(dir = WEB) {
  return new Promise((ok, fail) => {
    const p = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => { p.kill(); fail(new Error(`http.server did not start: ${out}`)); }, 10_000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ url: `http://127.0.0.1:${m[1]}/`, stop: () => p.kill() });
      }
    });
    p.stderr.on('data', () => {}); // access log
    p.on('exit', (code) => { clearTimeout(timer); fail(new Error(`http.server exited (${code}): ${out}`)); });
  });
}

/** Launches Chromium with a fresh --user-data-dir; resolves to {context, close}. */
export async function launch(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'qevm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    ...options,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
