//! `qevm state`: the `analyze-migration.py -d state` document, written as
//! the stream is read. Each section is built with the core's
//! [`StateJson`](qevm::analyze::StateJson) (device state is small); with
//! `--memory` the RAM page dump is written page by page as pages arrive,
//! so it never sits in memory.

use std::io::Write;

use qevm::analyze::{memory_entry, StateJson};
use qevm::vmdesc::FieldDesc;
use qevm::{Path, RamBlock, RamPage, RecordKind, SectionHeader, Value, Visitor};
use serde_json::Value as Json;

use crate::fail::Failure;
use crate::input::Sink;
use crate::jsonout::Object;

/// A section of the document, in order of first appearance (the script
/// keys an ordered dict by section id).
struct Slot {
    id: u32,
    name: String,
    value: Option<Json>,
}

/// The page dump in progress: the objects opened for it.
struct Dump {
    ram: Object,
    memory: Object,
}

/// A [`Sink`] writing the state document to `out`.
pub struct StateWriter<W: Write> {
    out: W,
    name: String,
    memory: bool,
    slots: Vec<Slot>,
    /// Slots already written out (only ever non-zero with a page dump).
    written: usize,
    /// The slot of the section being read, and the builder of its value.
    current: Option<usize>,
    building: Option<StateJson>,
    doc: Option<Object>,
    dump: Option<Dump>,
    failed: Option<Failure>,
}

impl<W: Write> StateWriter<W> {
    /// A writer to `out` (named `name` in errors); `memory` adds the dump.
    pub fn new(out: W, name: &str, memory: bool) -> Self {
        StateWriter {
            out,
            name: name.to_string(),
            memory,
            slots: Vec::new(),
            written: 0,
            current: None,
            building: None,
            doc: None,
            dump: None,
            failed: None,
        }
    }

    fn fail(&mut self, f: Failure) {
        self.failed.get_or_insert(f);
    }

    fn io(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            let what = self.name.clone();
            self.fail(Failure::io(what)(e));
        }
    }

    fn slot(&mut self, h: &SectionHeader<'_>) -> usize {
        let name = String::from_utf8_lossy(h.name).into_owned();
        match self.slots.iter().position(|s| s.id == h.section_id) {
            Some(i) => {
                if i < self.written && self.slots[i].name != name {
                    self.fail(Failure::Unsupported(format!(
                        "section id {} is reused after the page dump began; use `qevm state` without --memory",
                        h.section_id
                    )));
                }
                self.slots[i].name = name;
                i
            }
            None => {
                self.slots.push(Slot {
                    id: h.section_id,
                    name,
                    value: None,
                });
                self.slots.len() - 1
            }
        }
    }

    /// Stores the value of the section being built.
    fn settle(&mut self) {
        if let (Some(b), Some(i)) = (self.building.take(), self.current) {
            if let Json::Object(m) = b.into_json() {
                self.slots[i].value = m.into_iter().next().map(|(_, v)| v);
            }
        }
    }

    fn key(s: &Slot) -> String {
        format!("{} ({})", s.name, s.id)
    }

    /// Writes slots up to (not including) `end`.
    fn write_slots(&mut self, end: usize) -> std::io::Result<()> {
        let doc = match &mut self.doc {
            Some(d) => d,
            None => self.doc.insert(Object::open(&mut self.out, 0)?),
        };
        for s in &self.slots[self.written..end] {
            doc.member(
                &mut self.out,
                &Self::key(s),
                s.value.as_ref().unwrap_or(&Json::Null),
            )?;
        }
        self.written = self.written.max(end);
        Ok(())
    }

    /// Opens the page dump inside the RAM section at slot `i`: everything
    /// before it is written first, then its block sizes.
    fn open_dump(&mut self, i: usize) -> std::io::Result<()> {
        self.write_slots(i)?;
        let slot = &self.slots[i];
        let key = Self::key(slot);
        let sizes = slot
            .value
            .as_ref()
            .and_then(|v| v.get("section sizes"))
            .cloned()
            .unwrap_or_default();
        let doc = self.doc.as_mut().expect("opened by write_slots");
        doc.key(&mut self.out, &key)?;
        let mut ram = Object::open(&mut self.out, 1)?;
        ram.member(&mut self.out, "section sizes", &sizes)?;
        ram.key(&mut self.out, "memory")?;
        let memory = Object::open(&mut self.out, 2)?;
        self.written = i + 1;
        self.dump = Some(Dump { ram, memory });
        Ok(())
    }

    fn page(&mut self, p: &RamPage<'_>) -> std::io::Result<()> {
        let (key, v) = memory_entry(p);
        if let Some(dump) = &mut self.dump {
            dump.memory.member(&mut self.out, &key, &Json::String(v))?;
        }
        Ok(())
    }

    /// Writes what is left and closes the document.
    pub fn finish(mut self) -> Result<W, Failure> {
        if let Some(f) = self.failed.take() {
            return Err(f);
        }
        let r = (|| {
            if let Some(d) = self.dump.take() {
                d.memory.close(&mut self.out)?;
                d.ram.close(&mut self.out)?;
            }
            self.write_slots(self.slots.len())?;
            if let Some(doc) = self.doc.take() {
                doc.close(&mut self.out)?;
            }
            self.out.write_all(b"\n")?;
            self.out.flush()
        })();
        r.map_err(Failure::io(&self.name))?;
        Ok(self.out)
    }
}

impl<W: Write> Sink for StateWriter<W> {
    fn deferred(&mut self, section: &SectionHeader<'_>) {
        self.slot(section);
    }
}

impl<W: Write> Visitor for StateWriter<W> {
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        let i = self.slot(s);
        self.current = Some(i);
        if matches!(s.kind, RecordKind::SectionFull | RecordKind::SectionStart) {
            let mut b = StateJson::new(false);
            b.section_start(s);
            self.building = Some(b);
        }
    }
    fn section_end(&mut self, s: &SectionHeader<'_>, end: u64) {
        if let Some(b) = &mut self.building {
            b.section_end(s, end);
            self.settle();
        }
    }
    fn value(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>, value: &Value<'_>) {
        if let Some(b) = &mut self.building {
            b.value(path, field, value)
        }
    }
    fn struct_start(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>) {
        if let Some(b) = &mut self.building {
            b.struct_start(path, field)
        }
    }
    fn struct_end(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>) {
        if let Some(b) = &mut self.building {
            b.struct_end(path, field)
        }
    }
    fn subsection_start(&mut self, path: &Path<'_, '_>, name: &[u8], version: u32) {
        if let Some(b) = &mut self.building {
            b.subsection_start(path, name, version)
        }
    }
    fn subsection_end(&mut self, path: &Path<'_, '_>, name: &[u8]) {
        if let Some(b) = &mut self.building {
            b.subsection_end(path, name)
        }
    }
    fn raw_payload(&mut self, s: &SectionHeader<'_>, payload: &[u8]) {
        if let Some(b) = &mut self.building {
            b.raw_payload(s, payload)
        }
    }
    fn ram_block(&mut self, block: &RamBlock<'_>) {
        if let Some(b) = &mut self.building {
            b.ram_block(block)
        }
    }
    fn ram_page(&mut self, page: &RamPage<'_>) {
        if !self.memory || self.failed.is_some() {
            return;
        }
        if self.dump.is_none() {
            self.settle();
            let Some(i) = self.current else { return };
            if let Some(s) = self.slots[self.written..i]
                .iter()
                .find(|s| s.value.is_none())
            {
                let msg = format!(
                    "section '{}' comes before RAM but is only decodable at the stream's end; \
                     read the stream from a file for --memory",
                    s.name
                );
                self.fail(Failure::Unsupported(msg));
                return;
            }
            let r = self.open_dump(i);
            self.io(r);
        }
        let r = self.page(page);
        self.io(r);
    }
}
