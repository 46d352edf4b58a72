//! A summary of a stream (needs `std`): machine, version, page size,
//! capabilities, commands, RAM blocks with page counts by kind and where
//! their non-zero pages are, and every device section with its size and
//! subsections. The CLI's `info` and the web page show this.

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use serde_json::{json, Value as Json};

use crate::visitor::{
    Command, Configuration, PageData, Path, RamBlock, RamPage, SectionHeader, Visitor,
};
use crate::RecordKind;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Page counts of one RAM block, and its non-zero pages as ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockSummary {
    /// The block's idstr.
    pub name: String,
    /// Its used length in bytes.
    pub size: u64,
    /// ZERO entries whose fill byte is 0.
    pub zero: u64,
    /// Raw PAGE entries, plus ZERO entries with a non-zero fill byte.
    pub raw: u64,
    /// XBZRLE entries.
    pub xbzrle: u64,
    /// COMPRESS_PAGE entries.
    pub compressed: u64,
    /// Runs of pages whose last entry was not zero-filled:
    /// (first page index, page count), in address order.
    pub nonzero: Vec<(u64, u64)>,
    /// mapped-ram: the block's pages live at fixed file offsets instead
    /// (counted as raw pages when the decoder could read them).
    pub mapped_ram: bool,
}

/// One device section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSummary {
    /// The section idstr.
    pub name: String,
    /// Instance id.
    pub instance_id: u32,
    /// Section version.
    pub version: u32,
    /// Payload bytes.
    pub size: u64,
    /// Names of the subsections sent.
    pub subsections: Vec<String>,
    /// Absolute offset of the section record.
    pub offset: u64,
    /// The section id the stream gave it.
    pub section_id: u32,
}

/// An iterative section other than a device (ram, spapr/htab, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IterativeSummary {
    /// The section idstr.
    pub name: String,
    /// Its section id.
    pub section_id: u32,
    /// START, PART and END records.
    pub records: u64,
    /// Payload bytes over all its records.
    pub bytes: u64,
}

/// A visitor that builds the summary.
#[derive(Debug, Default)]
pub struct Summary {
    /// Stream version (3).
    pub version: u32,
    /// Machine type from the configuration, if sent.
    pub machine: Option<String>,
    /// Target page size used for RAM.
    pub page_size: u64,
    /// Capabilities listed in the configuration.
    pub capabilities: Vec<String>,
    /// The configuration's target-page-bits, if sent.
    pub target_page_bits: Option<u32>,
    /// The configuration's uuid as 32 hex digits, if sent.
    pub uuid: Option<String>,
    /// COMMAND records by QEMU's name, with counts.
    pub commands: BTreeMap<String, u64>,
    /// RAM blocks in table order.
    pub blocks: Vec<BlockSummary>,
    /// Device sections in stream order.
    pub devices: Vec<DeviceSummary>,
    /// Iterative sections in order of their START.
    pub iterative: Vec<IterativeSummary>,
    /// SECTION_FOOTER records.
    pub footers: u64,
    /// RAM MULTIFD_FLUSH entries.
    pub flushes: u64,
    /// PACKAGED nested streams.
    pub packages: u64,
    /// Whether a vmdesc trailer was present, and its length.
    pub vmdesc_len: Option<u32>,
    /// Iterative sections other than RAM (htab, s390 ...): name -> bytes
    /// framed but not decoded.
    pub skipped: BTreeMap<String, u64>,
    /// Total stream bytes seen (set by the caller at the end).
    pub total_bytes: u64,
    /// Per block (same order as `blocks`), one bit per page: set when the
    /// page's latest entry was not zero-filled.
    bits: Vec<Vec<u64>>,
    /// The block of the previous page, to skip the name lookup.
    last_block: usize,
    /// The iterative section whose payload is being read.
    open_iter: Option<usize>,
    depth: usize,
}

impl Summary {
    /// A summary for a stream whose target page size is presumed to be
    /// `page_size` until its RAM pages tell (mapped-ram streams send none).
    pub fn new(page_size: u64) -> Self {
        Summary {
            page_size,
            ..Default::default()
        }
    }

    /// Finishes the non-zero page ranges of every block.
    pub fn finish(&mut self) {
        for (b, bits) in self.blocks.iter_mut().zip(&self.bits) {
            let mut runs: Vec<(u64, u64)> = Vec::new();
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let page = w as u64 * 64 + word.trailing_zeros() as u64;
                    word &= word - 1;
                    match runs.last_mut() {
                        Some((start, n)) if *start + *n == page => *n += 1,
                        _ => runs.push((page, 1)),
                    }
                }
            }
            b.nonzero = runs;
        }
    }

    /// The summary as JSON (the CLI's `info --json`).
    pub fn to_json(&self) -> Json {
        let blocks: Vec<Json> = self
            .blocks
            .iter()
            .map(|b| {
                json!({
                    "name": b.name, "size": b.size, "zero": b.zero, "raw": b.raw,
                    "xbzrle": b.xbzrle, "compressed": b.compressed,
                    "nonzero_ranges": b.nonzero, "mapped_ram": b.mapped_ram,
                })
            })
            .collect();
        let devices: Vec<Json> = self
            .devices
            .iter()
            .map(|d| {
                json!({
                    "name": d.name, "instance_id": d.instance_id, "version": d.version,
                    "size": d.size, "subsections": d.subsections, "offset": d.offset,
                    "section_id": d.section_id,
                })
            })
            .collect();
        json!({
            "version": self.version,
            "machine": self.machine,
            "page_size": self.page_size,
            "capabilities": self.capabilities,
            "target_page_bits": self.target_page_bits,
            "uuid": self.uuid,
            "commands": self.commands,
            "ram_blocks": blocks,
            "devices": devices,
            "iterative_sections": self.iterative.iter().map(|i| json!({
                "name": i.name, "section_id": i.section_id, "records": i.records, "bytes": i.bytes,
            })).collect::<Vec<_>>(),
            "skipped": self.skipped,
            "vmdesc_bytes": self.vmdesc_len,
            "total_bytes": self.total_bytes,
            "totals": {
                "ram_bytes": self.blocks.iter().map(|b| b.size).sum::<u64>(),
                "device_bytes": self.devices.iter().map(|d| d.size).sum::<u64>(),
                "devices": self.devices.len(),
                "pages": self.blocks.iter().map(|b| b.zero + b.raw + b.xbzrle + b.compressed).sum::<u64>(),
                "section_footers": self.footers,
                "multifd_flushes": self.flushes,
                "packaged_streams": self.packages,
            },
        })
    }
}

impl Visitor for Summary {
    fn header(&mut self, version: u32) {
        self.version = version;
    }

    fn configuration(&mut self, c: &Configuration<'_>) {
        self.machine = Some(text(c.machine));
        self.capabilities = c.capabilities.iter().map(|c| text(c)).collect();
        self.target_page_bits = c.target_page_bits;
        self.uuid = c
            .uuid
            .map(|u| u.iter().map(|b| std::format!("{b:02x}")).collect());
    }

    fn section_start(&mut self, s: &SectionHeader<'_>) {
        self.open_iter = None;
        if s.kind == RecordKind::SectionFull {
            self.depth = 0;
            self.devices.push(DeviceSummary {
                name: text(s.name),
                instance_id: s.instance_id,
                version: s.version_id,
                offset: s.offset,
                section_id: s.section_id,
                ..Default::default()
            });
            return;
        }
        let i = match self
            .iterative
            .iter()
            .position(|i| i.section_id == s.section_id)
        {
            Some(i) => i,
            None => {
                self.iterative.push(IterativeSummary {
                    name: text(s.name),
                    section_id: s.section_id,
                    ..Default::default()
                });
                self.iterative.len() - 1
            }
        };
        self.iterative[i].records += 1;
        self.open_iter = Some(i);
    }

    fn section_end(&mut self, s: &SectionHeader<'_>, end: u64) {
        let len = end - s.payload_offset();
        if s.kind == RecordKind::SectionFull {
            if let Some(d) = self.devices.last_mut() {
                d.size = len;
            }
        } else if let Some(i) = self.open_iter.take() {
            self.iterative[i].bytes += len;
        }
    }

    fn footer(&mut self, _section_id: u32) {
        self.footers += 1;
    }

    fn ram_flush(&mut self) {
        self.flushes += 1;
    }

    fn package_start(&mut self, _len: u32) {
        self.packages += 1;
    }

    fn subsection_start(&mut self, _path: &Path<'_, '_>, name: &[u8], _version: u32) {
        if self.depth == 0 {
            if let Some(d) = self.devices.last_mut() {
                d.subsections.push(text(name));
            }
        }
        self.depth += 1;
    }

    fn subsection_end(&mut self, _path: &Path<'_, '_>, _name: &[u8]) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn ram_block(&mut self, b: &RamBlock<'_>) {
        if let Some(i) = self.blocks.iter().position(|x| x.name.as_bytes() == b.name) {
            self.blocks[i].size = b.used_length;
            self.bits[i].clear();
            return;
        }
        self.blocks.push(BlockSummary {
            name: text(b.name),
            size: b.used_length,
            mapped_ram: b.mapped_ram.is_some(),
            ..Default::default()
        });
        self.bits.push(Vec::new());
    }

    fn ram_page(&mut self, p: &RamPage<'_>) {
        if self
            .blocks
            .get(self.last_block)
            .is_none_or(|b| b.name.as_bytes() != p.block)
        {
            match self
                .blocks
                .iter()
                .position(|b| b.name.as_bytes() == p.block)
            {
                Some(i) => self.last_block = i,
                None => return,
            }
        }
        let b = &mut self.blocks[self.last_block];
        let nonzero = match p.data {
            PageData::Fill(0) => {
                b.zero += 1;
                false
            }
            PageData::Fill(_) | PageData::Raw(_) => {
                b.raw += 1;
                true
            }
            PageData::Xbzrle(_) => {
                b.xbzrle += 1;
                true
            }
            PageData::Compressed(_) => {
                b.compressed += 1;
                true
            }
        };
        self.page_size = p.page_size;
        let page = p.addr / p.page_size.max(1);
        // The decoder checked addr against the block's length, so this
        // grows to at most one bit per page of the block.
        let bits = &mut self.bits[self.last_block];
        let word = (page / 64) as usize;
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        let bit = 1u64 << (page % 64);
        if nonzero {
            bits[word] |= bit;
        } else {
            bits[word] &= !bit;
        }
    }

    fn skipped(&mut self, what: &[u8], _offset: u64, len: u64) {
        *self.skipped.entry(text(what)).or_default() += len;
    }

    fn command(&mut self, c: &Command<'_>) {
        *self.commands.entry(c.kind.name().into()).or_default() += 1;
    }

    fn vmdesc(&mut self, _offset: u64, len: u32, _json: Option<&[u8]>) {
        self.vmdesc_len = Some(len);
    }
}
