// The page: file input, worker control, and the views. Every string that
// comes from a stream is put in the DOM as text (textContent / text nodes),
// never parsed as HTML.

const $ = (id) => document.getElementById(id);

/** Creates an element; string children become text nodes. */
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

const fmtInt = (n) => Number(n).toLocaleString('en-US');
function fmtBytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${u[i]}`;
}
const hex = (n, w = 0) => '0x' + Number(n).toString(16).padStart(w, '0');

// Test hook: ?chunk=N feeds N bytes at a time (small chunks make records
// straddle, and let a test cancel mid-way).
const params = new URLSearchParams(location.search);
const options = {};
if (params.has('chunk')) options.chunkSize = Number(params.get('chunk'));

let worker = null;
let current = null; // { file, summary, tree, state, desc, error }
let job = null; // what the worker is doing: 'decode' | 'extract'

function newWorker() {
  if (worker) worker.terminate();
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onWorkerMessage;
  worker.onerror = (e) => {
    finishJob();
    setStatus(`The decoder could not start: ${e.message || 'worker error'}`);
  };
}

function setStatus(text) { $('status').textContent = text; }

function startJob(kind, message, text) {
  if (!worker) newWorker();
  job = kind;
  document.body.dataset.state = 'busy';
  $('busy').hidden = false;
  $('progress').value = 0;
  $('progress').removeAttribute('value'); // indeterminate until the first report
  setStatus(text);
  worker.postMessage(message);
}

function finishJob() {
  job = null;
  $('busy').hidden = true;
}

function cancel() {
  if (!job) return;
  const what = job;
  newWorker(); // terminating the worker is the cancel
  finishJob();
  document.body.dataset.state = 'cancelled';
  setStatus(what === 'decode' ? 'Cancelled.' : 'Extraction cancelled.');
}

function openFile(file) {
  if (!file) return;
  $('error-banner').hidden = true;
  $('results').hidden = true;
  $('snapshots').hidden = true;
  current = { file };
  startJob('decode', { type: 'decode', file, options }, `Decoding ${file.name} (${fmtBytes(file.size)})…`);
}

/** Decodes snapshot `name` of the qcow2 image `image`. */
function openSnapshot(image, name) {
  $('error-banner').hidden = true;
  $('results').hidden = true;
  current = { file: image, snapshot: name };
  startJob('decode', { type: 'decode', file: image, snapshot: name, options },
    `Decoding snapshot ${name} of ${image.name}…`);
}

/** The snapshot table of a qcow2 image, each with a button to decode it. */
function showSnapshots(list) {
  const image = current.file;
  const tb = $('snapshot-list').tBodies[0];
  tb.replaceChildren();
  for (const s of list) {
    const clock = s['vm-clock-sec'] + s['vm-clock-nsec'] / 1e9;
    tb.append(el('tr', {},
      el('td', { class: 'num' }, s.id),
      el('th', { scope: 'row' }, s.name),
      el('td', { class: 'num' }, fmtBytes(s['vm-state-size'])),
      el('td', {}, new Date(s['date-sec'] * 1000).toISOString().replace('T', ' ').slice(0, 19)),
      el('td', { class: 'num' }, `${clock.toFixed(3)} s`),
      el('td', {}, el('button', {
        type: 'button', class: 'small', disabled: s['vm-state-size'] === 0,
        'aria-label': `Decode snapshot ${s.name}`,
        onclick: () => openSnapshot(image, s.name),
      }, 'Decode'))));
  }
  $('snapshots').hidden = false;
  document.body.dataset.state = 'snapshots';
  setStatus(`${image.name} is a qcow2 image with ${list.length} snapshot${list.length === 1 ? '' : 's'}: choose one to decode.`);
}

function onWorkerMessage(ev) {
  const m = ev.data;
  if (m.type === 'progress') {
    $('progress').value = m.total ? m.done / m.total : 1;
    const pct = m.total ? Math.floor((100 * m.done) / m.total) : 100;
    $('progress').setAttribute('aria-valuetext', `${pct}%`);
    return;
  }
  const kind = job;
  finishJob();
  if (m.type === 'snapshots') {
    showSnapshots(m.list);
  } else if (m.type === 'decoded') {
    if (m.vmstate) {
      // From now on the snapshot's VM state is the stream (for downloads too).
      current.file = new File([m.vmstate], `${stem(current.file.name)}@${current.snapshot}.vmstate`);
    }
    showResults(m);
  } else if (m.type === 'extracted') {
    const name = `${stem(current.file.name)}.${imageName(m.block)}`;
    download(m.blob, name);
    setStatus(`Saved ${m.block} as ${name} (${fmtBytes(m.blob.size)}).`);
    document.body.dataset.state = 'done';
  } else if (m.type === 'failed') {
    document.body.dataset.state = 'failed';
    setStatus(kind === 'extract' ? `Extraction failed: ${m.message}` : `Failed: ${m.message}`);
  }
}

const stem = (name) => name.replace(/\.[^.]*$/, '') || 'stream';

/** Block name to a flat file name, as the CLI's `extract` does. */
function imageName(block) {
  const bytes = new TextEncoder().encode(block);
  let s = '';
  bytes.forEach((b, i) => {
    const c = String.fromCharCode(b);
    const plain = /[A-Za-z0-9\-_.:@+,=]/.test(c) && b < 128;
    s += plain && !(i === 0 && c === '.') ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  });
  return s + '.img';
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function showResults(m) {
  const summary = JSON.parse(m.summary);
  const tree = JSON.parse(m.tree);
  const error = m.error ? JSON.parse(m.error) : null;
  Object.assign(current, { summary, tree, state: m.state, desc: m.desc, error, ms: m.ms });
  renderSummary(summary, m.ms, m.readWaitMs);
  renderTree(tree);
  renderRam(summary);
  renderError(error);
  $('dl-desc').disabled = !m.desc;
  $('dl-desc').title = m.desc ? '' : 'The stream has no vmdesc';
  $('results').hidden = false;
  selectTab(error ? 'tab-error' : 'tab-summary', false);
  const secs = m.ms / 1000;
  const rate = summary.total_bytes / Math.max(secs, 1e-6) / 2 ** 20;
  document.body.dataset.state = error ? 'error' : 'done';
  document.body.dataset.ms = String(m.ms);
  document.body.dataset.readWaitMs = String(m.readWaitMs);
  setStatus(error
    ? `Stopped at byte ${fmtInt(error.offset)}: ${error.message}`
    : `Decoded ${current.file.name}: ${fmtBytes(summary.total_bytes)} in ${secs.toFixed(2)} s (${rate.toFixed(0)} MiB/s).`);
}

// ---------------------------------------------------------------- summary

function fact(dl, term, value, id) {
  dl.append(el('dt', {}, term), el('dd', { id }, value));
}

function renderSummary(s, ms, waitMs) {
  const dl = $('facts');
  dl.replaceChildren();
  fact(dl, 'File', current.file.name);
  fact(dl, 'Size', `${fmtBytes(current.file.size)} (${fmtInt(current.file.size)} bytes)`);
  fact(dl, 'Machine', s.machine ?? '(no configuration record)', 'machine');
  fact(dl, 'Stream version', String(s.version));
  fact(dl, 'Target page size', fmtBytes(s.page_size), 'page-size');
  fact(dl, 'Capabilities', s.capabilities.length ? s.capabilities.join(', ') : 'none');
  const cmds = Object.entries(s.commands).map(([k, v]) => `${k} ×${v}`);
  fact(dl, 'Commands', cmds.length ? cmds.join(', ') : 'none');
  fact(dl, 'Devices', String(s.totals.devices), 'device-count');
  fact(dl, 'Device state', fmtBytes(s.totals.device_bytes));
  fact(dl, 'RAM', `${fmtBytes(s.totals.ram_bytes)} in ${s.ram_blocks.length} blocks, ${fmtInt(s.totals.pages)} page entries`);
  const skipped = Object.entries(s.skipped).map(([k, v]) => `${k}: ${fmtBytes(v)}`);
  if (skipped.length) fact(dl, 'Framed, not decoded', skipped.join(', '));
  fact(dl, 'vmdesc', s.vmdesc_bytes == null ? 'absent' : fmtBytes(s.vmdesc_bytes));
  fact(dl, 'Decoded in', `${(ms / 1000).toFixed(2)} s (${((ms - waitMs) / 1000).toFixed(2)} s decoding, the rest waiting for the file)`, 'timing');

  const tb = $('blocks').tBodies[0];
  tb.replaceChildren();
  for (const b of s.ram_blocks) {
    const nonzero = b.nonzero_ranges.reduce((a, r) => a + r[1], 0);
    const btn = el('button', {
      type: 'button', class: 'small',
      'aria-label': `Download the raw image of RAM block ${b.name}`,
      onclick: () => startJob('extract', { type: 'extract', file: current.file, block: b.name, options },
        `Extracting ${b.name}…`),
    }, 'Download');
    tb.append(el('tr', {},
      el('th', { scope: 'row' }, b.name, b.mapped_ram ? el('span', { class: 'tag' }, 'mapped-ram') : null),
      el('td', { class: 'num', title: `${fmtInt(b.size)} bytes` }, fmtBytes(b.size)),
      el('td', { class: 'num' }, fmtInt(b.zero)),
      el('td', { class: 'num', title: `${fmtInt(nonzero)} pages hold non-zero data now` }, fmtInt(b.raw)),
      el('td', { class: 'num' }, fmtInt(b.xbzrle)),
      el('td', { class: 'num' }, fmtInt(b.compressed)),
      el('td', {}, btn)));
  }
  const td = $('devices').tBodies[0];
  td.replaceChildren();
  for (const d of s.devices) {
    td.append(el('tr', {},
      el('th', { scope: 'row' }, d.name),
      el('td', { class: 'num' }, String(d.instance_id)),
      el('td', { class: 'num' }, String(d.version)),
      el('td', { class: 'num' }, fmtInt(d.size)),
      el('td', {}, d.subsections.join(', ')),
      el('td', { class: 'num mono' }, hex(d.offset))));
  }
}

// ---------------------------------------------------------------- device tree

/** A value as shown: analyze-migration.py's text, plus decimal for integers. */
function showValue(v) {
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string' && /^0x[0-9a-f]+$/.test(v)) {
    try { return `${v} = ${BigInt(v).toString()}`; } catch { return v; }
  }
  return String(v);
}

const MAX_MATCHES = 5000;

/** The subtree of `node` that matches `q` (all of it if the node itself matches). */
function filterNode(node, q, budget) {
  if (budget.left <= 0) return null;
  const own = (node.p || node.n || '').toLowerCase().includes(q) ||
    (node.v !== undefined && String(node.v).toLowerCase().includes(q));
  if (own) { budget.left--; return node; }
  if (!node.c) return null;
  const c = [];
  for (const k of node.c) {
    const f = filterNode(k, q, budget);
    if (f) c.push(f);
  }
  return c.length ? { ...node, c } : null;
}

function filterTree(tree, q) {
  const budget = { left: MAX_MATCHES };
  const out = [];
  for (const d of tree) {
    const fields = [];
    if (d.name.toLowerCase().includes(q)) { out.push(d); continue; }
    for (const f of d.fields) {
      const m = filterNode(f, q, budget);
      if (m) fields.push(m);
    }
    if (d.raw !== undefined && d.raw.includes(q)) fields.push({ n: '(raw payload)', t: 'buffer', v: d.raw, b: true, p: d.name });
    if (fields.length) out.push({ ...d, fields });
  }
  return { devices: out, truncated: budget.left <= 0 };
}

function fieldRow(node) {
  const value = el('span', { class: 'value' }, showValue(node.v));
  const row = el('div', { class: 'field', dataset: { path: node.p || '' } },
    el('span', { class: 'fname', title: node.p }, node.n),
    el('span', { class: 'ftype' }, node.t),
    value);
  if (node.b && typeof node.v === 'string' && node.v.length) {
    row.append(el('button', {
      type: 'button', class: 'small',
      'aria-label': `Hex view of ${node.p || node.n}`,
      onclick: () => showHex(node.p || node.n, node.v),
    }, 'hex'));
  }
  return row;
}

/** A collapsible group whose children are built when first opened. */
function group(summaryParts, build, open) {
  const d = el('details', { class: 'group' }, el('summary', {}, ...summaryParts));
  let built = false;
  const fill = () => {
    if (built) return;
    built = true;
    d.append(el('div', { class: 'children' }, ...build()));
  };
  d.addEventListener('toggle', () => { if (d.open) fill(); });
  if (open) { fill(); d.open = true; }
  return d;
}

function renderNode(node, open) {
  if (!node.c) return fieldRow(node);
  const label = node.t === 'subsection' ? [el('span', { class: 'fname' }, node.n), el('span', { class: 'ftype' }, `subsection v${node.version}`)]
    : [el('span', { class: 'fname' }, node.n), el('span', { class: 'ftype' }, node.t)];
  return group(label, () => node.c.map((k) => renderNode(k, open)), open);
}

function renderDevice(d, open) {
  const head = [
    el('span', { class: 'dname' }, d.name),
    el('span', { class: 'muted' }, ` instance ${d.instance} · v${d.version} · ${fmtInt(d.size)} bytes`),
  ];
  return group(head, () => {
    const kids = d.fields.map((f) => renderNode(f, open));
    if (d.raw !== undefined && !open) {
      kids.push(fieldRow({ n: '(raw payload: no vmdesc entry)', t: 'buffer', v: d.raw, b: true, p: d.name }));
    }
    if (!kids.length) kids.push(el('p', { class: 'muted' }, 'No fields.'));
    return kids;
  }, open);
}

function renderTree(tree) {
  $('search').value = '';
  drawTree(tree, '');
}

function drawTree(tree, q) {
  const box = $('tree');
  box.replaceChildren();
  if (!q) {
    box.append(...tree.map((d) => renderDevice(d, false)));
    $('search-count').textContent = `${tree.length} devices`;
    return;
  }
  const { devices, truncated } = filterTree(tree, q);
  box.append(...devices.map((d) => renderDevice(d, true)));
  $('search-count').textContent = devices.length
    ? `${devices.length} matching device${devices.length === 1 ? '' : 's'}${truncated ? ` (first ${MAX_MATCHES} matches)` : ''}`
    : 'no match';
}

let searchTimer = 0;
function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    if (current && current.tree) drawTree(current.tree, $('search').value.trim().toLowerCase());
  }, 150);
}

function setAllOpen(open) {
  // opening builds the children, which may hold more groups: repeat
  for (let round = 0; round < 64; round++) {
    const todo = [...$('tree').querySelectorAll('details')].filter((d) => d.open !== open);
    if (!todo.length) break;
    todo.forEach((d) => { d.open = open; d.dispatchEvent(new Event('toggle')); });
    if (!open) break;
  }
}

// ---------------------------------------------------------------- hex view

function showHex(title, spaced) {
  const bytes = spaced.trim().split(/\s+/).map((h) => parseInt(h, 16));
  const lines = [];
  for (let o = 0; o < bytes.length; o += 16) {
    const row = bytes.slice(o, o + 16);
    const hx = row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47, ' ');
    const asc = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${o.toString(16).padStart(8, '0')}  ${hx}  |${asc}|`);
  }
  $('hex-title').textContent = `${title} (${bytes.length} bytes)`;
  $('hex-body').textContent = lines.join('\n');
  $('hex').showModal();
  $('hex-body').focus();
}

// ---------------------------------------------------------------- RAM map

function renderRam(s) {
  const box = $('ram');
  box.replaceChildren();
  for (const b of s.ram_blocks) {
    const pages = Math.ceil(b.size / s.page_size);
    const nonzero = b.nonzero_ranges.reduce((a, r) => a + r[1], 0);
    const fig = el('figure', { class: 'block' });
    fig.append(el('figcaption', {},
      el('strong', {}, b.name),
      ` ${fmtBytes(b.size)}, ${fmtInt(pages)} page${pages === 1 ? '' : 's'}, ${fmtInt(nonzero)} non-zero`,
      b.mapped_ram ? ' (mapped-ram: pages read from their fixed file offsets)' : ''));
    if (pages > 0) fig.append(blockMap(b, pages, s.page_size));
    const ranges = b.nonzero_ranges.slice(0, 200).map(([p, n]) =>
      `${hex(p * s.page_size, 9)}–${hex((p + n) * s.page_size - 1, 9)}  ${fmtInt(n)} page${n === 1 ? '' : 's'}`);
    if (b.nonzero_ranges.length > 200) ranges.push(`… ${fmtInt(b.nonzero_ranges.length - 200)} more ranges`);
    if (ranges.length) {
      fig.append(el('details', { class: 'ranges' },
        el('summary', {}, `${fmtInt(b.nonzero_ranges.length)} non-zero range${b.nonzero_ranges.length === 1 ? '' : 's'}`),
        el('pre', {}, ranges.join('\n'))));
    }
    box.append(fig);
  }
}

function blockMap(b, pages, pageSize) {
  const cells = Math.min(pages, 4096);
  const per = Math.ceil(pages / cells);
  const n = Math.ceil(pages / per);
  const counts = new Float64Array(n);
  for (const [start, len] of b.nonzero_ranges) {
    let p = start;
    const end = start + len;
    while (p < end) {
      const c = Math.floor(p / per);
      const upto = Math.min(end, (c + 1) * per);
      counts[c] += upto - p;
      p = upto;
    }
  }
  const cols = Math.min(n, 128);
  const rows = Math.ceil(n / cols);
  const cell = 6;
  const canvas = el('canvas', {
    class: 'map', width: cols * cell, height: rows * cell, tabindex: 0, role: 'img',
    'aria-label': `Map of ${b.name}: ${n} cells of ${per} page${per === 1 ? '' : 's'} each; ${b.nonzero_ranges.length} non-zero ranges`,
  });
  const ctx = canvas.getContext('2d');
  const zero = getComputedStyle(document.documentElement).getPropertyValue('--map-zero').trim() || '#e6e9ef';
  const full = getComputedStyle(document.documentElement).getPropertyValue('--map-full').trim() || '#1f5fbf';
  for (let c = 0; c < n; c++) {
    const x = (c % cols) * cell;
    const y = Math.floor(c / cols) * cell;
    const cellPages = Math.min(per, pages - c * per);
    const frac = counts[c] / cellPages;
    ctx.fillStyle = zero;
    ctx.fillRect(x, y, cell - 1, cell - 1);
    if (frac > 0) {
      ctx.globalAlpha = 0.25 + 0.75 * frac;
      ctx.fillStyle = full;
      ctx.fillRect(x, y, cell - 1, cell - 1);
      ctx.globalAlpha = 1;
    }
  }
  const tip = el('p', { class: 'tip muted', 'aria-live': 'polite' }, '\u00a0');
  const describe = (c) => {
    if (c < 0 || c >= n) return;
    const first = c * per;
    const cnt = Math.min(per, pages - first);
    tip.textContent = `${hex(first * pageSize, 9)}–${hex((first + cnt) * pageSize - 1, 9)}: ${fmtInt(counts[c])} of ${fmtInt(cnt)} page${cnt === 1 ? '' : 's'} non-zero`;
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const cx = Math.floor(((e.clientX - r.left) / r.width) * cols);
    const cy = Math.floor(((e.clientY - r.top) / r.height) * rows);
    describe(cy * cols + cx);
  });
  let kc = 0;
  canvas.addEventListener('keydown', (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    kc = Math.max(0, Math.min(n - 1, kc + step));
    describe(kc);
  });
  canvas.addEventListener('focus', () => describe(kc));
  return el('div', { class: 'map-wrap' }, canvas, tip);
}

// ---------------------------------------------------------------- errors

function renderError(e) {
  const tab = $('tab-error');
  const banner = $('error-banner');
  const dl = $('error-facts');
  dl.replaceChildren();
  tab.hidden = !e;
  banner.hidden = !e;
  if (!e) return;
  banner.replaceChildren(el('strong', {}, 'Decoding stopped: '), e.display);
  fact(dl, 'Error', e.message, 'error-message');
  fact(dl, 'Offset', `${fmtInt(e.offset)} (${hex(e.offset)})`, 'error-offset');
  fact(dl, 'Record', e.record ?? '—');
  fact(dl, 'Section', e.section || '—', 'error-section');
  fact(dl, 'Field path', e.path || '—', 'error-path');
}

// ---------------------------------------------------------------- tabs, input

function selectTab(id, focus = true) {
  for (const t of $('tabs').querySelectorAll('[role=tab]')) {
    const on = t.id === id;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) t.focus();
  }
}

function initTabs() {
  const tabs = () => [...$('tabs').querySelectorAll('[role=tab]')].filter((t) => !t.hidden);
  $('tabs').addEventListener('click', (e) => {
    const t = e.target.closest('[role=tab]');
    if (t) selectTab(t.id);
  });
  $('tabs').addEventListener('keydown', (e) => {
    const list = tabs();
    const i = list.indexOf(document.activeElement);
    if (i < 0) return;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: list.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    selectTab(list[(next + list.length) % list.length].id);
  });
}

function initInput() {
  const drop = $('drop');
  $('file').addEventListener('change', () => openFile($('file').files[0]));
  drop.addEventListener('click', () => $('file').click());
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file').click(); }
  });
  for (const t of ['dragenter', 'dragover']) {
    drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); });
  }
  for (const t of ['dragleave', 'drop']) {
    drop.addEventListener(t, () => drop.classList.remove('over'));
  }
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) openFile(f);
  });
  // a file dropped elsewhere must not navigate away from the page
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) openFile(f);
  });
  $('cancel').addEventListener('click', cancel);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && job && !$('hex').open) cancel(); });
}

function initDownloads() {
  const text = (s, type = 'application/json') => new Blob([s], { type });
  $('dl-state').addEventListener('click', () => download(text(current.state), `${stem(current.file.name)}.state.json`));
  $('dl-desc').addEventListener('click', () => current.desc && download(text(current.desc), `${stem(current.file.name)}.desc.json`));
  $('dl-summary').addEventListener('click', () =>
    download(text(JSON.stringify(current.summary, null, 4) + '\n'), `${stem(current.file.name)}.summary.json`));
}

initTabs();
initInput();
initDownloads();
$('search').addEventListener('input', onSearch);
$('expand-all').addEventListener('click', () => setAllOpen(true));
$('collapse-all').addEventListener('click', () => setAllOpen(false));
$('hex-close').addEventListener('click', () => $('hex').close());
newWorker();
document.body.dataset.state = 'idle';
