// Decoding runs here, off the UI thread. The page cancels by terminating
// this worker. Messages in: {type: 'decode' | 'extract', file, options,
// block, snapshot}. Messages out: progress, snapshots (a qcow2 image was
// given without a snapshot name), decoded (with `vmstate`, the snapshot's
// VM state as a Blob, when one was named), extracted, failed.
import init, { decode_file, extract_block, list_snapshots, snapshot_blob } from './pkg/qevm_wasm.js';

// The only fetch this page makes: its own wasm file, next to this script.
const ready = init({ module_or_path: new URL('./pkg/qevm_wasm_bg.wasm', import.meta.url) });

function progressSender() {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (now - last > 50 || done === total) {
      last = now;
      postMessage({ type: 'progress', done, total });
    }
  };
}

self.onmessage = async (ev) => {
  const msg = ev.data;
  try {
    await ready;
    if (msg.type === 'decode') {
      let file = msg.file;
      let vmstate = null;
      if (msg.snapshot != null) {
        vmstate = file = snapshot_blob(file, msg.snapshot);
      } else {
        const list = list_snapshots(file);
        if (list !== null) {
          postMessage({ type: 'snapshots', list: JSON.parse(list) });
          return;
        }
      }
      const t0 = performance.now();
      const r = await decode_file(file, msg.options ?? {}, progressSender());
      const ms = performance.now() - t0;
      postMessage({
        type: 'decoded', ms, readWaitMs: r.readWaitMs, vmstate,
        summary: r.summary, state: r.state, desc: r.desc, tree: r.tree, error: r.error,
      });
    } else if (msg.type === 'extract') {
      const blob = await extract_block(msg.file, msg.block, msg.options ?? {}, progressSender());
      postMessage({ type: 'extracted', block: msg.block, blob });
    }
  } catch (e) {
    postMessage({ type: 'failed', message: String(e && e.message !== undefined ? e.message : e) });
  }
};
