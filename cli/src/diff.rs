//! `qevm diff`: what differs between two streams. Device state is compared
//! by section (idstr and instance id), subsection and field path, with
//! values formatted as in `qevm state`; RAM is compared page by page
//! through 64-bit content hashes, summarised per block. Both streams are
//! read at once, each on its own thread, keeping only hashes of pages.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use qevm::analyze::format_value;
use qevm::vmdesc::FieldDesc;
use qevm::{PageData, Path, RamBlock, RamPage, RecordKind, SectionHeader, Value, Visitor};
use serde_json::{json, Value as Json};

use crate::blocks;
use crate::fail::Failure;
use crate::input::{self, Options, Sink};
use crate::jsonout;
use crate::style::Style;

/// Differing page ranges listed per block, at most.
const RANGES_SHOWN: usize = 16;

/// A device section's state.
#[derive(Default)]
struct Device {
    version: u32,
    fields: BTreeMap<String, String>,
    subsections: BTreeSet<String>,
}

/// A page's content, as far as it can be told without the page itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Digest {
    /// Every byte is this one.
    Fill(u8),
    /// A hash of the bytes.
    Hash(u64),
    /// An XBZRLE delta (needs the previous copy) or a malformed page.
    Unknown,
}

/// Hashes a page so that any single differing 8-byte word changes the
/// result (each step is a bijection of the state).
fn digest(page: &[u8]) -> Digest {
    if let Some(&first) = page.first() {
        if page.iter().all(|&b| b == first) {
            return Digest::Fill(first);
        }
    }
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut words = page.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        h = (h ^ x)
            .wrapping_mul(0x0100_0000_01b3_u64 | 1 << 63)
            .rotate_left(29);
    }
    for &b in words.remainder() {
        h = (h ^ b as u64)
            .wrapping_mul(0x0100_0000_01b3_u64 | 1 << 63)
            .rotate_left(29);
    }
    Digest::Hash(h)
}

/// A RAM block: its size, its pages' size and the last digest of every
/// page sent.
struct Block {
    name: String,
    size: u64,
    page_size: u64,
    pages: Vec<(u64, Digest)>,
}

/// What `diff` keeps of one stream.
#[derive(Default)]
struct Snapshot {
    /// Devices by (idstr, instance id), in stream order.
    order: Vec<(String, u32)>,
    devices: BTreeMap<(String, u32), Device>,
    open: Option<(String, u32)>,
    blocks: Vec<Block>,
    last_block: usize,
}

impl Snapshot {
    fn device(&mut self) -> Option<&mut Device> {
        let key = self.open.as_ref()?;
        self.devices.get_mut(key)
    }

    /// A path relative to the open device.
    fn rel(&self, path: &Path<'_, '_>) -> String {
        let full = path.to_string();
        match &self.open {
            Some((name, _)) => full
                .strip_prefix(name.as_str())
                .map(|r| r.trim_start_matches('/').to_string())
                .unwrap_or(full),
            None => full,
        }
    }
}

impl Sink for Snapshot {}

impl Visitor for Snapshot {
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        self.open = None;
        if s.kind != RecordKind::SectionFull {
            return;
        }
        let key = (String::from_utf8_lossy(s.name).into_owned(), s.instance_id);
        if !self.devices.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.devices.insert(
            key.clone(),
            Device {
                version: s.version_id,
                ..Default::default()
            },
        );
        self.open = Some(key);
    }
    fn section_end(&mut self, _s: &SectionHeader<'_>, _end: u64) {
        self.open = None;
    }
    fn value(&mut self, path: &Path<'_, '_>, field: &FieldDesc<'_>, value: &Value<'_>) {
        let rel = self.rel(path);
        let v = match format_value(field, value) {
            Json::String(s) => s,
            other => other.to_string(),
        };
        if let Some(d) = self.device() {
            d.fields.insert(rel, v);
        }
    }
    fn subsection_start(&mut self, path: &Path<'_, '_>, _name: &[u8], _version: u32) {
        let rel = self.rel(path);
        if let Some(d) = self.device() {
            d.subsections.insert(rel);
        }
    }
    fn raw_payload(&mut self, _s: &SectionHeader<'_>, payload: &[u8]) {
        let v = match digest(payload) {
            Digest::Hash(h) => format!("{} raw byte(s), hash {h:016x}", payload.len()),
            _ => format!("{} raw byte(s)", payload.len()),
        };
        if let Some(d) = self.device() {
            d.fields.insert("(raw payload)".into(), v);
        }
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        let name = String::from_utf8_lossy(b.name).into_owned();
        self.blocks.push(Block {
            name,
            size: b.used_length,
            page_size: qevm::DEFAULT_PAGE_SIZE,
            pages: Vec::new(),
        });
    }
    fn ram_page(&mut self, p: &RamPage<'_>) {
        let found = blocks::find(&self.blocks, &mut self.last_block, p.block, |b| {
            b.name.as_bytes()
        });
        let Some(i) = found else { return };
        let d = match p.data {
            PageData::Fill(c) => Digest::Fill(c),
            PageData::Raw(d) => digest(d),
            PageData::Xbzrle(_) => Digest::Unknown,
            PageData::Compressed(_) => {
                let mut page = vec![0u8; p.page_size as usize];
                match p.data.decode_into(&mut page) {
                    Ok(()) => digest(&page),
                    Err(_) => Digest::Unknown,
                }
            }
        };
        let b = &mut self.blocks[i];
        b.page_size = p.page_size;
        b.pages.push((p.addr, d));
    }
}

/// Reads one stream into a snapshot; page lists end sorted, last copy wins.
fn snapshot(path: &str, opts: &Options) -> Result<Snapshot, Failure> {
    let mut s = Snapshot::default();
    input::decode(path, opts, &mut s)?;
    for b in &mut s.blocks {
        b.pages.reverse();
        b.pages.sort_by_key(|p| p.0);
        b.pages.dedup_by_key(|p| p.0);
    }
    Ok(s)
}

/// How one device differs.
#[derive(Default)]
struct DeviceDiff {
    version: Option<(u32, u32)>,
    subsections_added: Vec<String>,
    subsections_removed: Vec<String>,
    added: Vec<(String, String)>,
    removed: Vec<(String, String)>,
    changed: Vec<(String, String, String)>,
}

impl DeviceDiff {
    fn of(a: &Device, b: &Device) -> Self {
        let mut d = DeviceDiff {
            version: (a.version != b.version).then_some((a.version, b.version)),
            subsections_added: b.subsections.difference(&a.subsections).cloned().collect(),
            subsections_removed: a.subsections.difference(&b.subsections).cloned().collect(),
            ..Default::default()
        };
        for (k, va) in &a.fields {
            match b.fields.get(k) {
                None => d.removed.push((k.clone(), va.clone())),
                Some(vb) if vb != va => d.changed.extend(changed_bytes(k, va, vb)),
                Some(_) => {}
            }
        }
        for (k, vb) in &b.fields {
            if !a.fields.contains_key(k) {
                d.added.push((k.clone(), vb.clone()));
            }
        }
        d
    }

    fn is_empty(&self) -> bool {
        self.version.is_none()
            && self.subsections_added.is_empty()
            && self.subsections_removed.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
    }

    fn json(&self, name: &str, inst: u32) -> Json {
        json!({
            "name": name,
            "instance_id": inst,
            "version": self.version.map(|(a, b)| json!([a, b])),
            "subsections": {"added": self.subsections_added, "removed": self.subsections_removed},
            "fields": {
                "added": self.added.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "removed": self.removed.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "changed": self.changed.iter().map(|(k, a, b)| (k.clone(), json!([a, b]))).collect::<serde_json::Map<_, _>>(),
            },
        })
    }
}

/// The changes of one field. Long byte strings of equal length (device
/// buffers) are narrowed to the byte ranges that differ, named
/// `field[bytes N..M]`.
fn changed_bytes(key: &str, a: &str, b: &str) -> Vec<(String, String, String)> {
    let whole = || vec![(key.to_string(), a.to_string(), b.to_string())];
    let hex = |s: &str| -> Option<Vec<String>> {
        let t: Vec<String> = s.split(' ').map(str::to_string).collect();
        t.iter()
            .all(|x| x.len() == 2 && x.bytes().all(|c| c.is_ascii_hexdigit()))
            .then_some(t)
    };
    let (Some(ta), Some(tb)) = (hex(a), hex(b)) else {
        return whole();
    };
    if ta.len() != tb.len() || ta.len() <= 16 {
        return whole();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < ta.len() {
        if ta[i] == tb[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < ta.len() && ta[i] != tb[i] {
            i += 1;
        }
        let name = format!("{key}[bytes {start}..{i}]");
        out.push((name, ta[start..i].join(" "), tb[start..i].join(" ")));
    }
    out
}

/// How one RAM block differs.
struct BlockDiff {
    name: String,
    size: (Option<u64>, Option<u64>),
    /// Pages sent in either stream.
    pages: u64,
    differing: u64,
    /// Pages whose content cannot be compared (XBZRLE).
    unknown: u64,
    ranges: Vec<(u64, u64)>,
}

impl BlockDiff {
    fn of(name: &str, a: Option<&Block>, b: Option<&Block>) -> Self {
        let mut d = BlockDiff {
            name: name.to_string(),
            size: (a.map(|x| x.size), b.map(|x| x.size)),
            pages: 0,
            differing: 0,
            unknown: 0,
            ranges: Vec::new(),
        };
        let empty = Vec::new();
        let (pa, pb) = (
            a.map_or(&empty, |x| &x.pages),
            b.map_or(&empty, |x| &x.pages),
        );
        let page = a.or(b).map_or(qevm::DEFAULT_PAGE_SIZE, |x| x.page_size);
        let (mut i, mut j) = (0, 0);
        // Pages never sent are left as zeros by the destination.
        let zero = Digest::Fill(0);
        while i < pa.len() || j < pb.len() {
            let (addr, da, db) = match (pa.get(i), pb.get(j)) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    i += 1;
                    j += 1;
                    (x.0, x.1, y.1)
                }
                (Some(x), y) if y.is_none_or(|y| x.0 < y.0) => {
                    i += 1;
                    (x.0, x.1, zero)
                }
                (_, Some(y)) => {
                    j += 1;
                    (y.0, zero, y.1)
                }
                _ => break,
            };
            d.pages += 1;
            if da == Digest::Unknown || db == Digest::Unknown {
                d.unknown += 1;
            } else if da != db {
                d.differing += 1;
                match d.ranges.last_mut() {
                    Some(r) if r.1 == addr => r.1 = addr + page,
                    _ => d.ranges.push((addr, addr + page)),
                }
            }
        }
        d
    }

    fn is_empty(&self) -> bool {
        self.size.0 == self.size.1 && self.differing == 0 && self.unknown == 0
    }

    fn json(&self) -> Json {
        json!({
            "block": self.name,
            "size": [self.size.0, self.size.1],
            "pages": self.pages,
            "differing": self.differing,
            "unknown": self.unknown,
            "ranges": self.ranges.iter().take(RANGES_SHOWN).map(|r| json!([r.0, r.1])).collect::<Vec<_>>(),
            "more_ranges": self.ranges.len().saturating_sub(RANGES_SHOWN),
        })
    }
}

/// Everything that differs.
struct Report {
    added: Vec<(String, u32)>,
    removed: Vec<(String, u32)>,
    changed: Vec<((String, u32), DeviceDiff)>,
    blocks: Vec<BlockDiff>,
}

impl Report {
    fn of(a: &Snapshot, b: &Snapshot) -> Self {
        let mut r = Report {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            blocks: Vec::new(),
        };
        for key in &a.order {
            match b.devices.get(key) {
                None => r.removed.push(key.clone()),
                Some(db) => {
                    let d = DeviceDiff::of(&a.devices[key], db);
                    if !d.is_empty() {
                        r.changed.push((key.clone(), d));
                    }
                }
            }
        }
        r.added = b
            .order
            .iter()
            .filter(|k| !a.devices.contains_key(*k))
            .cloned()
            .collect();
        let mut names: Vec<&str> = a.blocks.iter().map(|x| x.name.as_str()).collect();
        names.extend(
            b.blocks
                .iter()
                .map(|x| x.name.as_str())
                .filter(|n| !a.blocks.iter().any(|x| x.name == *n)),
        );
        for n in names {
            let d = BlockDiff::of(
                n,
                a.blocks.iter().find(|x| x.name == n),
                b.blocks.iter().find(|x| x.name == n),
            );
            if !d.is_empty() {
                r.blocks.push(d);
            }
        }
        r
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.blocks.is_empty()
    }

    fn json(&self) -> Json {
        let dev = |k: &(String, u32)| json!({"name": k.0, "instance_id": k.1});
        json!({
            "devices": {
                "added": self.added.iter().map(dev).collect::<Vec<_>>(),
                "removed": self.removed.iter().map(dev).collect::<Vec<_>>(),
                "changed": self.changed.iter().map(|(k, d)| d.json(&k.0, k.1)).collect::<Vec<_>>(),
            },
            "ram": self.blocks.iter().map(BlockDiff::json).collect::<Vec<_>>(),
        })
    }

    fn write_text(&self, out: &mut impl Write, a: &str, b: &str, st: Style) -> std::io::Result<()> {
        writeln!(out, "{}", st.bold(&format!("--- {a}\n+++ {b}")))?;
        if self.is_empty() {
            return writeln!(out, "no differences");
        }
        for (n, i) in &self.removed {
            writeln!(out, "{}", st.red(&format!("- device {n} (instance {i})")))?;
        }
        for (n, i) in &self.added {
            writeln!(out, "{}", st.green(&format!("+ device {n} (instance {i})")))?;
        }
        for ((n, i), d) in &self.changed {
            writeln!(
                out,
                "{}",
                st.yellow(&format!("~ device {n} (instance {i})"))
            )?;
            if let Some((va, vb)) = d.version {
                writeln!(out, "    version {va} -> {vb}")?;
            }
            for s in &d.subsections_removed {
                writeln!(out, "{}", st.red(&format!("  - subsection {s}")))?;
            }
            for s in &d.subsections_added {
                writeln!(out, "{}", st.green(&format!("  + subsection {s}")))?;
            }
            for (k, v) in &d.removed {
                writeln!(out, "{}", st.red(&format!("  - {k} = {v}")))?;
            }
            for (k, v) in &d.added {
                writeln!(out, "{}", st.green(&format!("  + {k} = {v}")))?;
            }
            for (k, va, vb) in &d.changed {
                writeln!(out, "{}", st.yellow(&format!("  ~ {k}: {va} -> {vb}")))?;
            }
        }
        for bd in &self.blocks {
            let size =
                |s: Option<u64>| s.map_or_else(|| "absent".to_string(), |n| format!("{n:#x}"));
            let mut line = format!(
                "~ RAM {}: {} of {} page(s) differ",
                bd.name, bd.differing, bd.pages
            );
            if bd.unknown > 0 {
                line += &format!(", {} not comparable (XBZRLE)", bd.unknown);
            }
            if bd.size.0 != bd.size.1 {
                line += &format!(", size {} -> {}", size(bd.size.0), size(bd.size.1));
            }
            writeln!(out, "{}", st.yellow(&line))?;
            let shown: Vec<String> = bd
                .ranges
                .iter()
                .take(RANGES_SHOWN)
                .map(|r| format!("{:#x}-{:#x}", r.0, r.1 - 1))
                .collect();
            if !shown.is_empty() {
                let more = bd.ranges.len().saturating_sub(RANGES_SHOWN);
                let tail = if more > 0 {
                    format!(" and {more} more range(s)")
                } else {
                    String::new()
                };
                writeln!(out, "    {}{tail}", shown.join(", "))?;
            }
        }
        Ok(())
    }
}

/// Runs `qevm diff A B` (each read with its own options: a qcow2 image's
/// snapshot); `Failure::Reported` (exit 1) if they differ.
pub fn run(
    a: &str,
    b: &str,
    json: bool,
    opts: (&Options, &Options),
    out: &mut impl Write,
    st: Style,
) -> Result<(), Failure> {
    if a == "-" && b == "-" {
        return Err(Failure::Usage(
            "only one of the two streams can be standard input".into(),
        ));
    }
    let (sa, sb) = std::thread::scope(|s| {
        let tb = s.spawn(|| snapshot(b, opts.1));
        let sa = snapshot(a, opts.0);
        (
            sa,
            tb.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    let r = Report::of(&sa?, &sb?);
    let w = if json {
        jsonout::print(out, &r.json())
    } else {
        let (la, lb) = (input::label(a, opts.0), input::label(b, opts.1));
        r.write_text(out, &la, &lb, st)
    };
    w.map_err(Failure::io("standard output"))?;
    if r.is_empty() {
        Ok(())
    } else {
        Err(Failure::Reported)
    }
}
