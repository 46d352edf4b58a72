//! `qevm info`: a summary of a stream, as text or (`--json`) as JSON. The
//! core's [`Summary`] gathers it all: machine, page size, capabilities,
//! uuid, commands, RAM blocks with page counts by kind, iterative sections,
//! devices with their section id, size and subsections, and totals.

use std::io::Write;

use qevm::summary::Summary;
use serde_json::Value as Json;

use crate::input::{Decoded, Sink};
use crate::style::Style;

/// The [`Sink`] of `info`.
pub type Info = Summary;

/// A new, empty [`Info`].
pub fn new() -> Info {
    Summary::default()
}

/// Completes the summary once the stream is read: devices in stream
/// order (a pipe's device sections are decoded after the stream's end),
/// the final page size and the size.
pub fn finish(s: &mut Info, d: &Decoded) {
    s.finish();
    s.devices.sort_by_key(|v| v.offset);
    s.page_size = d.page_size;
    s.total_bytes = d.size;
}

/// The summary as JSON ([`Summary::to_json`]).
pub fn to_json(s: &Info) -> Json {
    s.to_json()
}

/// The summary as text.
pub fn write_text(s: &Info, out: &mut impl Write, name: &str, st: Style) -> std::io::Result<()> {
    let none = || "-".to_string();
    let list = |v: Vec<String>| if v.is_empty() { none() } else { v.join(", ") };
    writeln!(
        out,
        "{}",
        st.bold(&format!(
            "{name}: QEMU migration stream, version {}",
            s.version
        ))
    )?;
    let cmds = s
        .commands
        .iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect();
    let rows = [
        ("machine", s.machine.clone().unwrap_or_else(none)),
        ("page size", s.page_size.to_string()),
        ("capabilities", list(s.capabilities.clone())),
        ("uuid", s.uuid.clone().unwrap_or_else(none)),
        ("commands", list(cmds)),
        ("stream size", bytes(s.total_bytes)),
        (
            "vmdesc",
            s.vmdesc_len
                .map_or_else(|| "absent".into(), |n| bytes(n as u64)),
        ),
    ];
    for (k, v) in rows {
        writeln!(out, "  {:<13} {v}", format!("{k}:"))?;
    }

    writeln!(
        out,
        "\n{}",
        st.bold(&format!("RAM blocks ({})", s.blocks.len()))
    )?;
    let mut t = Table::new(&[
        "block",
        "size",
        "zero",
        "raw",
        "xbzrle",
        "compressed",
        "non-zero",
    ]);
    // mapped-ram pages are read from the file; a pipe passes them over.
    let unread = s.skipped.contains_key("mapped-ram");
    for b in &s.blocks {
        let nonzero: u64 = b.nonzero.iter().map(|r| r.1).sum();
        t.row(vec![
            b.name.clone(),
            bytes(b.size),
            b.zero.to_string(),
            b.raw.to_string(),
            b.xbzrle.to_string(),
            b.compressed.to_string(),
            match (b.mapped_ram, unread) {
                (true, true) => "unread (mapped-ram, pipe)".into(),
                (true, false) => format!("{nonzero} (mapped-ram)"),
                _ => nonzero.to_string(),
            },
        ]);
    }
    t.write(out, st)?;

    if !s.iterative.is_empty() {
        writeln!(out, "\n{}", st.bold("Iterative sections"))?;
        let mut t = Table::new(&["id", "section", "records", "bytes"]);
        for i in &s.iterative {
            t.row(vec![
                i.section_id.to_string(),
                i.name.clone(),
                i.records.to_string(),
                i.bytes.to_string(),
            ]);
        }
        t.write(out, st)?;
    }

    writeln!(
        out,
        "\n{}",
        st.bold(&format!("Devices ({})", s.devices.len()))
    )?;
    let mut t = Table::new(&["id", "device", "instance", "version", "size", "subsections"]);
    for v in &s.devices {
        t.row(vec![
            v.section_id.to_string(),
            v.name.clone(),
            v.instance_id.to_string(),
            v.version.to_string(),
            v.size.to_string(),
            v.subsections.join(", "),
        ]);
    }
    t.write(out, st)?;

    let ram: u64 = s.blocks.iter().map(|b| b.size).sum();
    let dev: u64 = s.devices.iter().map(|d| d.size).sum();
    let sum = |f: fn(&qevm::summary::BlockSummary) -> u64| s.blocks.iter().map(f).sum::<u64>();
    writeln!(out, "\n{}", st.bold("Totals"))?;
    writeln!(
        out,
        "  RAM:     {} in {} block(s)",
        bytes(ram),
        s.blocks.len()
    )?;
    writeln!(
        out,
        "  pages:   {} zero, {} raw, {} xbzrle, {} compressed",
        sum(|b| b.zero),
        sum(|b| b.raw),
        sum(|b| b.xbzrle),
        sum(|b| b.compressed)
    )?;
    writeln!(
        out,
        "  devices: {} section(s), {} of state",
        s.devices.len(),
        bytes(dev)
    )
}

/// `n` bytes, with a binary unit when large.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit} ({n})")
}

/// A plain text table with left-aligned columns.
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: &[&str]) -> Self {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, r: Vec<String>) {
        self.rows.push(r);
    }

    pub fn write(&self, out: &mut impl Write, st: Style) -> std::io::Result<()> {
        let mut w: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |r: &[String]| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<0$}", w[i]))
                .collect();
            format!("  {}", cells.join("  ").trim_end())
        };
        writeln!(out, "{}", st.dim(&line(&self.head)))?;
        for r in &self.rows {
            writeln!(out, "{}", line(r))?;
        }
        Ok(())
    }
}

impl Sink for Summary {
    fn begin(&mut self, page_size: u64) {
        self.page_size = page_size;
    }
}
