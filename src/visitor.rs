//! The events a decoder reports, and the [`Visitor`] trait that receives
//! them. Every event borrows from the input (or the vmdesc) for the length
//! of the call only: nothing is copied or buffered for the visitor.

use core::fmt;

use crate::json::JsonStr;
use crate::vmdesc::FieldDesc;

/// A section record's header (START and FULL carry a name; PART and END
/// get the name of the START that opened the section).
#[derive(Debug, Clone, Copy)]
pub struct SectionHeader<'a> {
    /// The record type: SECTION_START, _PART, _END or _FULL.
    pub kind: crate::RecordKind,
    /// The section id the stream assigned.
    pub section_id: u32,
    /// The idstr, e.g. `ram` or `0000:00:03.0/e1000`.
    pub name: &'a [u8],
    /// The instance id.
    pub instance_id: u32,
    /// The section's version.
    pub version_id: u32,
    /// Absolute offset of the record's type byte.
    pub offset: u64,
}

impl SectionHeader<'_> {
    /// The absolute offset of the payload: after the type byte and section
    /// id, plus the counted idstr, instance and version for START/FULL.
    pub fn payload_offset(&self) -> u64 {
        match self.kind {
            crate::RecordKind::SectionStart | crate::RecordKind::SectionFull => {
                self.offset + 1 + 4 + 1 + self.name.len() as u64 + 4 + 4
            }
            _ => self.offset + 1 + 4,
        }
    }
}

/// The CONFIGURATION record.
#[derive(Debug, Clone)]
pub struct Configuration<'a> {
    /// The machine type, e.g. `pc-i440fx-7.2`.
    pub machine: &'a [u8],
    /// From the "configuration/target-page-bits" subsection.
    pub target_page_bits: Option<u32>,
    /// From "configuration/capabilities" (x-ignore-shared, mapped-ram).
    pub capabilities: heapless::Vec<&'a [u8], 16>,
    /// From "configuration/uuid".
    pub uuid: Option<[u8; 16]>,
}

impl Configuration<'_> {
    /// Whether a capability is listed.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.contains(&name.as_bytes())
    }
}

/// How the field's bytes are to be read, from its vmdesc type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `bool`: first byte non-zero.
    Bool,
    /// Signed big-endian integer (`int8` .. `int64`, the `... equal`
    /// variants, and `int32 le`, which QEMU names for its "less or equal"
    /// load check: it is big-endian like the others).
    Int,
    /// Unsigned big-endian integer (`uint8` .. `uint64`, `... equal`).
    Uint,
    /// `float64`: IEEE double, big-endian.
    Float64,
    /// `nullptr`: a NULL entry in an array of pointers (byte '0').
    Nullptr,
    /// `capability`: a counted string; `bytes` holds the text.
    Capability,
    /// Anything else (`buffer`, `timer`, `bitmap`, unknown names): raw bytes.
    Bytes,
}

impl ValueKind {
    /// The kind for a vmdesc type name.
    pub fn of(type_name: &JsonStr<'_>) -> Self {
        match type_name.raw() {
            b"bool" => ValueKind::Bool,
            b"int8" | b"int16" | b"int32" | b"int64" | b"int32 equal" | b"int64 equal" => {
                ValueKind::Int
            }
            b"uint8" | b"uint16" | b"uint32" | b"uint64" | b"uint8 equal" | b"uint16 equal"
            | b"uint32 equal" | b"uint64 equal" => ValueKind::Uint,
            b"float64" => ValueKind::Float64,
            b"nullptr" => ValueKind::Nullptr,
            b"capability" => ValueKind::Capability,
            _ => ValueKind::Bytes,
        }
    }
}

/// The stream width of a fixed-size vmdesc type, `None` for types whose
/// size only the vmdesc knows (buffers, structs, unknown names).
pub fn type_width(type_name: &JsonStr<'_>) -> Option<u64> {
    Some(match type_name.raw() {
        b"bool" | b"int8" | b"uint8" | b"uint8 equal" | b"nullptr" => 1,
        b"int16" | b"uint16" | b"uint16 equal" => 2,
        b"int32" | b"uint32" | b"int32 equal" | b"uint32 equal" | b"int32 le" => 4,
        b"int64" | b"uint64" | b"int64 equal" | b"uint64 equal" | b"float64" | b"timer" => 8,
        _ => return None,
    })
}

/// One decoded value: its kind and the exact stream bytes it came from.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    /// How to read `bytes`.
    pub kind: ValueKind,
    /// The field's stream bytes (for a capability, the text only).
    pub bytes: &'a [u8],
}

impl Value<'_> {
    /// The value as an unsigned integer (integers of up to 8 bytes).
    pub fn as_u64(&self) -> Option<u64> {
        if self.bytes.len() > 8 || self.bytes.is_empty() {
            return None;
        }
        if !matches!(
            self.kind,
            ValueKind::Int | ValueKind::Uint | ValueKind::Bool
        ) {
            return None;
        }
        let mut be = [0u8; 8];
        be[8 - self.bytes.len()..].copy_from_slice(self.bytes);
        Some(u64::from_be_bytes(be))
    }

    /// The value as a signed integer, sign-extended from its width.
    pub fn as_i64(&self) -> Option<i64> {
        let u = self.as_u64()?;
        let bits = self.bytes.len() as u32 * 8;
        let shift = 64 - bits;
        Some(((u << shift) as i64) >> shift)
    }

    /// The value as a float (`float64` only).
    pub fn as_f64(&self) -> Option<f64> {
        let b: [u8; 8] = self.bytes.try_into().ok()?;
        (self.kind == ValueKind::Float64).then(|| f64::from_be_bytes(b))
    }

    /// The value as a bool (`bool` only).
    pub fn as_bool(&self) -> Option<bool> {
        (self.kind == ValueKind::Bool).then(|| self.bytes.first().is_some_and(|b| *b != 0))
    }
}

/// One step of a field path.
#[derive(Debug, Clone, Copy)]
pub enum Segment<'a> {
    /// A name from the vmdesc (a field).
    Name(JsonStr<'a>),
    /// A name from the stream (a section idstr or a subsection name).
    Stream(&'a [u8]),
    /// An array index, printed as `[i]` after the previous step.
    Index(u64),
}

/// The full path of a value, e.g. `0000:00:03.0/e1000/mac_reg[5]`.
#[derive(Clone, Copy)]
pub struct Path<'p, 'a> {
    /// The steps from the section down to the value.
    pub segments: &'p [Segment<'a>],
}

impl fmt::Display for Path<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            match s {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Name(n) => {
                    if i > 0 {
                        f.write_str("/")?;
                    }
                    write!(f, "{n}")?
                }
                Segment::Stream(b) => {
                    if i > 0 {
                        f.write_str("/")?;
                    }
                    for c in b.utf8_chunks() {
                        f.write_str(c.valid())?;
                        if !c.invalid().is_empty() {
                            f.write_str("\u{fffd}")?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Path<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// An entry of the RAM block table (RAM_SAVE_FLAG_MEM_SIZE).
#[derive(Debug, Clone, Copy)]
pub struct RamBlock<'a> {
    /// The block's idstr, e.g. `pc.ram`.
    pub name: &'a [u8],
    /// Bytes in use.
    pub used_length: u64,
    /// The block's page size, present with postcopy when it differs from
    /// the host page size (huge pages).
    pub page_size: Option<u64>,
    /// The memory region address, present with x-ignore-shared.
    pub mr_addr: Option<u64>,
    /// The mapped-ram header, present with the mapped-ram capability.
    pub mapped_ram: Option<MappedRam>,
}

/// Where a mapped-ram block's bitmap and pages live in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedRam {
    /// Header version (1).
    pub version: u32,
    /// Target page size.
    pub page_size: u64,
    /// Absolute file offset of the dirty bitmap.
    pub bitmap_offset: u64,
    /// Absolute file offset of the page array.
    pub pages_offset: u64,
}

/// What a RAM page entry carries.
#[derive(Debug, Clone, Copy)]
pub enum PageData<'a> {
    /// RAM_SAVE_FLAG_ZERO: the page is filled with this byte.
    Fill(u8),
    /// RAM_SAVE_FLAG_PAGE: the page's bytes.
    Raw(&'a [u8]),
    /// RAM_SAVE_FLAG_XBZRLE: an encoded delta (encoding byte excluded).
    Xbzrle(&'a [u8]),
    /// RAM_SAVE_FLAG_COMPRESS_PAGE: zlib data of one page.
    Compressed(&'a [u8]),
}

/// One RAM page entry.
#[derive(Debug, Clone, Copy)]
pub struct RamPage<'a> {
    /// The block it belongs to.
    pub block: &'a [u8],
    /// Offset inside the block.
    pub addr: u64,
    /// The target page size: the length of the page this entry fills.
    pub page_size: u64,
    /// Its contents.
    pub data: PageData<'a>,
}

/// The eleven QEMU_VM_COMMAND kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// 1: the destination should open a return path.
    OpenReturnPath,
    /// 2: a ping with a be32 value.
    Ping,
    /// 3: postcopy may happen (page size info).
    PostcopyAdvise,
    /// 4: the destination starts listening for postcopy pages.
    PostcopyListen,
    /// 5: the destination runs the guest.
    PostcopyRun,
    /// 6: ranges of RAM to discard.
    PostcopyRamDiscard,
    /// 7: a nested stream of the given be32 length follows.
    Packaged,
    /// 8: enable COLO.
    EnableColo,
    /// 9: postcopy recovery resumes.
    PostcopyResume,
    /// 10: request the received bitmap of a block.
    RecvBitmap,
    /// 11: the source is about to switch over.
    SwitchoverStart,
}

impl CommandKind {
    /// The kind for a command number.
    pub fn from_u16(n: u16) -> Option<Self> {
        use CommandKind::*;
        Some(match n {
            1 => OpenReturnPath,
            2 => Ping,
            3 => PostcopyAdvise,
            4 => PostcopyListen,
            5 => PostcopyRun,
            6 => PostcopyRamDiscard,
            7 => Packaged,
            8 => EnableColo,
            9 => PostcopyResume,
            10 => RecvBitmap,
            11 => SwitchoverStart,
            _ => return None,
        })
    }

    /// QEMU's name for the command, e.g. `POSTCOPY_RAM_DISCARD`.
    pub fn name(self) -> &'static str {
        use CommandKind::*;
        match self {
            OpenReturnPath => "OPEN_RETURN_PATH",
            Ping => "PING",
            PostcopyAdvise => "POSTCOPY_ADVISE",
            PostcopyListen => "POSTCOPY_LISTEN",
            PostcopyRun => "POSTCOPY_RUN",
            PostcopyRamDiscard => "POSTCOPY_RAM_DISCARD",
            Packaged => "PACKAGED",
            EnableColo => "ENABLE_COLO",
            PostcopyResume => "POSTCOPY_RESUME",
            RecvBitmap => "RECV_BITMAP",
            SwitchoverStart => "SWITCHOVER_START",
        }
    }

    /// The payload length this kind requires, `None` if variable.
    pub fn fixed_len(self) -> Option<u16> {
        use CommandKind::*;
        match self {
            Ping | Packaged => Some(4),
            PostcopyAdvise | PostcopyRamDiscard | RecvBitmap => None,
            _ => Some(0),
        }
    }
}

/// A COMMAND record.
#[derive(Debug, Clone, Copy)]
pub struct Command<'a> {
    /// Which command.
    pub kind: CommandKind,
    /// Its payload bytes.
    pub data: &'a [u8],
}

/// Receives decoding events, in stream order. Every method has an empty
/// default, so a visitor implements only what it needs.
#[allow(unused_variables)]
pub trait Visitor {
    /// The stream header was read (version is always 3).
    fn header(&mut self, version: u32) {}
    /// The CONFIGURATION record.
    fn configuration(&mut self, config: &Configuration<'_>) {}
    /// A section record begins (its payload events follow).
    fn section_start(&mut self, section: &SectionHeader<'_>) {}
    /// A section record's payload is done (before any footer); `end` is
    /// the absolute offset just after it.
    fn section_end(&mut self, section: &SectionHeader<'_>, end: u64) {}
    /// A SECTION_FOOTER record.
    fn footer(&mut self, section_id: u32) {}
    /// A device field value.
    fn value(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>, value: &Value<'_>) {}
    /// A struct field begins; its fields follow, then [`Visitor::struct_end`].
    fn struct_start(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>) {}
    /// A struct field ends.
    fn struct_end(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>) {}
    /// A subsection begins; `path` ends with its name.
    fn subsection_start(&mut self, path: &Path<'_, '_>, name: &[u8], version: u32) {}
    /// A subsection ends.
    fn subsection_end(&mut self, path: &Path<'_, '_>, name: &[u8]) {}
    /// A device section payload that no vmdesc describes: its raw bytes.
    fn raw_payload(&mut self, section: &SectionHeader<'_>, payload: &[u8]) {}
    /// An entry of the RAM block table.
    fn ram_block(&mut self, block: &RamBlock<'_>) {}
    /// A RAM page.
    fn ram_page(&mut self, page: &RamPage<'_>) {}
    /// RAM_SAVE_FLAG_MULTIFD_FLUSH.
    fn ram_flush(&mut self) {}
    /// Bytes of an iterative section that are framed but not decoded
    /// (spapr/htab entries, s390 keys and attributes), or a mapped-ram
    /// block's region passed over unread for want of a
    /// [`crate::Decoder::with_source`]; `len` bytes at absolute `offset`.
    fn skipped(&mut self, what: &[u8], offset: u64, len: u64) {}
    /// A COMMAND record.
    fn command(&mut self, command: &Command<'_>) {}
    /// A PACKAGED nested stream of `len` bytes begins.
    fn package_start(&mut self, len: u32) {}
    /// The PACKAGED nested stream ends.
    fn package_end(&mut self) {}
    /// The EOF record (inside a PACKAGED stream too).
    fn eof(&mut self) {}
    /// The VMDESCRIPTION trailer: `len` bytes of JSON at absolute
    /// `offset`. `json` holds them whenever the decoder could hold the whole
    /// record: always with the slice front end, and with the push front end
    /// when the record fits its buffer (else the bytes are passed over).
    fn vmdesc(&mut self, offset: u64, len: u32, json: Option<&[u8]>) {}
}

/// Sends every event to `.0`, then to `.1`: one decode, two visitors
/// (nest it for more).
pub struct Tee<A, B>(pub A, pub B);

impl<A: Visitor, B: Visitor> Visitor for Tee<A, B> {
    fn header(&mut self, version: u32) {
        self.0.header(version);
        self.1.header(version);
    }
    fn configuration(&mut self, c: &Configuration<'_>) {
        self.0.configuration(c);
        self.1.configuration(c);
    }
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        self.0.section_start(s);
        self.1.section_start(s);
    }
    fn section_end(&mut self, s: &SectionHeader<'_>, end: u64) {
        self.0.section_end(s, end);
        self.1.section_end(s, end);
    }
    fn footer(&mut self, id: u32) {
        self.0.footer(id);
        self.1.footer(id);
    }
    fn value(&mut self, p: &Path<'_, '_>, f: &FieldDesc<'_>, v: &Value<'_>) {
        self.0.value(p, f, v);
        self.1.value(p, f, v);
    }
    fn struct_start(&mut self, p: &Path<'_, '_>, f: &FieldDesc<'_>) {
        self.0.struct_start(p, f);
        self.1.struct_start(p, f);
    }
    fn struct_end(&mut self, p: &Path<'_, '_>, f: &FieldDesc<'_>) {
        self.0.struct_end(p, f);
        self.1.struct_end(p, f);
    }
    fn subsection_start(&mut self, p: &Path<'_, '_>, name: &[u8], version: u32) {
        self.0.subsection_start(p, name, version);
        self.1.subsection_start(p, name, version);
    }
    fn subsection_end(&mut self, p: &Path<'_, '_>, name: &[u8]) {
        self.0.subsection_end(p, name);
        self.1.subsection_end(p, name);
    }
    fn raw_payload(&mut self, s: &SectionHeader<'_>, payload: &[u8]) {
        self.0.raw_payload(s, payload);
        self.1.raw_payload(s, payload);
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        self.0.ram_block(b);
        self.1.ram_block(b);
    }
    fn ram_page(&mut self, p: &RamPage<'_>) {
        self.0.ram_page(p);
        self.1.ram_page(p);
    }
    fn ram_flush(&mut self) {
        self.0.ram_flush();
        self.1.ram_flush();
    }
    fn skipped(&mut self, what: &[u8], offset: u64, len: u64) {
        self.0.skipped(what, offset, len);
        self.1.skipped(what, offset, len);
    }
    fn command(&mut self, c: &Command<'_>) {
        self.0.command(c);
        self.1.command(c);
    }
    fn package_start(&mut self, len: u32) {
        self.0.package_start(len);
        self.1.package_start(len);
    }
    fn package_end(&mut self) {
        self.0.package_end();
        self.1.package_end();
    }
    fn eof(&mut self) {
        self.0.eof();
        self.1.eof();
    }
    fn vmdesc(&mut self, offset: u64, len: u32, json: Option<&[u8]>) {
        self.0.vmdesc(offset, len, json);
        self.1.vmdesc(offset, len, json);
    }
}

/// A visitor that ignores everything.
pub struct Ignore;

impl Visitor for Ignore {}
