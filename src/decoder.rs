//! The stream driver: one state machine over records, with two front ends
//! that give identical events. [`Decoder::feed`] takes chunks of any size
//! (push); [`decode`] takes the whole stream (slice). A record that
//! straddles chunks is completed in the caller's buffer; everything else,
//! RAM pages included, is reported straight from the input.

use crate::command;
use crate::configuration;
use crate::cursor::{Cursor, Parsed, Stop};
use crate::error::{write_capped, Error, ErrorKind, Limit, RecordKind, SECTION_TEXT};
use crate::iterative::{self, Step};
use crate::mapped_ram::{self, ReadAt};
use crate::ram::{self, Blocks, Entry, TableFlags};
use crate::section::{self, FOOTER};
use crate::state::{frame, walk};
use crate::visitor::{RamBlock, RamPage, SectionHeader, Visitor};
use crate::vmdesc::{find_trailer, VmDesc, DEFAULT_DEVICES};
use crate::Limits;

const MAGIC: u32 = 0x5145_564d;
/// Iterative sections open at once that the decoder tracks.
pub const MAX_OPEN_SECTIONS: usize = 16;
/// PACKAGED streams nested inside each other that the decoder follows.
pub const MAX_PACKAGE_DEPTH: usize = 4;
/// Page size used when neither the vmdesc nor the configuration gives one.
pub const DEFAULT_PAGE_SIZE: u64 = 4096;

/// The iterative payload formats the decoder knows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Iter {
    Ram,
    Htab,
    Stattr,
}

/// An iterative section announced by SECTION_START.
struct Open {
    id: u32,
    iter: Iter,
    name: heapless::Vec<u8, 64>,
    instance_id: u32,
    version_id: u32,
}

/// Where the decoder is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Header,
    Top,
    /// Inside the payload of open section `slot`, started by `kind`.
    Payload {
        slot: usize,
        kind: RecordKind,
        at: u64,
    },
    /// spapr/htab PART/END chunks.
    HtabChunks {
        slot: usize,
        kind: RecordKind,
        at: u64,
    },
    /// A RAM block table with `left` bytes of blocks to come.
    Blocks {
        slot: usize,
        kind: RecordKind,
        at: u64,
        total: u64,
        left: u64,
    },
    /// Bytes to pass over up to absolute offset `until`, then `resume`.
    Skip {
        until: u64,
    },
    /// After the top-level EOF: the vmdesc trailer or the end.
    Trailer,
    Done,
}

impl State {
    /// Inside a RAM block table with `left` of its `total` bytes to come,
    /// or back in the RAM payload once none are left.
    fn table(slot: usize, kind: RecordKind, at: u64, total: u64, left: u64) -> State {
        if left == 0 {
            State::Payload { slot, kind, at }
        } else {
            State::Blocks {
                slot,
                kind,
                at,
                total,
                left,
            }
        }
    }
}

/// A push decoder. `buf` holds a record that straddles chunks; it must be
/// as large as the largest record (device section, RAM page, command), and
/// memory use does not grow with the stream.
pub struct Decoder<'v, 'd, 'b, const N: usize = DEFAULT_DEVICES> {
    desc: Option<&'v VmDesc<'d, N>>,
    buf: &'b mut [u8],
    capacity: u64,
    held: usize,
    need: u64,
    offset: u64,
    state: State,
    resume: State,
    page_size: u64,
    /// Whether `page_size` came from the vmdesc or the caller, which the
    /// configuration's target-page-bits then does not override.
    page_size_known: bool,
    limits: Limits,
    table: TableFlags,
    open: heapless::Vec<Open, MAX_OPEN_SECTIONS>,
    last_section: Option<u32>,
    blocks: Blocks,
    packages: heapless::Vec<u64, MAX_PACKAGE_DEPTH>,
    failed: Option<Error>,
    ctx_record: Option<RecordKind>,
    ctx_section: heapless::String<{ crate::error::SECTION_TEXT }>,
    ctx_path: heapless::String<{ crate::error::PATH_TEXT }>,
    /// Random access to the stream, for mapped-ram pages.
    source: Option<&'b mut dyn ReadAt>,
}

/// Decodes a whole stream held in memory. The vmdesc is looked up at the
/// stream's end and used if present; device payloads stay raw without it.
pub fn decode<V: Visitor>(stream: &[u8], visitor: &mut V) -> Result<(), Error> {
    let desc = match find_trailer(stream) {
        Some((start, len)) => Some(
            VmDesc::<DEFAULT_DEVICES>::parse(&stream[start..start + len]).map_err(|e| {
                let mut err = Error::new(start as u64 + e.offset as u64, ErrorKind::Vmdesc(e));
                err.record = Some(RecordKind::VmDescription);
                err
            })?,
        ),
        None => None,
    };
    decode_with(stream, desc.as_ref(), visitor)
}

/// Decodes a whole stream held in memory with a given vmdesc (or none).
pub fn decode_with<V: Visitor, const N: usize>(
    stream: &[u8],
    desc: Option<&VmDesc<'_, N>>,
    visitor: &mut V,
) -> Result<(), Error> {
    let mut source = stream;
    let mut d = Decoder::new(desc, &mut []).with_source(&mut source);
    d.run(stream, true, visitor)?;
    d.finish(visitor)
}

/// Decodes one device section payload that a decoder without a vmdesc
/// reported raw ([`Visitor::raw_payload`]), now that the vmdesc is known:
/// a pipe reader keeps the (small) device payloads and decodes them once
/// the trailer has arrived. Offsets in errors and events count from
/// `header.offset`, as in the stream.
pub fn decode_payload<V: Visitor, const N: usize>(
    desc: &VmDesc<'_, N>,
    header: &SectionHeader<'_>,
    payload: &[u8],
    visitor: &mut V,
) -> Result<(), Error> {
    let payload_offset = header.payload_offset();
    let fail = |at: u64, kind: ErrorKind, path: &str| {
        let mut e = Error::new(at, kind);
        e.record = Some(header.kind);
        e.section = section_text(header.name);
        write_capped(&mut e.path, format_args!("{path}"));
        e
    };
    let Some(dev) = desc.device(header.name, header.instance_id) else {
        return Err(fail(payload_offset, ErrorKind::Unframeable, ""));
    };
    let sd = desc.device_struct(dev);
    let end = payload_offset + payload.len() as u64;
    match frame(payload, desc.json(), header.name, &sd, Limits::default()) {
        Ok(used) if used == payload.len() => {}
        Ok(used) => {
            return Err(fail(
                payload_offset + used as u64,
                ErrorKind::TrailingData,
                "",
            ))
        }
        // As in a whole-stream decode: old QEMU's loose pointer-array
        // description leaves the payload raw.
        Err((
            Stop::Fail {
                kind: ErrorKind::UndescribedElement,
                ..
            },
            _,
        )) => {
            visitor.section_start(header);
            visitor.raw_payload(header, payload);
            visitor.section_end(header, end);
            return Ok(());
        }
        Err((Stop::Need(n), path)) => {
            let kind = ErrorKind::Truncated {
                needed: n.saturating_sub(payload.len() as u64).max(1),
            };
            return Err(fail(end, kind, &path));
        }
        Err((Stop::Fail { at, kind }, path)) => {
            return Err(fail(payload_offset + at as u64, kind, &path))
        }
    }
    visitor.section_start(header);
    walk(
        payload,
        desc.json(),
        header.name,
        &sd,
        Limits::default(),
        visitor,
    );
    visitor.section_end(header, end);
    Ok(())
}

impl<'v, 'd, 'b, const N: usize> Decoder<'v, 'd, 'b, N> {
    /// A decoder using `desc` for device sections (none: payloads stay raw)
    /// and `buf` for records that straddle chunks.
    pub fn new(desc: Option<&'v VmDesc<'d, N>>, buf: &'b mut [u8]) -> Self {
        Decoder {
            desc,
            capacity: if buf.is_empty() {
                u64::MAX
            } else {
                buf.len() as u64
            },
            buf,
            held: 0,
            need: 0,
            offset: 0,
            state: State::Header,
            resume: State::Done,
            page_size: desc
                .and_then(|d| d.page_size())
                .unwrap_or(DEFAULT_PAGE_SIZE),
            page_size_known: desc.and_then(|d| d.page_size()).is_some(),
            limits: Limits::default(),
            table: TableFlags::default(),
            open: heapless::Vec::new(),
            last_section: None,
            blocks: Blocks::default(),
            packages: heapless::Vec::new(),
            failed: None,
            ctx_record: Some(RecordKind::Header),
            ctx_section: heapless::String::new(),
            ctx_path: heapless::String::new(),
            source: None,
        }
    }

    /// Gives the decoder random access to the whole stream, so that it
    /// reports the pages of mapped-ram blocks, which sit at fixed file
    /// offsets ahead of the stream position. Without it (a pipe) their
    /// regions are passed over unread ([`Visitor::skipped`]). The slice
    /// front end always has it.
    pub fn with_source(mut self, source: &'b mut dyn ReadAt) -> Self {
        self.source = Some(source);
        self
    }

    /// Sets the target page size for streams that carry it neither in a
    /// vmdesc nor in the configuration (it is the target's: 8192 on sparc64
    /// and alpha, 4096 on most others). A value that is not a power of two
    /// of at least 512 is ignored.
    pub fn with_page_size(mut self, page_size: u64) -> Self {
        if page_size.is_power_of_two() && page_size >= 512 {
            self.page_size = page_size;
            self.page_size_known = true;
        }
        self
    }

    /// Applies lower limits to the device-state walk (the vmdesc's JSON
    /// depth is set when it is parsed, with [`VmDesc::parse_with`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Bytes consumed so far (the offset of the next unread byte).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The target page size in use.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The absolute offset up to which the decoder is passing over bytes it
    /// does not read (a mapped-ram region, a vmdesc larger than the
    /// buffer), if it is doing so now. A caller that can seek may jump
    /// there with [`Decoder::skip_to`] instead of feeding those bytes.
    pub fn skipping_to(&self) -> Option<u64> {
        match self.state {
            State::Skip { until } if self.held == 0 => Some(until),
            _ => None,
        }
    }

    /// Continues at absolute offset `to`, as if the bytes up to it had
    /// been fed; only inside the region [`Decoder::skipping_to`] reports
    /// (anything else is ignored).
    pub fn skip_to(&mut self, to: u64) {
        if let Some(until) = self
            .skipping_to()
            .filter(|&u| (self.offset..=u).contains(&to))
        {
            self.offset = to;
            if to == until {
                self.state = self.resume;
            }
        }
    }

    /// Feeds the next chunk of the stream.
    pub fn feed<V: Visitor>(&mut self, chunk: &[u8], visitor: &mut V) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut pos = 0;
        while pos < chunk.len() {
            if self.held == 0 {
                pos += self.run(&chunk[pos..], false, visitor)?;
                let rest = &chunk[pos..];
                if !rest.is_empty() {
                    self.hold(rest)?;
                    pos = chunk.len();
                }
                continue;
            }
            // Top the held record up to what it needs, then retry it.
            let want = (self.need.saturating_sub(self.held as u64)).max(1);
            let take = (chunk.len() - pos).min(want.min(usize::MAX as u64) as usize);
            if self.held + take > self.buf.len() {
                return Err(self.too_large());
            }
            self.buf[self.held..self.held + take].copy_from_slice(&chunk[pos..pos + take]);
            self.held += take;
            pos += take;
            if (self.held as u64) < self.need {
                continue;
            }
            let buf = core::mem::take(&mut self.buf);
            let used = self.run(&buf[..self.held], false, visitor);
            self.buf = buf;
            let used = used?;
            let left = self.held - used;
            if used == 0 {
                continue;
            }
            if left <= take {
                // The rest came from this chunk: read it from there.
                pos -= left;
                self.held = 0;
            } else {
                self.buf.copy_within(used..self.held, 0);
                self.held = left;
            }
        }
        Ok(())
    }

    /// Ends the stream: decodes what is held and checks that the stream
    /// is complete.
    pub fn finish<V: Visitor>(&mut self, visitor: &mut V) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.held > 0 {
            let buf = core::mem::take(&mut self.buf);
            let r = self.run(&buf[..self.held], true, visitor);
            self.buf = buf;
            r?;
            self.held = 0;
        }
        self.close_packages(visitor);
        let missing = match self.state {
            State::Trailer | State::Done if self.packages.is_empty() => return Ok(()),
            State::Skip { until } => until - self.offset,
            State::Header => 8,
            _ => 1,
        };
        Err(self.fail_at(self.offset, ErrorKind::Truncated { needed: missing }))
    }

    /// The largest unit this decoder can hold (unbounded for the slice
    /// front end, which never holds anything). Read from a field, since the
    /// buffer itself is lent out while a held unit is decoded.
    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn hold(&mut self, rest: &[u8]) -> Result<(), Error> {
        if self.need > self.buf.len() as u64 {
            return Err(self.too_large());
        }
        self.buf[..rest.len()].copy_from_slice(rest);
        self.held = rest.len();
        Ok(())
    }

    fn too_large(&mut self) -> Error {
        let kind = ErrorKind::RecordTooLarge {
            needed: self.need,
            capacity: self.buf.len(),
        };
        self.fail_at(self.offset, kind)
    }

    fn fail_at(&mut self, offset: u64, kind: ErrorKind) -> Error {
        let mut e = Error::new(offset, kind);
        e.record = self.ctx_record;
        e.section = self.ctx_section.clone();
        e.path = self.ctx_path.clone();
        self.failed = Some(e.clone());
        e
    }

    /// Decodes records from `input` until it runs out; returns the bytes
    /// consumed. With `last`, a record cut short is an error.
    fn run<V: Visitor>(&mut self, input: &[u8], last: bool, v: &mut V) -> Result<usize, Error> {
        let mut pos = 0;
        loop {
            if self.close_packages(v) {
                continue;
            }
            if pos == input.len() && !matches!(self.state, State::Skip { .. }) {
                return Ok(pos);
            }
            self.ctx_path.clear();
            match self.step(&input[pos..], last, v) {
                Ok(n) => {
                    pos += n;
                    self.offset += n as u64;
                    if self.packages.last().is_some_and(|&end| self.offset > end) {
                        return Err(self.fail_at(self.offset, ErrorKind::PackageOverrun));
                    }
                    if n == 0 && pos == input.len() {
                        return Ok(pos);
                    }
                }
                Err(Stop::Need(n)) if !last => {
                    self.need = n;
                    return Ok(pos);
                }
                Err(Stop::Need(n)) => {
                    let have = (input.len() - pos) as u64;
                    return Err(self.fail_at(
                        self.offset + have,
                        ErrorKind::Truncated {
                            needed: n.saturating_sub(have).max(1),
                        },
                    ));
                }
                Err(Stop::Fail { at, kind }) => {
                    return Err(self.fail_at(self.offset + at as u64, kind))
                }
            }
        }
    }

    /// Ends PACKAGED streams whose last byte was consumed.
    fn close_packages<V: Visitor>(&mut self, v: &mut V) -> bool {
        if self.state == State::Top && self.packages.last() == Some(&self.offset) {
            self.packages.pop();
            v.package_end();
            return true;
        }
        false
    }

    fn set_section(&mut self, kind: RecordKind, name: &[u8]) {
        self.ctx_record = Some(kind);
        self.ctx_section = section_text(name);
    }

    /// Decodes one unit (a record, or one entry of an iterative payload)
    /// at the start of `input` and returns its length. Events are sent
    /// only once the whole unit is there, so a retry never repeats them.
    fn step<V: Visitor>(&mut self, input: &[u8], last: bool, v: &mut V) -> Parsed<usize> {
        let mut cur = Cursor::new(input);
        match self.state {
            State::Header => {
                self.ctx_record = Some(RecordKind::Header);
                let magic = cur.be32()?;
                if magic != MAGIC {
                    return Err(Stop::Fail {
                        at: 0,
                        kind: ErrorKind::BadMagic(magic),
                    });
                }
                let version = cur.be32()?;
                if version != 3 {
                    return Err(Stop::Fail {
                        at: 4,
                        kind: ErrorKind::UnsupportedVersion(version),
                    });
                }
                v.header(version);
                self.state = State::Top;
            }
            State::Top => self.record(&mut cur, last, v)?,
            State::Payload { slot, kind, at } => self.payload(&mut cur, slot, kind, at, v)?,
            State::HtabChunks { slot, kind, at } => {
                let step = iterative::htab_chunk(&mut cur)?;
                self.iter_step(step, slot, kind, at, cur.pos(), v);
            }
            State::Blocks {
                slot,
                kind,
                at,
                total,
                left,
            } => {
                let b = ram::block_entry(&mut cur, self.table)?;
                if b.used_length > left {
                    let sum = total - left + b.used_length;
                    return cur.fail(ErrorKind::MemSizeMismatch { total, sum });
                }
                self.blocks
                    .add(b.name, b.used_length)
                    .map_err(|kind| Stop::Fail { at: 0, kind })?;
                let block = RamBlock {
                    name: b.name,
                    used_length: b.used_length,
                    page_size: b.page_size,
                    mr_addr: b.mr_addr,
                    mapped_ram: b.mapped_ram,
                };
                v.ram_block(&block);
                let next = State::table(slot, kind, at, total, left - b.used_length);
                self.state = next;
                if let Some(m) = b.mapped_ram {
                    // The block's bitmap and pages sit between here and
                    // the next record; the stream resumes after them.
                    let here = self.offset + cur.pos() as u64;
                    let until = m.pages_offset.saturating_add(b.used_length);
                    if until < here {
                        return cur.fail(ErrorKind::BadOffset(until));
                    }
                    match self.source.as_deref_mut() {
                        Some(source) => {
                            if let Err(kind) = mapped_ram::emit_pages(&block, &m, source, v) {
                                return cur.fail(kind);
                            }
                        }
                        None => v.skipped(b"mapped-ram", here, until - here),
                    }
                    self.resume = next;
                    self.state = State::Skip { until };
                }
            }
            State::Skip { until } => {
                let n = (until - self.offset).min(input.len() as u64) as usize;
                if self.offset + n as u64 == until {
                    self.state = self.resume;
                } else if n == 0 {
                    return Err(Stop::Need(1));
                }
                return Ok(n);
            }
            State::Trailer => {
                self.ctx_record = Some(RecordKind::VmDescription);
                self.ctx_section.clear();
                let t = cur.u8()?;
                if t != 0x06 {
                    return cur.fail(ErrorKind::TrailingData);
                }
                let len = cur.be32()?;
                let here = self.offset + cur.pos() as u64;
                if len as u64 + 5 <= self.capacity() {
                    let json = cur.bytes(len as u64)?;
                    v.vmdesc(here, len, Some(json));
                    self.state = State::Done;
                } else {
                    // Too large for the buffer: pass over it in place.
                    v.vmdesc(here, len, None);
                    self.resume = State::Done;
                    self.state = State::Skip {
                        until: here + len as u64,
                    };
                }
            }
            State::Done => return cur.fail(ErrorKind::TrailingData),
        }
        Ok(cur.pos())
    }

    /// A top-level record.
    fn record<V: Visitor>(&mut self, cur: &mut Cursor<'_>, last: bool, v: &mut V) -> Parsed<()> {
        let at = self.offset;
        let t = cur.u8()?;
        self.ctx_section.clear();
        match t {
            0x00 => {
                self.ctx_record = Some(RecordKind::Eof);
                v.eof();
                if self.packages.is_empty() {
                    self.state = State::Trailer;
                }
            }
            0x01 | 0x04 => {
                let kind = section_kind(t);
                self.ctx_record = Some(kind);
                let h = section::full_header(cur)?;
                self.set_section(kind, h.name);
                let header = SectionHeader {
                    kind,
                    section_id: h.section_id,
                    name: h.name,
                    instance_id: h.instance_id,
                    version_id: h.version_id,
                    offset: at,
                };
                let iter = match h.name {
                    b"ram" if kind == RecordKind::SectionStart => Some((Iter::Ram, 4)),
                    b"spapr/htab" if kind == RecordKind::SectionStart => Some((Iter::Htab, 1)),
                    b"s390-storage_attributes" if kind == RecordKind::SectionStart => {
                        Some((Iter::Stattr, 0))
                    }
                    _ => None,
                };
                match iter {
                    Some((iter, version)) => {
                        if h.version_id != version {
                            let kind = match iter {
                                Iter::Ram => ErrorKind::RamVersion(h.version_id),
                                _ => ErrorKind::SectionVersion(h.version_id),
                            };
                            return cur.fail(kind);
                        }
                        let mut name = heapless::Vec::new();
                        let _ = name.extend_from_slice(&h.name[..h.name.len().min(64)]);
                        let open = Open {
                            id: h.section_id,
                            iter,
                            name,
                            instance_id: h.instance_id,
                            version_id: h.version_id,
                        };
                        let slot = match self.open.iter().position(|o| o.id == h.section_id) {
                            Some(i) => {
                                self.open[i] = open;
                                i
                            }
                            None => {
                                self.open.push(open).map_err(|_| Stop::Fail {
                                    at: 0,
                                    kind: ErrorKind::Limit(Limit::OpenSections),
                                })?;
                                self.open.len() - 1
                            }
                        };
                        v.section_start(&header);
                        self.last_section = Some(h.section_id);
                        self.state = State::Payload { slot, kind, at };
                    }
                    None => {
                        self.device_section(cur, &header, last, v)?;
                        self.last_section = Some(h.section_id);
                    }
                }
            }
            0x02 | 0x03 => {
                let kind = section_kind(t);
                self.ctx_record = Some(kind);
                let id = cur.be32()?;
                let Some(slot) = self.open.iter().position(|o| o.id == id) else {
                    return cur.fail(ErrorKind::UnknownSectionId(id));
                };
                let o = &self.open[slot];
                let header = SectionHeader {
                    kind,
                    section_id: id,
                    name: &o.name,
                    instance_id: o.instance_id,
                    version_id: o.version_id,
                    offset: at,
                };
                v.section_start(&header);
                let name = o.name.clone();
                self.set_section(kind, &name);
                self.last_section = Some(id);
                self.state = State::Payload { slot, kind, at };
            }
            0x07 => {
                self.ctx_record = Some(RecordKind::Configuration);
                self.configuration(cur, v)?;
            }
            0x08 => {
                self.ctx_record = Some(RecordKind::Command);
                let c = command::command(cur)?;
                if let Some(len) = c.packaged_len() {
                    let end = self.offset + cur.pos() as u64 + len as u64;
                    self.packages.push(end).map_err(|_| Stop::Fail {
                        at: 0,
                        kind: ErrorKind::Limit(Limit::PackageDepth),
                    })?;
                    v.command(&c);
                    v.package_start(len);
                } else {
                    if c.kind == crate::CommandKind::PostcopyAdvise {
                        self.table.postcopy = true;
                    }
                    v.command(&c);
                }
            }
            FOOTER => {
                self.ctx_record = Some(RecordKind::SectionFooter);
                let id = cur.be32()?;
                if self.last_section != Some(id) {
                    let expected = self.last_section.unwrap_or(u32::MAX);
                    return Err(Stop::Fail {
                        at: 1,
                        kind: ErrorKind::FooterMismatch {
                            expected,
                            found: id,
                        },
                    });
                }
                v.footer(id);
            }
            _ => {
                return Err(Stop::Fail {
                    at: 0,
                    kind: ErrorKind::UnknownRecord(t),
                })
            }
        }
        Ok(())
    }

    /// A FULL (or unknown START) section: framed by the vmdesc, by a
    /// built-in format, or by its footer, in that order of preference.
    fn device_section<V: Visitor>(
        &mut self,
        cur: &mut Cursor<'_>,
        header: &SectionHeader<'_>,
        last: bool,
        v: &mut V,
    ) -> Parsed<()> {
        let start = cur.pos();
        if let Some(desc) = self.desc {
            if let Some(dev) = desc.device(header.name, header.instance_id) {
                let sd = desc.device_struct(dev);
                let len = match frame(cur.rest(), desc.json(), header.name, &sd, self.limits) {
                    Ok(len) => len,
                    // Old QEMU described a pointer array too loosely to
                    // walk; its footer still delimits the section.
                    Err((
                        Stop::Fail {
                            kind: ErrorKind::UndescribedElement,
                            ..
                        },
                        _,
                    )) => return self.raw_section(cur, header, last, v),
                    Err((e, path)) => {
                        self.ctx_path = path;
                        return Err(shift(e, start));
                    }
                };
                v.section_start(header);
                let body = &cur.rest()[..len];
                walk(body, desc.json(), header.name, &sd, self.limits, v);
                cur.bytes(len as u64)?;
                v.section_end(header, self.offset + cur.pos() as u64);
                return Ok(());
            }
        }
        if header.name == b"s390-skeys" && header.kind == RecordKind::SectionFull {
            // Its own format delimits it; the payload stays raw so that a
            // reader can still decode it once a vmdesc turns up.
            let mut look = cur.clone();
            while !matches!(iterative::skeys(&mut look, self.page_size)?, Step::End) {}
            let payload = cur.bytes((look.pos() - cur.pos()) as u64)?;
            v.section_start(header);
            v.raw_payload(header, payload);
            v.section_end(header, self.offset + cur.pos() as u64);
            return Ok(());
        }
        self.raw_section(cur, header, last, v)
    }

    /// A device section delimited by its footer, reported as raw bytes.
    fn raw_section<V: Visitor>(
        &mut self,
        cur: &mut Cursor<'_>,
        header: &SectionHeader<'_>,
        last: bool,
        v: &mut V,
    ) -> Parsed<()> {
        let cap = if self.buf.is_empty() {
            u64::MAX
        } else {
            self.buf.len() as u64
        };
        let len = section::payload_to_footer(cur, header.section_id, last, cap)?;
        let payload = cur.bytes(len as u64)?;
        v.section_start(header);
        v.raw_payload(header, payload);
        v.section_end(header, self.offset + cur.pos() as u64);
        Ok(())
    }

    /// One unit of an iterative payload.
    fn payload<V: Visitor>(
        &mut self,
        cur: &mut Cursor<'_>,
        slot: usize,
        kind: RecordKind,
        at: u64,
        v: &mut V,
    ) -> Parsed<()> {
        match self.open[slot].iter {
            Iter::Ram => match ram::entry(cur, self.page_size)? {
                Entry::MemSize(total) => self.state = State::table(slot, kind, at, total, total),
                Entry::Page { block, addr, data } => {
                    let i = self
                        .blocks
                        .resolve(block, addr, self.page_size)
                        .map_err(|kind| Stop::Fail { at: 0, kind })?;
                    self.blocks.set_current(i);
                    v.ram_page(&RamPage {
                        block: self.blocks.name(i),
                        addr,
                        page_size: self.page_size,
                        data,
                    });
                }
                Entry::Flush => v.ram_flush(),
                Entry::Eos => self.end_payload(slot, kind, at, cur.pos(), v),
            },
            Iter::Htab => {
                let step = iterative::htab_header(cur, kind == RecordKind::SectionStart)?;
                if let Step::Marker = step {
                    self.state = State::HtabChunks { slot, kind, at };
                } else {
                    self.iter_step(step, slot, kind, at, cur.pos(), v);
                }
            }
            Iter::Stattr => {
                let step = iterative::stattr(cur)?;
                self.iter_step(step, slot, kind, at, cur.pos(), v);
            }
        }
        Ok(())
    }

    fn iter_step<V: Visitor>(
        &mut self,
        step: Step,
        slot: usize,
        kind: RecordKind,
        at: u64,
        end: usize,
        v: &mut V,
    ) {
        match step {
            Step::Data(n) => {
                let o = &self.open[slot];
                v.skipped(&o.name, self.offset + end as u64 - n, n);
            }
            Step::Marker => {}
            Step::End => self.end_payload(slot, kind, at, end, v),
        }
    }

    fn end_payload<V: Visitor>(
        &mut self,
        slot: usize,
        kind: RecordKind,
        at: u64,
        end: usize,
        v: &mut V,
    ) {
        let o = &self.open[slot];
        let header = SectionHeader {
            kind,
            section_id: o.id,
            name: &o.name,
            instance_id: o.instance_id,
            version_id: o.version_id,
            offset: at,
        };
        v.section_end(&header, self.offset + end as u64);
        self.state = State::Top;
    }

    /// The CONFIGURATION record, walked with the vmdesc's description when
    /// it has one, else read with the built-in layout.
    fn configuration<V: Visitor>(&mut self, cur: &mut Cursor<'_>, v: &mut V) -> Parsed<()> {
        let start = cur.pos();
        let described = self.desc.and_then(|d| d.configuration().map(|c| (d, c)));
        let config = if let Some((desc, sd)) = described {
            let len = frame(cur.rest(), desc.json(), b"configuration", &sd, self.limits)
                .map_err(|(e, _)| shift(e, start))?;
            let body = cur.bytes(len as u64)?;
            let config = configuration::configuration(&mut Cursor::new(body), true)
                .map_err(|e| shift(e, start))?;
            v.configuration(&config);
            walk(body, desc.json(), b"configuration", &sd, self.limits, v);
            config
        } else {
            let config = configuration::configuration(cur, false)?;
            v.configuration(&config);
            config
        };
        if !self.page_size_known {
            if let Some(bits) = config.target_page_bits.filter(|b| (9..=20).contains(b)) {
                self.page_size = 1 << bits;
            }
        }
        self.table.ignore_shared = config.has_capability("x-ignore-shared");
        self.table.mapped_ram = config.has_capability("mapped-ram");
        Ok(())
    }
}

/// A section idstr as error text (invalid UTF-8 shown as U+FFFD, cut to
/// capacity).
fn section_text(name: &[u8]) -> heapless::String<SECTION_TEXT> {
    let mut text = heapless::String::new();
    let path = crate::visitor::Path {
        segments: &[crate::visitor::Segment::Stream(name)],
    };
    write_capped(&mut text, format_args!("{path}"));
    text
}

/// The section record kind of type byte 0x01 to 0x04.
fn section_kind(t: u8) -> RecordKind {
    match t {
        0x01 => RecordKind::SectionStart,
        0x02 => RecordKind::SectionPart,
        0x03 => RecordKind::SectionEnd,
        _ => RecordKind::SectionFull,
    }
}

/// Moves a stop reported relative to a sub-slice back to the record.
fn shift(e: Stop, by: usize) -> Stop {
    match e {
        Stop::Need(n) => Stop::Need(n + by as u64),
        Stop::Fail { at, kind } => Stop::Fail { at: at + by, kind },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmdesc::FieldDesc;
    use crate::{Ignore, Path, Value};

    /// Records the order of events, as short tags.
    #[derive(Default)]
    struct Log(heapless::Vec<(u8, u64), 32>);

    impl Visitor for Log {
        fn value(&mut self, _p: &Path<'_, '_>, _f: &FieldDesc<'_>, v: &Value<'_>) {
            let _ = self.0.push((b'v', v.as_u64().unwrap_or(0)));
        }
        fn package_start(&mut self, len: u32) {
            let _ = self.0.push((b'[', len as u64));
        }
        fn package_end(&mut self) {
            let _ = self.0.push((b']', 0));
        }
        fn eof(&mut self) {
            let _ = self.0.push((b'e', 0));
        }
        fn footer(&mut self, id: u32) {
            let _ = self.0.push((b'f', id as u64));
        }
    }

    const DESC: &[u8] = br#"{"page_size": 4096, "devices": [{"name": "dev", "instance_id": 0, "vmsd_name": "dev", "version": 1, "fields": [{"name": "x", "type": "uint32", "size": 4}]}]}"#;

    /// A stream whose only device section sits inside a PACKAGED stream of
    /// `declared` bytes (the real nested length is 26).
    fn packaged(declared: u32, out: &mut heapless::Vec<u8, 512>) {
        let mut put = |b: &[u8]| out.extend_from_slice(b).unwrap();
        put(b"QEVM\0\0\0\x03");
        put(&[0x08, 0, 7, 0, 4]);
        put(&declared.to_be_bytes());
        put(&[0x04, 0, 0, 0, 1, 3]);
        put(b"dev");
        put(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x2a, 0x7e, 0, 0, 0, 1]);
        put(&[0x00, 0x06]);
        put(&(DESC.len() as u32).to_be_bytes());
        put(DESC);
    }

    #[test]
    fn packaged_stream_is_decoded_in_place() {
        let mut s = heapless::Vec::new();
        packaged(26, &mut s);
        let mut log = Log::default();
        decode(&s, &mut log).unwrap();
        assert_eq!(
            &log.0[..],
            &[(b'[', 26), (b'v', 0x2a), (b'f', 1), (b']', 0), (b'e', 0)]
        );
        // The same through the push front end, one byte at a time.
        let desc = VmDesc::<4>::parse(DESC).unwrap();
        let mut buf = [0u8; 64];
        let mut d = Decoder::new(Some(&desc), &mut buf);
        let mut push = Log::default();
        for b in s.chunks(1) {
            d.feed(b, &mut push).unwrap();
        }
        d.finish(&mut push).unwrap();
        assert_eq!(log.0, push.0);
    }

    #[test]
    fn record_running_past_its_package_is_an_error() {
        let mut s = heapless::Vec::new();
        packaged(20, &mut s);
        let e = decode(&s, &mut Ignore).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PackageOverrun);
    }
}
