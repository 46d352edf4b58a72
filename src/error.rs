//! Errors that say where a stream went wrong: the byte offset, the record
//! kind, the section name and the field path, plus what was expected.

use core::fmt::{self, Write as _};

use crate::json::JsonError;

/// Capacity of [`Error::section`] in bytes; longer names are cut with `…`.
pub const SECTION_TEXT: usize = 96;
/// Capacity of [`Error::path`] in bytes; longer paths are cut with `…`.
pub const PATH_TEXT: usize = 192;

/// The kind of top-level record being decoded when an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// The 8-byte magic and version.
    Header,
    /// 0x00 QEMU_VM_EOF.
    Eof,
    /// 0x01 QEMU_VM_SECTION_START.
    SectionStart,
    /// 0x02 QEMU_VM_SECTION_PART.
    SectionPart,
    /// 0x03 QEMU_VM_SECTION_END.
    SectionEnd,
    /// 0x04 QEMU_VM_SECTION_FULL.
    SectionFull,
    /// 0x06 QEMU_VM_VMDESCRIPTION (the JSON trailer).
    VmDescription,
    /// 0x07 QEMU_VM_CONFIGURATION.
    Configuration,
    /// 0x08 QEMU_VM_COMMAND.
    Command,
    /// 0x7e QEMU_VM_SECTION_FOOTER.
    SectionFooter,
}

impl RecordKind {
    /// The name QEMU's sources use for this record.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Header => "HEADER",
            RecordKind::Eof => "EOF",
            RecordKind::SectionStart => "SECTION_START",
            RecordKind::SectionPart => "SECTION_PART",
            RecordKind::SectionEnd => "SECTION_END",
            RecordKind::SectionFull => "SECTION_FULL",
            RecordKind::VmDescription => "VMDESCRIPTION",
            RecordKind::Configuration => "CONFIGURATION",
            RecordKind::Command => "COMMAND",
            RecordKind::SectionFooter => "SECTION_FOOTER",
        }
    }
}

/// A fixed limit of the decoder that the input exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// More iterative sections open at once than the decoder tracks.
    OpenSections,
    /// More RAM blocks than the decoder tracks.
    RamBlocks,
    /// PACKAGED streams nested deeper than the decoder follows.
    PackageDepth,
    /// Struct and subsection nesting deeper than the field path holds.
    PathDepth,
    /// Too many array elements that consume no bytes.
    EmptyElements,
    /// More capabilities in the configuration than the decoder keeps.
    Capabilities,
}

/// What went wrong. Variant fields are named for what they hold.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ended inside a record; `needed` more bytes at least.
    Truncated { needed: u64 },
    /// The first four bytes are not "QEVM".
    BadMagic(u32),
    /// A stream version other than 3 (2 is the pre-2009 format).
    UnsupportedVersion(u32),
    /// A top-level record type byte that QEMU never writes.
    UnknownRecord(u8),
    /// A section footer naming another section than the one just read.
    FooterMismatch { expected: u32, found: u32 },
    /// SECTION_PART/END for a section id no SECTION_START announced.
    UnknownSectionId(u32),
    /// A COMMAND number outside 1..=11.
    UnknownCommand(u16),
    /// A COMMAND whose length does not fit its kind.
    CommandLength { command: u16, len: u16 },
    /// RAM entry flags that no QEMU writes.
    RamFlags(u64),
    /// A RAM section version other than 4.
    RamVersion(u32),
    /// A RAM page for a block missing from the block table.
    UnknownRamBlock,
    /// A RAM page beyond its block's used length.
    PageOutOfRange { addr: u64, len: u64 },
    /// The block table's lengths do not add up to MEM_SIZE's total.
    MemSizeMismatch { total: u64, sum: u64 },
    /// An iterative section (htab, s390) used flags its format lacks.
    BadFlags(u64),
    /// The guest side marked the section data as failed (error flag).
    SourceError,
    /// A section version the decoder does not know.
    SectionVersion(u32),
    /// A device section that neither the vmdesc, a built-in format nor a
    /// section footer can delimit.
    Unframeable,
    /// The vmdesc lists a subsection that the stream does not carry next.
    SubsectionExpected,
    /// The stream's subsection name differs from the vmdesc's.
    SubsectionName,
    /// A struct element the vmdesc describes as empty (QEMU < 8.2 pointer
    /// arrays) that is not a NULL marker: its layout is unknown.
    UndescribedElement,
    /// A fixed-width type (e.g. `uint64`) whose vmdesc "size" differs.
    TypeWidth { width: u64, size: u64 },
    /// A "nullptr" field whose byte is not '0'.
    NullptrMarker(u8),
    /// A field or struct consumed another number of bytes than its vmdesc
    /// "size" says.
    SizeMismatch { expected: u64, consumed: u64 },
    /// The vmdesc JSON is malformed or lacks something.
    Vmdesc(JsonError),
    /// A fixed decoder limit was exceeded.
    Limit(Limit),
    /// A record does not fit the push decoder's buffer.
    RecordTooLarge { needed: u64, capacity: usize },
    /// Bytes after the end of the stream (after EOF or the vmdesc).
    TrailingData,
    /// A record runs past the end of the PACKAGED stream holding it.
    PackageOverrun,
    /// An offset that points backwards (mapped-ram).
    BadOffset(u64),
    /// A mapped-ram bitmap or page run that the file does not hold.
    MappedRegion { offset: u64, len: u64 },
    /// A page size that is not a power of two between 512 B and 1 MiB.
    PageSize(u64),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { needed } => {
                write!(f, "stream truncated: {needed} more byte(s) needed")
            }
            ErrorKind::BadMagic(m) => write!(f, "not a QEMU migration stream (magic {m:#010x})"),
            ErrorKind::UnsupportedVersion(2) => {
                f.write_str("stream version 2 (pre-2009 format) is not supported")
            }
            ErrorKind::UnsupportedVersion(v) => write!(f, "unsupported stream version {v}"),
            ErrorKind::UnknownRecord(t) => write!(f, "unknown record type {t:#04x}"),
            ErrorKind::FooterMismatch { expected, found } => write!(
                f,
                "section footer for section {found} but section {expected} was just read"
            ),
            ErrorKind::UnknownSectionId(id) => write!(f, "unknown section id {id}"),
            ErrorKind::UnknownCommand(c) => write!(f, "unknown command {c}"),
            ErrorKind::CommandLength { command, len } => {
                write!(f, "command {command} with invalid length {len}")
            }
            ErrorKind::RamFlags(x) => write!(f, "invalid RAM flags {x:#x}"),
            ErrorKind::RamVersion(v) => write!(f, "unsupported RAM section version {v}"),
            ErrorKind::UnknownRamBlock => f.write_str("RAM page for an unknown block"),
            ErrorKind::PageOutOfRange { addr, len } => {
                write!(f, "RAM page at {addr:#x} beyond block length {len:#x}")
            }
            ErrorKind::MemSizeMismatch { total, sum } => write!(
                f,
                "RAM block lengths add up to {sum:#x}, MEM_SIZE says {total:#x}"
            ),
            ErrorKind::BadFlags(x) => write!(f, "invalid flags {x:#x}"),
            ErrorKind::SourceError => f.write_str("the source marked this data as failed"),
            ErrorKind::SectionVersion(v) => write!(f, "unsupported section version {v}"),
            ErrorKind::Unframeable => f.write_str(
                "cannot find the end of this section: no vmdesc entry, no built-in format and no footer",
            ),
            ErrorKind::SubsectionExpected => f.write_str("expected a subsection"),
            ErrorKind::SubsectionName => {
                f.write_str("subsection name differs from the vmdesc")
            }
            ErrorKind::TypeWidth { width, size } => write!(
                f,
                "vmdesc size {size} for a type that is {width} byte(s) wide"
            ),
            ErrorKind::UndescribedElement => {
                f.write_str("array element whose layout the vmdesc does not describe")
            }
            ErrorKind::NullptrMarker(b) => write!(f, "nullptr marker is {b:#04x}, not '0'"),
            ErrorKind::SizeMismatch { expected, consumed } => write!(
                f,
                "consumed {consumed} byte(s) where the vmdesc says {expected}"
            ),
            ErrorKind::Vmdesc(e) => write!(f, "vmdesc: {e}"),
            ErrorKind::Limit(l) => write!(f, "decoder limit exceeded: {l:?}"),
            ErrorKind::RecordTooLarge { needed, capacity } => write!(
                f,
                "record of {needed} bytes does not fit the {capacity}-byte buffer"
            ),
            ErrorKind::TrailingData => f.write_str("trailing data after the end of the stream"),
            ErrorKind::MappedRegion { offset, len } => write!(
                f,
                "mapped-ram data at {offset:#x} ({len} bytes) is not in the file"
            ),
            ErrorKind::PageSize(n) => write!(f, "invalid page size {n}"),
            ErrorKind::PackageOverrun => {
                f.write_str("record runs past the end of its PACKAGED stream")
            }
            ErrorKind::BadOffset(o) => write!(f, "offset {o:#x} points backwards"),
        }
    }
}

/// A decoding error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Absolute byte offset in the stream where the problem was seen.
    pub offset: u64,
    /// What went wrong.
    pub kind: ErrorKind,
    /// The top-level record being decoded, if any.
    pub record: Option<RecordKind>,
    /// The section's idstr (e.g. `0000:00:03.0/e1000`), empty if none.
    pub section: heapless::String<SECTION_TEXT>,
    /// The field path inside the section (e.g. `mac_reg[3]`), empty if none.
    pub path: heapless::String<PATH_TEXT>,
}

impl Error {
    /// An error at `offset` with no record, section or path context.
    pub fn new(offset: u64, kind: ErrorKind) -> Self {
        Error {
            offset,
            kind,
            record: None,
            section: heapless::String::new(),
            path: heapless::String::new(),
        }
    }
}

/// Writes `args` into `out`, cutting at capacity with a trailing `…`.
pub(crate) fn write_capped<const N: usize>(out: &mut heapless::String<N>, args: fmt::Arguments) {
    struct Capped<'a, const N: usize>(&'a mut heapless::String<N>, bool);
    impl<const N: usize> fmt::Write for Capped<'_, N> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if self.0.len() + c.len_utf8() + '…'.len_utf8() > N {
                    if !self.1 {
                        self.1 = true;
                        let _ = self.0.push('…');
                    }
                    return Ok(());
                }
                let _ = self.0.push(c);
            }
            Ok(())
        }
    }
    let _ = Capped(out, false).write_fmt(args);
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {} ({:#x})", self.offset, self.offset)?;
        if let Some(r) = self.record {
            write!(f, " in {}", r.name())?;
        }
        if !self.section.is_empty() {
            write!(f, " section '{}'", self.section)?;
        }
        if !self.path.is_empty() {
            write!(f, " field '{}'", self.path)?;
        }
        write!(f, ": {}", self.kind)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
