//! `qevm check`: validates a stream and lists every problem with its byte
//! offset. The core already rejects mismatched footers, fields whose
//! consumed bytes differ from their vmdesc size, unknown section ids,
//! truncation and trailing data (it stops at the first); this adds what
//! needs the whole stream: a footer after every section when footers are
//! used at all, vmdesc devices missing from the stream, device sections the
//! vmdesc does not describe, the vmdesc page size against the
//! configuration's, and RAM blocks with pages never sent.

use std::fmt;
use std::io::Write;

use qevm::{
    Command, CommandKind, Configuration, RamBlock, RamPage, RecordKind, SectionHeader, Visitor,
};

use crate::fail::Failure;
use crate::input::{self, Decoded, Options, Sink};
use crate::style::Style;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where in the stream, if it is one place.
    pub offset: Option<u64>,
    /// The record kind there.
    pub record: Option<RecordKind>,
    /// The section's idstr, if any.
    pub section: String,
    /// The field path, if any.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl From<&qevm::Error> for Finding {
    fn from(e: &qevm::Error) -> Self {
        Finding {
            offset: Some(e.offset),
            record: e.record,
            section: e.section.to_string(),
            path: e.path.to_string(),
            message: e.kind.to_string(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(o) = self.offset {
            write!(f, "at byte {o} ({o:#x})")?;
            sep = " ";
        }
        if let Some(r) = self.record {
            write!(f, "{sep}in {}", r.name())?;
            sep = " ";
        }
        if !self.section.is_empty() {
            write!(f, "{sep}section '{}'", self.section)?;
            sep = " ";
        }
        if !self.path.is_empty() {
            write!(f, "{sep}field '{}'", self.path)?;
        }
        if self.offset.is_some() || self.record.is_some() || !self.section.is_empty() {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// Which pages of a RAM block were sent, at 512-byte granularity (the
/// smallest target page), so no page size is needed while reading.
struct Coverage {
    name: Vec<u8>,
    size: u64,
    sent: Vec<u64>,
}

const GRAIN: u64 = 512;

/// A section that ended and awaits its footer.
#[derive(Debug, Clone)]
struct Ended {
    id: u32,
    name: String,
    kind: RecordKind,
    end: u64,
}

/// The checks that need more than one record, fed by events.
#[derive(Default)]
pub struct Checker {
    findings: Vec<Finding>,
    footers: u64,
    awaiting: Option<Ended>,
    unfootered: Vec<Ended>,
    /// The top-level stream ended (events after it are sections decoded
    /// late in streaming mode).
    stream_done: bool,
    packages: u32,
    target_page_bits: Option<u32>,
    /// Whether the RAM coverage check applies (plain precopy).
    partial_ram: bool,
    blocks: Vec<Coverage>,
    last_block: usize,
    /// Device sections seen: name, instance id, and whether they were
    /// reported raw.
    sections: Vec<(String, u32, bool)>,
}

impl Checker {
    fn ended(&mut self, id: u32, name: &[u8], kind: RecordKind, end: u64) {
        if !self.stream_done {
            self.record_boundary();
            let name = String::from_utf8_lossy(name).into_owned();
            self.awaiting = Some(Ended {
                id,
                name,
                kind,
                end,
            });
        }
    }

    /// A record other than a footer begins: a section still awaiting its
    /// footer has none.
    fn record_boundary(&mut self) {
        if let Some(e) = self.awaiting.take() {
            self.unfootered.push(e);
        }
    }

    /// Adds the findings that need the whole stream.
    fn conclude(&mut self, d: &Decoded, desc: Option<&input::Desc<'_>>) {
        self.record_boundary();
        if self.footers > 0 {
            for e in std::mem::take(&mut self.unfootered) {
                self.findings.push(Finding {
                    offset: Some(e.end),
                    record: Some(e.kind),
                    section: e.name,
                    path: String::new(),
                    message: format!(
                        "section {} has no SECTION_FOOTER, though the stream uses footers",
                        e.id
                    ),
                });
            }
        }
        if let Some(desc) = desc {
            if let (Some(ps), Some(bits)) = (desc.page_size(), self.target_page_bits) {
                if ps != 1u64 << bits {
                    self.findings.push(Finding {
                        offset: None,
                        record: Some(RecordKind::Configuration),
                        section: String::new(),
                        path: String::new(),
                        message: format!("vmdesc page_size {ps} but target-page-bits {bits}"),
                    });
                }
            }
            for dev in desc.devices() {
                let name = dev.name.to_string();
                if !self
                    .sections
                    .iter()
                    .any(|(n, i, _)| *n == name && *i == dev.instance_id)
                {
                    self.findings.push(Finding {
                        offset: None,
                        record: Some(RecordKind::VmDescription),
                        section: name,
                        path: String::new(),
                        message: format!(
                            "the vmdesc describes instance {} but the stream has no such section",
                            dev.instance_id
                        ),
                    });
                }
            }
            for (name, inst, _) in self.sections.iter().filter(|s| s.2) {
                if desc.device(name.as_bytes(), *inst).is_none() {
                    self.findings.push(Finding {
                        offset: None,
                        record: Some(RecordKind::SectionFull),
                        section: name.clone(),
                        path: String::new(),
                        message: format!("instance {inst} is not described by the vmdesc"),
                    });
                }
            }
        }
        if !self.partial_ram {
            for b in &self.blocks {
                let step = (d.page_size / GRAIN).max(1);
                let pages = b.size.div_ceil(d.page_size);
                let missing = (0..pages).filter(|p| {
                    let g = p * step;
                    b.sent
                        .get((g / 64) as usize)
                        .is_none_or(|w| w & (1 << (g % 64)) == 0)
                });
                let (count, first) = missing.fold((0u64, None), |(n, f), p| (n + 1, f.or(Some(p))));
                if let Some(first) = first {
                    self.findings.push(Finding {
                        offset: None,
                        record: Some(RecordKind::SectionStart),
                        section: "ram".into(),
                        path: String::new(),
                        message: format!(
                            "RAM block '{}': {count} of {pages} page(s) never sent (first at {:#x})",
                            String::from_utf8_lossy(&b.name),
                            first * d.page_size
                        ),
                    });
                }
            }
        }
    }
}

impl Sink for Checker {
    fn deferred(&mut self, s: &qevm::SectionHeader<'_>) {
        self.ended(s.section_id, s.name, s.kind, s.offset);
    }
}

impl Visitor for Checker {
    fn configuration(&mut self, c: &Configuration<'_>) {
        self.record_boundary();
        self.target_page_bits = c.target_page_bits;
        self.partial_ram |= c.has_capability("x-ignore-shared") || c.has_capability("mapped-ram");
    }
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        if !self.stream_done {
            self.record_boundary();
        }
        if s.kind == RecordKind::SectionFull {
            self.sections.push((
                String::from_utf8_lossy(s.name).into_owned(),
                s.instance_id,
                false,
            ));
        }
    }
    fn raw_payload(&mut self, s: &SectionHeader<'_>, _payload: &[u8]) {
        if let Some(last) = self
            .sections
            .last_mut()
            .filter(|_| s.kind == RecordKind::SectionFull)
        {
            last.2 = true;
        }
    }
    fn section_end(&mut self, s: &SectionHeader<'_>, end: u64) {
        self.ended(s.section_id, s.name, s.kind, end);
    }
    fn footer(&mut self, _id: u32) {
        self.footers += 1;
        self.awaiting = None;
    }
    fn command(&mut self, c: &Command<'_>) {
        self.record_boundary();
        self.partial_ram |= matches!(c.kind, CommandKind::PostcopyAdvise | CommandKind::Packaged);
    }
    fn package_start(&mut self, _len: u32) {
        self.packages += 1;
    }
    fn package_end(&mut self) {
        self.packages = self.packages.saturating_sub(1);
    }
    fn eof(&mut self) {
        self.record_boundary();
        if self.packages == 0 {
            self.stream_done = true;
        }
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        let grains = b.used_length.div_ceil(GRAIN);
        self.blocks.push(Coverage {
            name: b.name.to_vec(),
            size: b.used_length,
            sent: vec![0; grains.div_ceil(64) as usize],
        });
    }
    fn ram_page(&mut self, p: &RamPage<'_>) {
        let Some(i) = crate::blocks::find(&self.blocks, &mut self.last_block, p.block, |b| &b.name)
        else {
            return;
        };
        let g = p.addr / GRAIN;
        if let Some(w) = self.blocks[i].sent.get_mut((g / 64) as usize) {
            *w |= 1 << (g % 64);
        }
    }
}

/// Runs `qevm check` on `path`: prints the findings; `Failure::Reported`
/// (exit 1) if there are any.
pub fn run(path: &str, opts: &Options, out: &mut impl Write, st: Style) -> Result<(), Failure> {
    let name = input::display_name(path);
    let mut c = Checker::default();
    match input::decode(path, opts, &mut c) {
        Ok(d) => {
            let json = d.vmdesc.clone();
            let desc = json
                .as_deref()
                .map(|j| input::parse_desc(j, 0, name))
                .transpose()?;
            c.conclude(&d, desc.as_ref());
        }
        Err(Failure::Decode { error, .. }) => {
            c.record_boundary();
            c.findings.push(Finding::from(&*error));
        }
        Err(f) => return Err(f),
    }
    let w = |r: std::io::Result<()>| r.map_err(Failure::io("standard output"));
    for f in &c.findings {
        w(writeln!(out, "{name}: {} {f}", st.red("error:")))?;
    }
    if c.findings.is_empty() {
        w(writeln!(out, "{name}: {}", st.green("ok")))?;
        Ok(())
    } else {
        w(writeln!(out, "{name}: {} finding(s)", c.findings.len()))?;
        Err(Failure::Reported)
    }
}
