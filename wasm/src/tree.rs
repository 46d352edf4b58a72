//! [`Tree`]: the device tree the page shows, built from the core's events.
//! No decoding here: values are formatted by `qevm::analyze::format_value`
//! (analyze-migration.py's notation), paths by the core's `Path`.
//!
//! Layout: `[{"name", "id", "instance", "version", "offset", "size",
//! "fields": [node...], "raw"?}]`, a node being
//! `{"n": label, "t": type, "p": path, "v": value, "b": true if raw bytes}`
//! or, for structs and subsections, `{"n", "t", "p", "c": [node...]}`.

use qevm::analyze::{format_value, hex_bytes};
use qevm::vmdesc::FieldDesc;
use qevm::{Path, RecordKind, SectionHeader, Segment, Value, ValueKind, Visitor};
use serde_json::{json, Map, Value as Json};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The last step of a path as a label: `name`, or `name[i]` for an element.
fn label(path: &Path<'_, '_>) -> String {
    let s = path.segments;
    match s.last() {
        Some(Segment::Index(i)) => {
            let name = match s.len().checked_sub(2).map(|k| &s[k]) {
                Some(Segment::Name(n)) => n.to_string(),
                Some(Segment::Stream(b)) => text(b),
                _ => String::new(),
            };
            format!("{name}[{i}]")
        }
        Some(Segment::Name(n)) => n.to_string(),
        Some(Segment::Stream(b)) => text(b),
        None => String::new(),
    }
}

/// A visitor that builds the device tree.
#[derive(Default)]
pub struct Tree {
    devices: Vec<Json>,
    /// The device being read.
    device: Option<Map<String, Json>>,
    /// Children lists of the open struct / subsection nodes (bottom: the device's fields).
    stack: Vec<Vec<Json>>,
    /// Versions of the open subsections.
    versions: Vec<u32>,
}

impl Tree {
    /// The finished tree.
    pub fn into_json(self) -> Json {
        Json::Array(self.devices)
    }

    fn push(&mut self, node: Json) {
        if let Some(top) = self.stack.last_mut() {
            top.push(node);
        }
    }
}

impl Visitor for Tree {
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        if s.kind != RecordKind::SectionFull {
            return;
        }
        let mut m = Map::new();
        m.insert("name".into(), text(s.name).into());
        m.insert("id".into(), s.section_id.into());
        m.insert("instance".into(), s.instance_id.into());
        m.insert("version".into(), s.version_id.into());
        m.insert("offset".into(), s.offset.into());
        self.device = Some(m);
        self.stack = vec![Vec::new()];
        self.versions.clear();
    }

    fn section_end(&mut self, s: &SectionHeader<'_>, end: u64) {
        if s.kind != RecordKind::SectionFull {
            return;
        }
        let Some(mut m) = self.device.take() else {
            return;
        };
        let header = 1 + 4 + 1 + s.name.len() as u64 + 4 + 4;
        m.insert(
            "size".into(),
            (end - s.offset).saturating_sub(header).into(),
        );
        let fields = self.stack.drain(..).next().unwrap_or_default();
        m.insert("fields".into(), Json::Array(fields));
        self.devices.push(Json::Object(m));
    }

    fn value(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>, value: &Value<'_>) {
        let mut node = json!({
            "n": label(path), "t": field.type_name.to_string(), "p": path.to_string(),
            "v": format_value(field, value),
        });
        if value.kind == ValueKind::Bytes {
            node["b"] = true.into();
        }
        self.push(node);
    }

    fn struct_start(&mut self, _path: &Path<'_, '_>, _field: &FieldDesc<'_>) {
        if !self.stack.is_empty() {
            self.stack.push(Vec::new());
        }
    }

    fn struct_end(&mut self, path: &Path<'_, '_>, _field: &FieldDesc<'_>) {
        if self.stack.len() > 1 {
            let c = self.stack.pop().unwrap_or_default();
            self.push(json!({"n": label(path), "t": "struct", "p": path.to_string(), "c": c}));
        }
    }

    fn subsection_start(&mut self, _path: &Path<'_, '_>, _name: &[u8], version: u32) {
        if !self.stack.is_empty() {
            self.stack.push(Vec::new());
            self.versions.push(version);
        }
    }

    fn subsection_end(&mut self, path: &Path<'_, '_>, name: &[u8]) {
        if self.stack.len() > 1 {
            let c = self.stack.pop().unwrap_or_default();
            let v = self.versions.pop().unwrap_or_default();
            self.push(json!({
                "n": text(name), "t": "subsection", "version": v, "p": path.to_string(), "c": c,
            }));
        }
    }

    fn raw_payload(&mut self, _s: &SectionHeader<'_>, payload: &[u8]) {
        if let Some(m) = &mut self.device {
            m.insert("raw".into(), hex_bytes(payload).into());
        }
    }
}
