//! The decoding loop, independent of the platform: a [`Source`] is read
//! tail first (for the vmdesc), then forward in chunks through the core's
//! push [`Decoder`]. The browser's source is a `Blob` (see `lib.rs`); the
//! native benchmark harness (`examples/native.rs`) reads a file with the
//! very same code, so the two numbers compare like with like.

use qevm::analyze::{desc_json, StateJson};
use qevm::mapped_ram::ReadAt;
use qevm::summary::Summary;
use qevm::vmdesc::find_trailer;
use qevm::{Decoder, Tee, Visitor, VmDesc};
use serde_json::{json, Value as Json};

use crate::tree::Tree;

/// Devices a vmdesc may list (as many as the CLI accepts).
pub const DEVICES: usize = 2048;
/// The push decoder's buffer: the largest record that may straddle chunks.
pub const HOLD: usize = 16 << 20;
/// Bytes read and fed at a time.
pub const CHUNK: u64 = 16 << 20;
/// How much of the end of the file is searched for the vmdesc.
pub const TAIL: u64 = 16 << 20;

/// A parsed vmdesc.
pub type Desc<'d> = VmDesc<'d, DEVICES>;

/// Where the bytes come from: random access, read in ranges.
#[allow(async_fn_in_trait)]
pub trait Source {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads `start..end` into `out` (replacing its contents).
    async fn read(&mut self, start: u64, end: u64, out: &mut Vec<u8>) -> Result<(), String>;
    /// The next read will probably be `start..end`: start it early.
    fn prefetch(&mut self, _start: u64, _end: u64) {}
    /// Synchronous random access to the same bytes, where the platform
    /// has it: mapped-ram pages sit at fixed offsets ahead of the reading
    /// position, and an XBZRLE delta needs its page's earlier copy.
    fn random(&self) -> Option<Box<dyn ReadAt>> {
        None
    }
}

/// How to read a stream.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Bytes fed at a time.
    pub chunk_size: u64,
    /// Bytes of the end searched for the vmdesc.
    pub tail_size: u64,
    /// Target page size for streams that carry it neither in the vmdesc
    /// nor in the configuration.
    pub page_size: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            chunk_size: CHUNK,
            tail_size: TAIL,
            page_size: None,
        }
    }
}

/// A decoding error, flattened for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// Absolute byte offset.
    pub offset: u64,
    /// What went wrong (without the location).
    pub message: String,
    /// The top-level record kind, if known.
    pub record: Option<&'static str>,
    /// The section idstr, empty if none.
    pub section: String,
    /// The field path inside the section, empty if none.
    pub path: String,
    /// The core's full message (location included).
    pub display: String,
}

impl From<&qevm::Error> for ErrorInfo {
    fn from(e: &qevm::Error) -> Self {
        ErrorInfo {
            offset: e.offset,
            message: e.kind.to_string(),
            record: e.record.map(|r| r.name()),
            section: e.section.to_string(),
            path: e.path.to_string(),
            display: e.to_string(),
        }
    }
}

impl ErrorInfo {
    /// As JSON.
    pub fn to_json(&self) -> Json {
        json!({
            "offset": self.offset, "message": self.message, "record": self.record,
            "section": self.section, "path": self.path, "display": self.display,
        })
    }
}

/// A visitor that also wants to know where each chunk sits in the file.
pub trait Sink: Visitor {
    /// `chunk` (about to be fed) starts at absolute offset `base`.
    fn chunk(&mut self, _base: u64, _chunk: &[u8]) {}
}

impl<A: Visitor, B: Visitor> Sink for Tee<A, B> {}
impl Sink for qevm::Ignore {}

/// The vmdesc JSON of the source and the JSON's absolute offset.
pub async fn read_vmdesc<S: Source>(
    src: &mut S,
    opts: &Options,
) -> Result<Option<(Vec<u8>, u64)>, String> {
    let total = src.len();
    let start = total - total.min(opts.tail_size.max(16));
    let mut tail = Vec::new();
    src.read(start, total, &mut tail).await?;
    Ok(find_trailer(&tail).map(|(s, l)| {
        tail.truncate(s + l);
        tail.drain(..s);
        (tail, start + s as u64)
    }))
}

/// Parses the vmdesc; a malformed one is an error located in the file.
pub fn parse_vmdesc(json: &[u8], at: u64) -> Result<Desc<'_>, ErrorInfo> {
    VmDesc::parse(json).map_err(|e| {
        let offset = at + e.offset as u64;
        ErrorInfo {
            offset,
            message: format!("vmdesc: {e}"),
            record: Some("VMDESCRIPTION"),
            section: String::new(),
            path: String::new(),
            display: format!("at byte {offset} ({offset:#x}) in VMDESCRIPTION: vmdesc: {e}"),
        }
    })
}

/// Feeds the whole source through a decoder into the visitor that `make`
/// builds for the decoder's page size. Returns the visitor, the bytes
/// decoded, and the error that stopped decoding, if any (the visitor then
/// holds what came before it).
pub async fn pump<S: Source, V: Sink>(
    src: &mut S,
    opts: &Options,
    desc: Option<&Desc<'_>>,
    make: impl FnOnce(u64) -> V,
    mut progress: impl FnMut(u64, u64),
) -> Result<(V, u64, Option<qevm::Error>), String> {
    let total = src.len();
    let chunk_size = opts.chunk_size.clamp(1, 1 << 30);
    let mut random = src.random();
    let mut hold = vec![0u8; HOLD];
    let mut d = Decoder::new(desc, &mut hold);
    if let Some(p) = opts.page_size {
        d = d.with_page_size(p);
    }
    if let Some(r) = random.as_deref_mut() {
        d = d.with_source(r);
    }
    let mut v = make(d.page_size());
    let mut chunk = Vec::new();
    let mut pos = 0;
    progress(0, total);
    while pos < total {
        let end = (pos + chunk_size).min(total);
        src.read(pos, end, &mut chunk).await?;
        if end < total {
            src.prefetch(end, (end + chunk_size).min(total));
        }
        v.chunk(pos, &chunk);
        if let Err(e) = d.feed(&chunk, &mut v) {
            return Ok((v, pos, Some(e)));
        }
        pos = end;
        progress(pos, total);
    }
    let err = d.finish(&mut v).err();
    Ok((v, pos, err))
}

/// Everything the page shows about a stream.
pub struct Decoded {
    /// The summary (machine, RAM blocks, devices ...).
    pub summary: Summary,
    /// analyze-migration.py's `-d state` document.
    pub state: Json,
    /// The device tree with decoded values.
    pub tree: Json,
    /// The vmdesc JSON text, if the stream has one.
    pub vmdesc: Option<Vec<u8>>,
    /// What stopped decoding, if anything.
    pub error: Option<ErrorInfo>,
}

impl Decoded {
    /// analyze-migration.py's `-d desc` document, laid out like the CLI's.
    pub fn desc_text(&self) -> Option<String> {
        let v = desc_json(self.vmdesc.as_ref()?).ok()?;
        Some(pretty(&v))
    }

    /// The `-d state` document, laid out like the CLI's.
    pub fn state_text(&self) -> String {
        pretty(&self.state)
    }
}

/// JSON laid out like analyze-migration.py (and the CLI): 4-space indent,
/// a final newline.
pub fn pretty(v: &Json) -> String {
    use serde::Serialize as _;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = v.serialize(&mut ser);
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_default()
}

/// Decodes a whole source: summary, state document and device tree at once.
pub async fn decode<S: Source>(
    src: &mut S,
    opts: &Options,
    progress: impl FnMut(u64, u64),
) -> Result<Decoded, String> {
    let total = src.len();
    let vmdesc = read_vmdesc(src, opts).await?;
    let (desc, mut error) = match &vmdesc {
        Some((json, at)) => match parse_vmdesc(json, *at) {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let make = |page_size| {
        Tee(
            Summary::new(page_size),
            Tee(StateJson::new(false), Tree::default()),
        )
    };
    let (v, done, err) = pump(src, opts, desc.as_ref(), make, progress).await?;
    let Tee(mut summary, Tee(state, tree)) = v;
    summary.total_bytes = if err.is_some() { done } else { total };
    summary.finish();
    if let Some(e) = &err {
        error = Some(e.into());
    }
    drop(desc);
    Ok(Decoded {
        summary,
        state: state.into_json(),
        tree: tree.into_json(),
        vmdesc: vmdesc.map(|v| v.0),
        error,
    })
}
