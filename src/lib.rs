//! qevm: a decoder for QEMU migration streams (`migrate "exec:cat > f"`,
//! `migrate file:f`, the vmstate of `savevm` snapshots).
//!
//! The core is `no_std`, has no unsafe code and never allocates: the
//! vmdesc JSON is scanned in place, limits are fixed capacities, and a push
//! decoder completes records that straddle chunks in a buffer the caller
//! hands in. Events go to a [`Visitor`], borrowing from the input.
//!
//! ```
//! use qevm::{Path, Value, Visitor, vmdesc::FieldDesc};
//!
//! /// Prints every device value with its path.
//! struct Print;
//! impl Visitor for Print {
//!     fn value(&mut self, path: &Path<'_, '_>, _field: &FieldDesc<'_>, value: &Value<'_>) {
//!         println!("{path} = {:?}", value.as_u64());
//!     }
//! }
//!
//! let stream = std::fs::read("tests/fixtures/x86_64-pc-7.2.mig").unwrap_or_default();
//! if !stream.is_empty() {
//!     qevm::decode(&stream, &mut Print).unwrap();
//! }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Errors carry their section name and field path inline, without a heap:
// a few hundred bytes, returned only when decoding stops.
#![allow(clippy::result_large_err)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
pub mod analyze;
mod command;
mod configuration;
mod cursor;
mod decoder;
pub mod elf;
pub mod error;
mod iterative;
pub mod json;
mod limits;
pub mod mapped_ram;
pub mod page;
pub mod physmap;
pub mod qcow2;
mod ram;
mod section;
mod state;
#[cfg(feature = "std")]
pub mod summary;
mod visitor;
pub mod vmdesc;

pub use decoder::{
    decode, decode_payload, decode_with, Decoder, DEFAULT_PAGE_SIZE, MAX_OPEN_SECTIONS,
    MAX_PACKAGE_DEPTH,
};
pub use error::{Error, ErrorKind, Limit, RecordKind};
pub use limits::Limits;
pub use ram::MAX_RAM_BLOCKS;
pub use state::{MAX_EMPTY_ELEMENTS, MAX_PATH};
pub use visitor::{
    type_width, Command, CommandKind, Configuration, Ignore, MappedRam, PageData, Path, RamBlock,
    RamPage, SectionHeader, Segment, Tee, Value, ValueKind, Visitor,
};
pub use vmdesc::{VmDesc, DEFAULT_DEVICES};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
