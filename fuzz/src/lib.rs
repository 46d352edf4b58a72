//! Shared pieces of the fuzz targets: a visitor that touches every event
//! (formatting paths and reading values) and fingerprints them, so that two
//! front ends can be compared.

#![no_std]

use core::fmt::Write as _;
use core::hash::{Hash, Hasher};

use qevm::vmdesc::FieldDesc;
use qevm::{Command, PageData, Path, RamBlock, RamPage, SectionHeader, Value, Visitor};

/// FNV-1a, to fingerprint events without std.
pub struct Fnv(pub u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// Fingerprints every event, formatting each path on the way.
pub struct Touch {
    pub h: Fnv,
    pub events: u64,
}

impl Default for Touch {
    fn default() -> Self {
        Touch {
            h: Fnv(0xcbf2_9ce4_8422_2325),
            events: 0,
        }
    }
}

impl Touch {
    fn path(&mut self, p: &Path<'_, '_>) {
        let mut s: heapless::String<256> = heapless::String::new();
        let _ = write!(s, "{p}");
        s.hash(&mut self.h);
        self.events += 1;
    }
}

impl Visitor for Touch {
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        (1u8, s.section_id, s.name, s.offset).hash(&mut self.h);
    }
    fn section_end(&mut self, s: &SectionHeader<'_>, end: u64) {
        (2u8, s.section_id, end).hash(&mut self.h);
    }
    fn value(&mut self, p: &Path<'_, '_>, f: &FieldDesc<'_>, v: &Value<'_>) {
        self.path(p);
        (v.bytes, v.as_u64(), v.as_i64(), f.size).hash(&mut self.h);
        let _ = (v.as_f64(), v.as_bool());
    }
    fn struct_start(&mut self, p: &Path<'_, '_>, _f: &FieldDesc<'_>) {
        self.path(p);
    }
    fn subsection_start(&mut self, p: &Path<'_, '_>, name: &[u8], version: u32) {
        self.path(p);
        (name, version).hash(&mut self.h);
    }
    fn raw_payload(&mut self, s: &SectionHeader<'_>, payload: &[u8]) {
        (3u8, s.section_id, payload).hash(&mut self.h);
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        (4u8, b.name, b.used_length, b.page_size, b.mr_addr).hash(&mut self.h);
    }
    fn ram_page(&mut self, p: &RamPage<'_>) {
        (5u8, p.block, p.addr).hash(&mut self.h);
        match p.data {
            PageData::Fill(c) => c.hash(&mut self.h),
            PageData::Raw(d) | PageData::Xbzrle(d) | PageData::Compressed(d) => d.hash(&mut self.h),
        }
    }
    fn skipped(&mut self, what: &[u8], offset: u64, len: u64) {
        (6u8, what, offset, len).hash(&mut self.h);
    }
    fn command(&mut self, c: &Command<'_>) {
        (7u8, c.kind as u8, c.data).hash(&mut self.h);
        if let Some((name, ranges)) = c.discard() {
            name.hash(&mut self.h);
            ranges.for_each(|r| r.hash(&mut self.h));
        }
    }
    fn package_end(&mut self) {
        8u8.hash(&mut self.h);
    }
    fn vmdesc(&mut self, offset: u64, len: u32, json: Option<&[u8]>) {
        (9u8, offset, len, json).hash(&mut self.h);
    }
}
