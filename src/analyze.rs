//! JSON documents compatible with QEMU's scripts/analyze-migration.py
//! (`-d state`, `-d desc`), built from the core's events (needs `std`).
//!
//! The layout follows that script's output, which is the interface tools
//! already parse: sections keyed `"idstr (section_id)"`; integers as
//! zero-padded hex strings sized by the vmdesc "size" (signed negatives add
//! ` (decimal)`); bools as JSON booleans; everything else as space-separated
//! hex bytes; fields sharing a name (array elements) gathered in a list;
//! subsections keyed by their name; RAM as its block sizes.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use serde_json::{Map, Value as Json};

use crate::visitor::{PageData, Path, RamBlock, RamPage, SectionHeader, Value, Visitor};
use crate::vmdesc::FieldDesc;
use crate::RecordKind;

/// How analyze-migration.py prints a field, chosen by its type name.
enum Style {
    Bool,
    Signed,
    Unsigned,
    Nullptr,
    Hex,
}

fn style(type_name: &[u8]) -> Style {
    match type_name {
        b"bool" => Style::Bool,
        // The script reads the two narrow "equal" unsigned types as
        // signed; its output is the contract.
        b"int8" | b"int16" | b"int32" | b"int32 equal" | b"int32 le" | b"int64"
        | b"int64 equal" | b"uint8 equal" | b"uint16 equal" => Style::Signed,
        b"uint8" | b"uint16" | b"uint32" | b"uint32 equal" | b"uint64" => Style::Unsigned,
        b"nullptr" => Style::Nullptr,
        _ => Style::Hex,
    }
}

/// Space-separated lowercase hex bytes, as the script prints buffers.
pub fn hex_bytes(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = Vec::with_capacity(b.len() * 3);
    for x in b {
        s.extend_from_slice(&[HEX[(x >> 4) as usize], HEX[(x & 15) as usize], b' ']);
    }
    s.pop();
    String::from_utf8(s).unwrap_or_default()
}

/// The `-m` dump entry of a page: its key (`block (0x%016x)`) and value
/// (`Filled with 0x%02x`, or the bytes as hex).
pub fn memory_entry(p: &RamPage<'_>) -> (String, String) {
    let key = format!("{} (0x{:016x})", String::from_utf8_lossy(p.block), p.addr);
    let value = match p.data {
        PageData::Fill(c) => format!("Filled with 0x{c:02x}"),
        PageData::Raw(d) => hex_bytes(d),
        PageData::Xbzrle(d) => format!("XBZRLE delta of {} bytes", d.len()),
        PageData::Compressed(d) => format!("zlib data of {} bytes", d.len()),
    };
    (key, value)
}

/// Formats a value the way analyze-migration.py does.
pub fn format_value(field: &FieldDesc<'_>, value: &Value<'_>) -> Json {
    let b = value.bytes;
    let width = b.len() * 2;
    let be = || b.iter().fold(0u128, |n, x| (n << 8) | *x as u128);
    match style(field.type_name.raw()) {
        Style::Bool => Json::Bool(b.first().is_some_and(|x| *x != 0)),
        Style::Unsigned if b.len() <= 16 => Json::String(format!("0x{:0width$x}", be())),
        Style::Signed if b.len() <= 16 && !b.is_empty() => {
            let u = be();
            if b[0] & 0x80 != 0 {
                let bits = b.len() as u32 * 8;
                let neg = (u as i128) - if bits == 128 { 0 } else { 1i128 << bits };
                Json::String(format!("0x{u:0width$x} ({neg})"))
            } else {
                Json::String(format!("0x{u:0width$x}"))
            }
        }
        Style::Nullptr => Json::String("nullptr".into()),
        _ if value.kind == crate::ValueKind::Capability => {
            Json::String(String::from_utf8_lossy(b).into_owned())
        }
        _ => Json::String(hex_bytes(b)),
    }
}

/// Inserts the way the script gathers same-named fields into a list.
fn gather(map: &mut Map<String, Json>, key: String, v: Json) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, v);
        }
        Some(Json::Array(list)) => list.push(v),
        Some(old) => {
            let first = old.take();
            *old = Json::Array(Vec::from([first, v]));
        }
    }
}

/// A visitor that builds the `-d state` document; with `memory`, also the
/// per-page dump that `-m` adds.
#[derive(Default)]
pub struct StateJson {
    sections: Vec<(u32, String, Json)>,
    stack: Vec<Map<String, Json>>,
    raw: Option<String>,
    current: Option<usize>,
    memory: bool,
}

impl StateJson {
    /// A builder; `memory` adds the RAM page dump.
    pub fn new(memory: bool) -> Self {
        StateJson {
            memory,
            ..Default::default()
        }
    }

    /// The finished document.
    pub fn into_json(self) -> Json {
        let mut m = Map::new();
        for (id, name, v) in self.sections {
            m.insert(format!("{name} ({id})"), v);
        }
        Json::Object(m)
    }

    fn slot(&mut self, id: u32, name: &[u8], init: Json) -> usize {
        let name = String::from_utf8_lossy(name).into_owned();
        match self.sections.iter().position(|s| s.0 == id) {
            Some(i) => {
                self.sections[i] = (id, name, init);
                i
            }
            None => {
                self.sections.push((id, name, init));
                self.sections.len() - 1
            }
        }
    }

    fn ram_map(&mut self, key: &str) -> Option<&mut Map<String, Json>> {
        let i = self.current?;
        self.sections[i]
            .2
            .as_object_mut()?
            .get_mut(key)?
            .as_object_mut()
    }
}

impl Visitor for StateJson {
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        match s.kind {
            RecordKind::SectionFull => {
                self.stack.clear();
                self.stack.push(Map::new());
                self.raw = None;
            }
            RecordKind::SectionStart => {
                let init = if s.name == b"ram" {
                    let mut m = Map::new();
                    m.insert("section sizes".into(), Json::Object(Map::new()));
                    if self.memory {
                        m.insert("memory".into(), Json::Object(Map::new()));
                    }
                    Json::Object(m)
                } else {
                    Json::String(String::new())
                };
                self.current = Some(self.slot(s.section_id, s.name, init));
            }
            _ => self.current = self.sections.iter().position(|x| x.0 == s.section_id),
        }
    }

    fn section_end(&mut self, s: &SectionHeader<'_>, _end: u64) {
        if s.kind != RecordKind::SectionFull {
            return;
        }
        let v = match self.raw.take() {
            Some(hex) => Json::String(hex),
            None => Json::Object(self.stack.pop().unwrap_or_default()),
        };
        self.stack.clear();
        self.slot(s.section_id, s.name, v);
    }

    fn raw_payload(&mut self, _s: &SectionHeader<'_>, payload: &[u8]) {
        self.raw = Some(hex_bytes(payload));
    }

    fn value(&mut self, _path: &Path<'_, '_>, field: &FieldDesc<'_>, value: &Value<'_>) {
        let v = format_value(field, value);
        if let Some(top) = self.stack.last_mut() {
            gather(top, field.name.to_string(), v);
        }
    }

    fn struct_start(&mut self, _path: &Path<'_, '_>, _field: &FieldDesc<'_>) {
        if !self.stack.is_empty() {
            self.stack.push(Map::new());
        }
    }

    fn struct_end(&mut self, _path: &Path<'_, '_>, field: &FieldDesc<'_>) {
        if self.stack.len() > 1 {
            let m = self.stack.pop().unwrap_or_default();
            if let Some(top) = self.stack.last_mut() {
                gather(top, field.name.to_string(), Json::Object(m));
            }
        }
    }

    fn subsection_start(&mut self, _path: &Path<'_, '_>, _name: &[u8], _version: u32) {
        if !self.stack.is_empty() {
            self.stack.push(Map::new());
        }
    }

    fn subsection_end(&mut self, _path: &Path<'_, '_>, name: &[u8]) {
        if self.stack.len() > 1 {
            let m = self.stack.pop().unwrap_or_default();
            if let Some(top) = self.stack.last_mut() {
                top.insert(String::from_utf8_lossy(name).into_owned(), Json::Object(m));
            }
        }
    }

    fn ram_block(&mut self, b: &RamBlock<'_>) {
        let name = String::from_utf8_lossy(b.name).into_owned();
        let len = b.used_length;
        if let Some(m) = self.ram_map("section sizes") {
            m.insert(name, Json::String(format!("0x{len:016x}")));
        }
    }

    fn ram_page(&mut self, p: &RamPage<'_>) {
        if !self.memory {
            return;
        }
        let (key, v) = memory_entry(p);
        if let Some(m) = self.ram_map("memory") {
            m.insert(key, Json::String(v));
        }
    }
}

/// The `-d state` document of a whole stream in memory.
pub fn state_json(stream: &[u8], memory: bool) -> Result<Json, crate::Error> {
    let mut b = StateJson::new(memory);
    crate::decode(stream, &mut b)?;
    Ok(b.into_json())
}

/// The `-d desc` document: the vmdesc itself, keys in stream order.
pub fn desc_json(vmdesc: &[u8]) -> Result<Json, serde_json::Error> {
    serde_json::from_slice(vmdesc)
}
