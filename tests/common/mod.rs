//! Shared helpers for the integration tests: the fixture corpus recorded
//! from real QEMU builds, and a visitor that fingerprints every event.

#![allow(dead_code)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use qevm::vmdesc::FieldDesc;
use qevm::{
    Command, Configuration, PageData, Path, RamBlock, RamPage, SectionHeader, Value, Visitor,
};

/// Every recorded stream in tests/fixtures, sorted by name.
pub fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mig"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "fixture corpus missing in {}", dir.display());
    v
}

/// The fixture's sibling file with another suffix, e.g. `.state.json`.
pub fn sibling(mig: &std::path::Path, suffix: &str) -> PathBuf {
    let stem = mig.file_stem().unwrap().to_str().unwrap();
    mig.with_file_name(format!("{stem}{suffix}"))
}

/// Hashes every event with its data, and counts them.
#[derive(Default)]
pub struct Fingerprint {
    pub h: DefaultHasher,
    pub events: u64,
    pub values: u64,
    pub pages: u64,
    pub raw_payloads: u64,
}

impl Fingerprint {
    fn ev(&mut self, tag: u8) {
        self.events += 1;
        tag.hash(&mut self.h);
    }
    pub fn digest(&self) -> (u64, u64) {
        (self.h.finish(), self.events)
    }
}

impl Visitor for Fingerprint {
    fn header(&mut self, version: u32) {
        self.ev(1);
        version.hash(&mut self.h);
    }
    fn configuration(&mut self, c: &Configuration<'_>) {
        self.ev(2);
        c.machine.hash(&mut self.h);
        c.target_page_bits.hash(&mut self.h);
        c.capabilities.hash(&mut self.h);
        c.uuid.hash(&mut self.h);
    }
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        self.ev(3);
        (s.section_id, s.name, s.instance_id, s.version_id, s.offset).hash(&mut self.h);
    }
    fn section_end(&mut self, s: &SectionHeader<'_>, end: u64) {
        self.ev(4);
        (s.section_id, end).hash(&mut self.h);
    }
    fn footer(&mut self, id: u32) {
        self.ev(5);
        id.hash(&mut self.h);
    }
    fn value(&mut self, path: &Path<'_, '_>, f: &FieldDesc<'_>, v: &Value<'_>) {
        self.ev(6);
        self.values += 1;
        path.to_string().hash(&mut self.h);
        f.type_name.raw().hash(&mut self.h);
        v.bytes.hash(&mut self.h);
    }
    fn struct_start(&mut self, path: &Path<'_, '_>, _f: &FieldDesc<'_>) {
        self.ev(7);
        path.to_string().hash(&mut self.h);
    }
    fn struct_end(&mut self, _path: &Path<'_, '_>, _f: &FieldDesc<'_>) {
        self.ev(8);
    }
    fn subsection_start(&mut self, _path: &Path<'_, '_>, name: &[u8], version: u32) {
        self.ev(9);
        (name, version).hash(&mut self.h);
    }
    fn subsection_end(&mut self, _path: &Path<'_, '_>, _name: &[u8]) {
        self.ev(10);
    }
    fn raw_payload(&mut self, s: &SectionHeader<'_>, payload: &[u8]) {
        self.ev(11);
        self.raw_payloads += 1;
        (s.section_id, payload).hash(&mut self.h);
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        self.ev(12);
        (b.name, b.used_length, b.page_size, b.mr_addr).hash(&mut self.h);
    }
    fn ram_page(&mut self, p: &RamPage<'_>) {
        self.ev(13);
        self.pages += 1;
        (p.block, p.addr).hash(&mut self.h);
        match p.data {
            PageData::Fill(c) => (0u8, c).hash(&mut self.h),
            PageData::Raw(d) => (1u8, d).hash(&mut self.h),
            PageData::Xbzrle(d) => (2u8, d).hash(&mut self.h),
            PageData::Compressed(d) => (3u8, d).hash(&mut self.h),
        }
    }
    fn ram_flush(&mut self) {
        self.ev(14);
    }
    fn skipped(&mut self, what: &[u8], offset: u64, len: u64) {
        self.ev(15);
        (what, offset, len).hash(&mut self.h);
    }
    fn command(&mut self, c: &Command<'_>) {
        self.ev(16);
        (c.kind as u8, c.data).hash(&mut self.h);
    }
    fn package_start(&mut self, len: u32) {
        self.ev(17);
        len.hash(&mut self.h);
    }
    fn package_end(&mut self) {
        self.ev(18);
    }
    fn eof(&mut self) {
        self.ev(19);
    }
    fn vmdesc(&mut self, offset: u64, len: u32, json: Option<&[u8]>) {
        self.ev(20);
        (offset, len, json).hash(&mut self.h);
    }
}
