//! WebAssembly bindings of qevm for the static page in `web/`.
//!
//! A thin facade: the decoding is the core's push [`qevm::Decoder`], the
//! summary is [`qevm::summary::Summary`], the state document is
//! [`qevm::analyze::StateJson`]. This crate reads a `Blob` (the dropped
//! `File`) in chunks with `Blob.slice().arrayBuffer()`, tail first for the
//! vmdesc, so memory stays bounded whatever the stream's size; the
//! decoder, the vmdesc and its buffer live in the `async fn`'s state across
//! the awaits.
//!
//! JavaScript API (see `web/worker.js`):
//! - `decode_file(blob, options, on_progress)` resolves to
//!   `{summary, state, desc, tree, error}`: JSON texts (`desc` and `error`
//!   may be `null`); `state` and `desc` are what the CLI writes
//!   (analyze-migration.py `-d state` / `-d desc`).
//! - `extract_block(blob, name, options, on_progress)` resolves to a `Blob`
//!   holding the RAM block's raw image.
//! - `list_snapshots(blob)`: the savevm snapshots of a qcow2 image (JSON
//!   text), `null` for other files; `snapshot_blob(blob, name)`: one
//!   snapshot's VM state as a `Blob`, which the two above then decode.
//!   Both read synchronously (`FileReaderSync`), so they need a worker.
//!
//! `options` is an object or `undefined`: `{chunkSize, tailSize, pageSize}`.

pub mod extract;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod run;
pub mod snapshot;
pub mod tree;

use std::collections::{HashMap, VecDeque};

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use qevm::mapped_ram::ReadAt;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, FileReaderSync};

use crate::extract::{Collect, Run};
use crate::run::{Options, Source};

fn js_err(v: JsValue) -> String {
    v.as_string()
        .or_else(|| {
            v.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{v:?}"))
}

/// A `Blob` read in ranges, the next ones requested while the current one
/// is decoded (Chromium reads a file faster with a few reads in flight).
struct BlobSource {
    blob: Blob,
    len: u64,
    pending: VecDeque<(u64, u64, JsFuture)>,
    /// Time spent waiting for reads, in milliseconds.
    wait_ms: f64,
}

/// Reads in flight while decoding.
const READ_AHEAD: usize = 3;

impl BlobSource {
    fn new(blob: Blob) -> Self {
        let len = blob.size() as u64;
        BlobSource {
            blob,
            len,
            pending: VecDeque::new(),
            wait_ms: 0.0,
        }
    }

    fn start(&self, start: u64, end: u64) -> Result<JsFuture, String> {
        let part = self
            .blob
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(js_err)?;
        Ok(JsFuture::from(part.array_buffer()))
    }
}

impl Source for BlobSource {
    fn len(&self) -> u64 {
        self.len
    }

    async fn read(&mut self, start: u64, end: u64, out: &mut Vec<u8>) -> Result<(), String> {
        let fut = match self.pending.pop_front() {
            Some((s, e, f)) if s == start && e == end => f,
            _ => {
                self.pending.clear();
                self.start(start, end)?
            }
        };
        let t0 = js_sys::Date::now();
        let buf = fut
            .await
            .map_err(|e| format!("reading bytes {start}..{end}: {}", js_err(e)))?;
        self.wait_ms += js_sys::Date::now() - t0;
        let arr = Uint8Array::new(&buf);
        out.resize(arr.length() as usize, 0);
        arr.copy_to(out);
        Ok(())
    }

    fn random(&self) -> Option<Box<dyn ReadAt>> {
        Some(Box::new(BlobAt::new(&self.blob)?))
    }

    fn prefetch(&mut self, start: u64, end: u64) {
        let step = end - start;
        let mut next = match self.pending.back() {
            Some(&(_, e, _)) => e,
            None => start,
        };
        while self.pending.len() < READ_AHEAD && next < self.len && step > 0 {
            let e = (next + step).min(self.len);
            match self.start(next, e) {
                Ok(f) => self.pending.push_back((next, e, f)),
                Err(_) => break,
            }
            next = e;
        }
    }
}

/// Synchronous reads of a `Blob`: `FileReaderSync`, which only workers
/// have (the page decodes in one).
struct BlobAt {
    blob: Blob,
    len: u64,
    reader: FileReaderSync,
    buf: Vec<u8>,
}

impl BlobAt {
    /// `None` outside a worker, where the FileReaderSync constructor throws.
    fn new(blob: &Blob) -> Option<Self> {
        Some(BlobAt {
            blob: blob.clone(),
            len: blob.size() as u64,
            reader: FileReaderSync::new().ok()?,
            buf: Vec::new(),
        })
    }
}

impl ReadAt for BlobAt {
    fn read_at(&mut self, offset: u64, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len as u64).filter(|&e| e <= self.len)?;
        let part = self
            .blob
            .slice_with_f64_and_f64(offset as f64, end as f64)
            .ok()?;
        let bytes = Uint8Array::new(&self.reader.read_as_array_buffer(&part).ok()?.into());
        self.buf.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut self.buf);
        (self.buf.len() == len).then_some(&self.buf[..])
    }
    fn size(&mut self) -> u64 {
        self.len
    }
}

fn options(v: &JsValue) -> Options {
    let mut o = Options::default();
    if !v.is_object() {
        return o;
    }
    let num = |k: &str| {
        Reflect::get(v, &JsValue::from_str(k))
            .ok()
            .and_then(|x| x.as_f64())
            .filter(|x| x.is_finite() && *x >= 1.0)
            .map(|x| x as u64)
    };
    if let Some(n) = num("chunkSize") {
        o.chunk_size = n;
    }
    if let Some(n) = num("tailSize") {
        o.tail_size = n;
    }
    o.page_size = num("pageSize");
    o
}

fn progress_fn(f: Option<Function>) -> impl FnMut(u64, u64) {
    move |done, total| {
        if let Some(f) = &f {
            let _ = f.call2(
                &JsValue::NULL,
                &JsValue::from_f64(done as f64),
                &JsValue::from_f64(total as f64),
            );
        }
    }
}

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), &v);
}

fn opt_str(s: Option<String>) -> JsValue {
    s.map(JsValue::from).unwrap_or(JsValue::NULL)
}

/// Decodes a whole stream; see the crate documentation.
#[wasm_bindgen]
pub async fn decode_file(
    file: Blob,
    options_obj: JsValue,
    on_progress: Option<Function>,
) -> Result<JsValue, JsValue> {
    let opts = options(&options_obj);
    let mut src = BlobSource::new(file);
    let d = run::decode(&mut src, &opts, progress_fn(on_progress))
        .await
        .map_err(|e| JsValue::from_str(&e))?;
    let o = Object::new();
    set(&o, "summary", d.summary.to_json().to_string().into());
    set(&o, "state", d.state_text().into());
    set(&o, "desc", opt_str(d.desc_text()));
    set(&o, "tree", d.tree.to_string().into());
    set(&o, "readWaitMs", JsValue::from_f64(src.wait_ms));
    set(
        &o,
        "error",
        opt_str(d.error.as_ref().map(|e| e.to_json().to_string())),
    );
    Ok(o.into())
}

/// Bytes of the shared fill buffers that runs are sliced from.
const FILL: u64 = 1 << 20;

/// Builds the `Blob` of a RAM block image: slices of `file` for PAGE
/// entries, shared 1 MiB fill blobs for ZERO entries and unsent pages.
fn image(file: &Blob, runs: &[Run], copies: &[Vec<u8>]) -> Result<Blob, JsValue> {
    let parts = Array::new();
    let mut fills: HashMap<u8, Blob> = HashMap::new();
    for &run in runs {
        match run {
            Run::File { at, len } => {
                parts.push(
                    &file
                        .slice_with_f64_and_f64(at as f64, (at + len) as f64)?
                        .into(),
                );
            }
            Run::Fill { byte, mut len } => {
                let fill = match fills.get(&byte) {
                    Some(b) => b.clone(),
                    None => {
                        let bytes = Uint8Array::new_with_length(FILL as u32);
                        bytes.fill(byte, 0, FILL as u32);
                        let b = Blob::new_with_u8_array_sequence(&Array::of1(&bytes))?;
                        fills.insert(byte, b.clone());
                        b
                    }
                };
                while len > 0 {
                    let n = len.min(FILL);
                    let part = if n == FILL {
                        fill.clone()
                    } else {
                        fill.slice_with_f64_and_f64(0.0, n as f64)?
                    };
                    parts.push(&part.into());
                    len -= n;
                }
            }
            Run::Copy { index, len } => {
                let bytes = &copies[index as usize];
                parts.push(&Uint8Array::from(&bytes[..(len as usize).min(bytes.len())]));
            }
        }
    }
    let bag = BlobPropertyBag::new();
    bag.set_type("application/octet-stream");
    Blob::new_with_blob_sequence_and_options(&parts, &bag)
}

/// The raw image of RAM block `name` (a second pass over the file).
#[wasm_bindgen]
pub async fn extract_block(
    file: Blob,
    name: String,
    options_obj: JsValue,
    on_progress: Option<Function>,
) -> Result<Blob, JsValue> {
    let opts = options(&options_obj);
    let mut src = BlobSource::new(file.clone());
    let fail = |e: String| JsValue::from_str(&e);
    let vmdesc = run::read_vmdesc(&mut src, &opts).await.map_err(fail)?;
    let desc = match &vmdesc {
        Some((json, at)) => Some(run::parse_vmdesc(json, *at).map_err(|e| fail(e.display))?),
        None => None,
    };
    let file_at = src.random();
    let make = |ps| Collect::new(name.as_bytes(), ps, file_at);
    let (c, _, err) = run::pump(
        &mut src,
        &opts,
        desc.as_ref(),
        make,
        progress_fn(on_progress),
    )
    .await
    .map_err(fail)?;
    if let Some(e) = err {
        return Err(fail(e.to_string()));
    }
    let pages = c.finish();
    if !pages.found {
        return Err(fail(format!("no RAM block named '{name}'")));
    }
    if let Some(why) = &pages.unsupported {
        return Err(fail(why.clone()));
    }
    image(&file, &pages.runs(), &pages.copies)
}

/// Synchronous random access to `file`: workers only.
fn blob_at(file: &Blob) -> Result<BlobAt, JsValue> {
    BlobAt::new(file)
        .ok_or_else(|| JsValue::from_str("qcow2 images are read in a worker (FileReaderSync)"))
}

/// The savevm snapshots of a qcow2 image (JSON text: the `snapshots` array
/// of `qemu-img info --output=json`), or `null` if `file` is not qcow2.
#[wasm_bindgen]
pub fn list_snapshots(file: Blob) -> Result<JsValue, JsValue> {
    let mut at = blob_at(&file)?;
    if !at.read_at(0, 4).is_some_and(qevm::qcow2::is_qcow2) {
        return Ok(JsValue::NULL);
    }
    let list = snapshot::list(&mut at).map_err(|e| JsValue::from_str(&e))?;
    Ok(serde_json::Value::Array(list).to_string().into())
}

/// The VM state of snapshot `name` (or ID) of a qcow2 image, as a `Blob`
/// made of slices of `file` (plain clusters), fills and inflated clusters.
#[wasm_bindgen]
pub fn snapshot_blob(file: Blob, name: String) -> Result<Blob, JsValue> {
    let mut at = blob_at(&file)?;
    let (runs, copies) = snapshot::runs(&mut at, &name).map_err(|e| JsValue::from_str(&e))?;
    image(&file, &runs, &copies)
}

/// The crate's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}
