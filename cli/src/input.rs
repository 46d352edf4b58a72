//! Reading a stream, from a regular file or from a pipe, into a [`Sink`].
//!
//! A regular file is read twice, cheaply: its tail first (the vmdesc sits
//! after the EOF record), then once forward in 256 KiB chunks through the
//! core's push decoder. A pipe or standard input (`-`) is read once: the
//! vmdesc arrives last (its bytes come with the decoder's `vmdesc` event),
//! so device sections are set aside as raw payloads (small) and decoded
//! when it has arrived. RAM pages are never kept, so memory stays bounded
//! whatever the stream's size.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use indicatif::{ProgressBar, ProgressStyle};
use qevm::mapped_ram::ReadAt;
use qevm::vmdesc::{find_trailer, FieldDesc};
use qevm::{
    decode_payload, Command, Configuration, Decoder, ErrorKind, Ignore, Path, RamBlock, RamPage,
    RecordKind, SectionHeader, Tee, Value, Visitor, VmDesc,
};

use crate::fail::Failure;
use crate::qcow2::{self, VmStateReader};

/// Devices a vmdesc may list.
pub const DEVICES: usize = 2048;
/// A parsed vmdesc.
pub type Desc<'d> = VmDesc<'d, DEVICES>;

/// Bytes read and fed at a time (small enough to stay in the L2 cache).
const CHUNK: usize = 256 << 10;
/// The largest vmdesc read (QEMU's are tens of KiB).
pub const VMDESC_MAX: usize = 16 << 20;
/// The push decoder's buffer: the largest record that may straddle chunks,
/// and large enough to hold the whole trailer of a vmdesc of `VMDESC_MAX`
/// bytes (type byte, length, JSON), whose bytes then come with the event.
const HOLD: usize = VMDESC_MAX + 5;
/// How much of a file's end is searched for the vmdesc: the first size,
/// then the second if the first does not hold it.
const TAILS: [u64; 2] = [1 << 20, HOLD as u64];
/// Inputs at least this large get a progress bar on a terminal.
const PROGRESS_MIN: u64 = 256 << 20;

/// A [`Visitor`] that also learns about device sections set aside while
/// reading from a pipe: their events come after the stream's end, once the
/// vmdesc is known, and `deferred` marks the place they had in the stream.
pub trait Sink: Visitor {
    /// Decoding begins with this target page size: the caller's, the
    /// vmdesc's or the default (the configuration may still change it;
    /// each [`RamPage`] carries the one in use).
    fn begin(&mut self, _page_size: u64) {}
    /// A device section was read at this point and set aside.
    fn deferred(&mut self, _section: &SectionHeader<'_>) {}
}

impl Sink for Ignore {}

impl<A: Sink, B: Sink> Sink for Tee<A, B> {
    fn begin(&mut self, page_size: u64) {
        self.0.begin(page_size);
        self.1.begin(page_size);
    }
    fn deferred(&mut self, s: &SectionHeader<'_>) {
        self.0.deferred(s);
        self.1.deferred(s);
    }
}

/// What the input layer learned besides the events.
#[derive(Debug)]
pub struct Decoded {
    /// The vmdesc JSON, if the stream has one.
    pub vmdesc: Option<Vec<u8>>,
    /// Bytes read.
    pub size: u64,
    /// The target page size the decoder used.
    pub page_size: u64,
}

/// An opened input.
enum Source {
    /// A regular file of known length.
    File(File, u64),
    /// Standard input, a FIFO or a device: read once, forward only.
    Stream(Box<dyn Read + Send>),
}

fn open(path: &str, opts: &Options) -> Result<Source, Failure> {
    let snapshot = opts.snapshot.as_deref();
    if path == "-" {
        if snapshot.is_some() {
            return Err(Failure::Unsupported(
                "--snapshot needs a qcow2 image file, not standard input".into(),
            ));
        }
        return Ok(Source::Stream(Box::new(io::stdin())));
    }
    let file = File::open(path).map_err(Failure::io(path))?;
    let meta = file.metadata().map_err(Failure::io(path))?;
    let qcow2 = meta.is_file() && qcow2::is_qcow2(&file);
    Ok(match (qcow2, snapshot) {
        (true, Some(name)) => Source::Stream(Box::new(VmStateReader::open(&file, path, name)?)),
        (true, None) => {
            return Err(Failure::Unsupported(format!(
                "{path} is a qcow2 image: choose a snapshot with --snapshot NAME \
                 (`qevm snapshots {path}` lists them)"
            )))
        }
        (false, Some(_)) => {
            return Err(Failure::Unsupported(format!(
                "{path}: --snapshot applies to qcow2 images only"
            )))
        }
        (false, None) if meta.is_file() => Source::File(file, meta.len()),
        (false, None) => Source::Stream(Box::new(file)),
    })
}

/// The name of input `path` read with `opts` in headings: the path, and
/// the snapshot if one is read.
pub fn label(path: &str, opts: &Options) -> String {
    match &opts.snapshot {
        Some(s) => format!("{} (snapshot {s})", display_name(path)),
        None => display_name(path).to_string(),
    }
}

/// The name to use for `path` in messages.
pub fn display_name(path: &str) -> &str {
    if path == "-" {
        "<stdin>"
    } else {
        path
    }
}

/// How to read inputs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The target page size, for streams that carry it neither in the
    /// configuration nor in a vmdesc read first (8192 on sparc64 and alpha
    /// when streaming).
    pub page_size: Option<u64>,
    /// The snapshot to read from a qcow2 image (name, else ID).
    pub snapshot: Option<String>,
}

impl Options {
    fn decoder<'v, 'd, 'b>(
        &self,
        desc: Option<&'v Desc<'d>>,
        hold: &'b mut [u8],
    ) -> Decoder<'v, 'd, 'b, DEVICES> {
        let d = Decoder::new(desc, hold);
        match self.page_size {
            Some(p) => d.with_page_size(p),
            None => d,
        }
    }
}

/// Decodes the stream at `path` (`-`: standard input) into `sink`.
pub fn decode<S: Sink>(path: &str, opts: &Options, sink: &mut S) -> Result<Decoded, Failure> {
    let name = display_name(path);
    match open(path, opts)? {
        Source::File(mut file, len) => {
            let vmdesc = tail_vmdesc(&mut file, len, name)?;
            let desc = match &vmdesc {
                Some((json, at)) => Some(parse_desc(json, *at, name)?),
                None => None,
            };
            file.seek(SeekFrom::Start(0)).map_err(Failure::io(name))?;
            let front = Front::new(sink, false);
            let mut at = FileAt::new(&file, name)?;
            let decoded = run(
                &mut file,
                Some(len),
                name,
                opts,
                desc.as_ref(),
                Some(&mut at),
                front,
            );
            // A read error looks like missing bytes to the decoder: it is
            // the cause to report.
            at.failed()?;
            let (_, size, page_size) = decoded?;
            drop(desc);
            Ok(Decoded {
                vmdesc: vmdesc.map(|v| v.0),
                size,
                page_size,
            })
        }
        Source::Stream(mut r) => stream(&mut r, name, opts, sink),
    }
}

/// The vmdesc JSON of the stream at `path`: a file's tail is enough; a
/// pipe is decoded to its end.
pub fn read_vmdesc(path: &str, opts: &Options) -> Result<Option<Vec<u8>>, Failure> {
    match open(path, opts)? {
        Source::File(mut file, len) => {
            Ok(tail_vmdesc(&mut file, len, display_name(path))?.map(|v| v.0))
        }
        Source::Stream(_) => Ok(decode(path, opts, &mut Ignore)?.vmdesc),
    }
}

/// Reads the end of a file and finds the vmdesc there: its JSON and the
/// JSON's absolute offset.
fn tail_vmdesc(file: &mut File, len: u64, name: &str) -> Result<Option<(Vec<u8>, u64)>, Failure> {
    for tail_len in TAILS {
        let n = len.min(tail_len);
        file.seek(SeekFrom::Start(len - n))
            .map_err(Failure::io(name))?;
        let mut tail = vec![0u8; n as usize];
        file.read_exact(&mut tail).map_err(Failure::io(name))?;
        if let Some((start, json_len)) = find_trailer(&tail) {
            tail.truncate(start + json_len);
            tail.drain(..start);
            return Ok(Some((tail, len - n + start as u64)));
        }
        if n == len {
            break;
        }
    }
    Ok(None)
}

/// Parses a vmdesc found at absolute offset `at`.
pub fn parse_desc<'d>(json: &'d [u8], at: u64, name: &str) -> Result<Desc<'d>, Failure> {
    Desc::parse(json).map_err(|e| {
        let mut error = qevm::Error::new(at + e.offset as u64, ErrorKind::Vmdesc(e));
        error.record = Some(RecordKind::VmDescription);
        Failure::decode(name, error)
    })
}

/// Decodes `r` (`total` bytes long if known, `name` in messages) through
/// `desc` if known into `front`; returns it, the bytes read and the page
/// size the decoder ended with.
fn run<'s, S: Sink>(
    r: &mut dyn Input,
    total: Option<u64>,
    name: &str,
    opts: &Options,
    desc: Option<&Desc<'_>>,
    source: Option<&mut dyn ReadAt>,
    mut front: Front<'s, S>,
) -> Result<(Front<'s, S>, u64, u64), Failure> {
    let mut hold = vec![0u8; HOLD];
    let mut d = opts.decoder(desc, &mut hold);
    if let Some(source) = source {
        d = d.with_source(source);
    }
    front.sink.begin(d.page_size());
    let size = pump(r, total, name, |step| {
        match step {
            Step::Chunk(chunk) => d
                .feed(chunk, &mut front)
                .map_err(|e| Failure::decode(name, e))?,
            Step::Jumped(to) => d.skip_to(to),
        }
        Ok(d.skipping_to().filter(|&to| to - d.offset() >= JUMP_MIN))
    })?;
    d.finish(&mut front).map_err(|e| Failure::decode(name, e))?;
    front.live();
    front.trailer(name)?;
    let page_size = d.page_size();
    Ok((front, size, page_size))
}

/// Random access to a regular file, for the decoder to read mapped-ram
/// pages and for the qcow2 reader. `ReadAt` can only say "not there", so
/// the first I/O error is kept for [`FileAt::failed`] and
/// [`FileAt::io_error`], which callers report instead.
pub struct FileAt {
    file: File,
    len: u64,
    buf: Vec<u8>,
    name: String,
    error: Option<io::Error>,
}

impl FileAt {
    pub fn new(file: &File, name: &str) -> Result<Self, Failure> {
        let file = file.try_clone().map_err(Failure::io(name))?;
        Ok(FileAt {
            len: file.metadata().map_err(Failure::io(name))?.len(),
            file,
            buf: Vec::new(),
            name: name.to_string(),
            error: None,
        })
    }

    /// The first I/O error a read met, if any, as a failure.
    pub fn failed(&mut self) -> Result<(), Failure> {
        match self.io_error() {
            Some(e) => Err(Failure::io(&self.name)(e)),
            None => Ok(()),
        }
    }

    /// The first I/O error a read met, if any.
    pub fn io_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}

impl ReadAt for FileAt {
    fn read_at(&mut self, offset: u64, len: usize) -> Option<&[u8]> {
        self.buf.resize(len, 0);
        match self.file.read_exact_at(&mut self.buf, offset) {
            Ok(()) => Some(&self.buf),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => None,
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
    fn size(&mut self) -> u64 {
        self.len
    }
}

/// Bytes the decoder passes over that are worth a seek instead of reads.
const JUMP_MIN: u64 = 1 << 20;

/// What the pump reads: forward, and a regular file also by seeking ahead.
pub trait Input: Read {
    /// Moves to absolute offset `to`; `None` if the input cannot seek.
    fn jump(&mut self, _to: u64) -> Option<io::Result<()>> {
        None
    }
}

impl Input for File {
    fn jump(&mut self, to: u64) -> Option<io::Result<()>> {
        Some(self.seek(SeekFrom::Start(to)).map(drop))
    }
}

impl Input for Box<dyn Read + Send> {}

/// What the pump hands the decoder.
enum Step<'c> {
    /// The next bytes.
    Chunk(&'c [u8]),
    /// The input moved ahead to this offset (which the decoder asked for).
    Jumped(u64),
}

/// Reads `r` to its end in chunks, handing each to `feed`, which may ask
/// to jump ahead to an offset (over bytes it would not read); returns the
/// bytes consumed.
fn pump(
    r: &mut dyn Input,
    total: Option<u64>,
    name: &str,
    mut feed: impl FnMut(Step<'_>) -> Result<Option<u64>, Failure>,
) -> Result<u64, Failure> {
    let mut progress = Progress::new(total);
    let mut chunk = vec![0u8; CHUNK];
    let mut at = 0u64;
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(at),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::io(name)(e)),
        };
        let mut ahead = feed(Step::Chunk(&chunk[..n]))?;
        at += n as u64;
        while let Some(to) = ahead {
            match r.jump(to) {
                Some(Ok(())) => {
                    at = to;
                    ahead = feed(Step::Jumped(to))?;
                }
                Some(Err(e)) => return Err(Failure::io(name)(e)),
                None => break,
            }
        }
        progress.advance(at);
    }
}

/// A progress bar on standard error, for large inputs on a terminal only.
struct Progress {
    bar: Option<ProgressBar>,
    total: Option<u64>,
    tty: bool,
}

impl Progress {
    fn new(total: Option<u64>) -> Self {
        let tty = io::stderr().is_terminal();
        let mut p = Progress {
            bar: None,
            total,
            tty,
        };
        if let Some(len) = total.filter(|&t| tty && t >= PROGRESS_MIN) {
            let bar = ProgressBar::new(len);
            let style = ProgressStyle::with_template(
                "{bytes}/{total_bytes} {wide_bar} {binary_bytes_per_sec} eta {eta}",
            );
            bar.set_style(style.unwrap_or_else(|_| ProgressStyle::default_bar()));
            p.bar = Some(bar);
        }
        p
    }

    /// `done` bytes have been read. A pipe of unknown length gets a byte
    /// counter once it passes the size threshold.
    fn advance(&mut self, done: u64) {
        if self.bar.is_none() && self.tty && self.total.is_none() && done >= PROGRESS_MIN {
            let bar = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}");
            bar.set_style(style.unwrap_or_else(|_| ProgressStyle::default_spinner()));
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A section header that outlives its event.
#[derive(Debug, Clone)]
struct OwnedHeader {
    kind: RecordKind,
    section_id: u32,
    name: Vec<u8>,
    instance_id: u32,
    version_id: u32,
    offset: u64,
}

impl OwnedHeader {
    fn of(h: &SectionHeader<'_>) -> Self {
        OwnedHeader {
            kind: h.kind,
            section_id: h.section_id,
            name: h.name.to_vec(),
            instance_id: h.instance_id,
            version_id: h.version_id,
            offset: h.offset,
        }
    }

    fn view(&self) -> SectionHeader<'_> {
        SectionHeader {
            kind: self.kind,
            section_id: self.section_id,
            name: &self.name,
            instance_id: self.instance_id,
            version_id: self.version_id,
            offset: self.offset,
        }
    }
}

/// A device section set aside until the vmdesc arrives.
struct Kept {
    header: OwnedHeader,
    payload: Vec<u8>,
}

/// Stands between the decoder and the sink. It passes the events on and
/// takes the vmdesc trailer's bytes from its event. When `defer` is set
/// (a vmdesc-less decoder, reading a pipe), device sections reported raw
/// are kept for [`replay`] instead: a section's start is held back until
/// its next event shows whether it is raw.
struct Front<'s, S: Sink> {
    sink: &'s mut S,
    defer: bool,
    pending: Option<OwnedHeader>,
    raw: Option<Kept>,
    kept: Vec<Kept>,
    /// The vmdesc JSON's offset, once seen, and its bytes (kept only when
    /// `defer` is set).
    json_at: Option<u64>,
    json: Option<Vec<u8>>,
    /// A vmdesc too large for the decoder's buffer: offset and length.
    passed_over: Option<(u64, u32)>,
}

impl<'s, S: Sink> Front<'s, S> {
    fn new(sink: &'s mut S, defer: bool) -> Self {
        Front {
            sink,
            defer,
            pending: None,
            raw: None,
            kept: Vec::new(),
            json_at: None,
            json: None,
            passed_over: None,
        }
    }

    /// The sink, after it has seen any section start held back.
    fn live(&mut self) -> &mut S {
        if let Some(h) = self.pending.take() {
            self.sink.section_start(&h.view());
        }
        self.sink
    }

    /// Fails if the stream ended with a vmdesc the decoder could not hold.
    fn trailer(&self, name: &str) -> Result<(), Failure> {
        match self.passed_over {
            Some((at, len)) => {
                let kind = ErrorKind::RecordTooLarge {
                    needed: len as u64 + 5,
                    capacity: HOLD,
                };
                let mut e = qevm::Error::new(at.saturating_sub(5), kind);
                e.record = Some(RecordKind::VmDescription);
                Err(Failure::decode(name, e))
            }
            None => Ok(()),
        }
    }
}

impl<S: Sink> Visitor for Front<'_, S> {
    fn header(&mut self, version: u32) {
        self.live().header(version)
    }
    fn configuration(&mut self, config: &Configuration<'_>) {
        self.live().configuration(config)
    }
    fn section_start(&mut self, section: &SectionHeader<'_>) {
        self.live();
        if self.defer {
            self.pending = Some(OwnedHeader::of(section));
        } else {
            self.sink.section_start(section);
        }
    }
    fn value(&mut self, p: &Path<'_, '_>, f: &FieldDesc<'_>, v: &Value<'_>) {
        self.live().value(p, f, v)
    }
    fn struct_start(&mut self, p: &Path<'_, '_>, f: &FieldDesc<'_>) {
        self.live().struct_start(p, f)
    }
    fn struct_end(&mut self, p: &Path<'_, '_>, f: &FieldDesc<'_>) {
        self.live().struct_end(p, f)
    }
    fn subsection_start(&mut self, p: &Path<'_, '_>, name: &[u8], version: u32) {
        self.live().subsection_start(p, name, version)
    }
    fn subsection_end(&mut self, p: &Path<'_, '_>, name: &[u8]) {
        self.live().subsection_end(p, name)
    }
    fn raw_payload(&mut self, section: &SectionHeader<'_>, payload: &[u8]) {
        match self.pending.take() {
            Some(header) => {
                self.raw = Some(Kept {
                    header,
                    payload: payload.to_vec(),
                })
            }
            None => self.sink.raw_payload(section, payload),
        }
    }
    fn section_end(&mut self, section: &SectionHeader<'_>, end: u64) {
        match self.raw.take() {
            Some(k) => {
                self.sink.deferred(&k.header.view());
                self.kept.push(k);
            }
            None => self.live().section_end(section, end),
        }
    }
    fn footer(&mut self, section_id: u32) {
        self.live().footer(section_id)
    }
    fn ram_block(&mut self, block: &RamBlock<'_>) {
        self.live().ram_block(block)
    }
    fn ram_page(&mut self, page: &RamPage<'_>) {
        self.live().ram_page(page)
    }
    fn ram_flush(&mut self) {
        self.live().ram_flush()
    }
    fn skipped(&mut self, what: &[u8], offset: u64, len: u64) {
        self.live().skipped(what, offset, len)
    }
    fn command(&mut self, command: &Command<'_>) {
        self.live().command(command)
    }
    fn package_start(&mut self, len: u32) {
        self.live().package_start(len)
    }
    fn package_end(&mut self) {
        self.live().package_end()
    }
    fn eof(&mut self) {
        self.live().eof()
    }
    fn vmdesc(&mut self, offset: u64, len: u32, json: Option<&[u8]>) {
        self.live().vmdesc(offset, len, json);
        self.json_at = Some(offset);
        match json {
            Some(j) if self.defer => self.json = Some(j.to_vec()),
            Some(_) => {}
            None => self.passed_over = Some((offset, len)),
        }
    }
}

/// Decodes a forward-only stream: device sections are kept raw until the
/// vmdesc at the end is known, then decoded in stream order.
fn stream<S: Sink>(
    r: &mut dyn Input,
    name: &str,
    opts: &Options,
    sink: &mut S,
) -> Result<Decoded, Failure> {
    let (front, size, page_size) = run(r, None, name, opts, None, None, Front::new(sink, true))?;
    let Front {
        sink,
        kept,
        json_at,
        json,
        ..
    } = front;
    let desc = match (&json, json_at) {
        (Some(json), Some(at)) => Some(parse_desc(json, at, name)?),
        _ => None,
    };
    for k in &kept {
        replay(k, desc.as_ref(), name, sink)?;
    }
    drop(desc);
    Ok(Decoded {
        vmdesc: json,
        size,
        page_size,
    })
}

/// Sends a kept device section's events: decoded through the vmdesc when
/// it describes the section, raw otherwise (as a file decode would).
fn replay<S: Sink>(
    k: &Kept,
    desc: Option<&Desc<'_>>,
    name: &str,
    sink: &mut S,
) -> Result<(), Failure> {
    let h = k.header.view();
    if let Some(desc) = desc {
        // It sends no events when it fails, and falls back to raw itself
        // where a file decode would.
        match decode_payload(desc, &h, &k.payload, sink) {
            Err(e) if e.kind == ErrorKind::Unframeable => {}
            r => return r.map_err(|e| Failure::decode(name, e)),
        }
    }
    sink.section_start(&h);
    sink.raw_payload(&h, &k.payload);
    sink.section_end(&h, h.payload_offset() + k.payload.len() as u64);
    Ok(())
}
