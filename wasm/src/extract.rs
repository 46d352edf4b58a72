//! One RAM block as a raw image, without holding it: a second pass over
//! the file notes, for each page of the block, where its latest content is
//! (a fill byte, or the file offset of the page's bytes). The browser then
//! builds a `Blob` from slices of the dropped `File` and a shared zero
//! buffer, so a multi-GiB block costs a few bytes per page. Pages that need
//! decoding (XBZRLE deltas, zlib pages) are decoded by the core and kept.

use qevm::mapped_ram::ReadAt;
use qevm::{Command, Configuration, PageData, RamBlock, RamPage, Visitor};

use crate::run::Sink;

/// Where a page's latest content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Never sent: zero.
    Unsent,
    /// Filled with this byte (ZERO entry).
    Fill(u8),
    /// Raw bytes at this absolute file offset.
    At(u64),
    /// Bytes kept in [`BlockPages::copies`]: a decoded XBZRLE or zlib
    /// page, or a raw entry that straddled two chunks (decoded from the
    /// decoder's buffer).
    Copy(u32),
}

/// The pages of one block.
#[derive(Debug, Default)]
pub struct BlockPages {
    /// The block was found in the block table.
    pub found: bool,
    /// Used length in bytes.
    pub size: u64,
    /// Target page size.
    pub page_size: u64,
    /// One slot per page.
    pub slots: Vec<Slot>,
    /// Page contents kept in memory.
    pub copies: Vec<Vec<u8>>,
    /// Why the image cannot be built: a mapped-ram block without random
    /// access to the file, or a page that does not decode.
    pub unsupported: Option<String>,
}

/// A visitor collecting the [`BlockPages`] of the block named `name`.
pub struct Collect {
    name: Vec<u8>,
    page_size: u64,
    chunk_base: u64,
    chunk_start: usize,
    chunk_end: usize,
    /// The block's page array, if it is a mapped-ram block.
    mapped_pages: Option<u64>,
    /// Reads earlier page copies that are no longer in memory.
    file: Option<Box<dyn ReadAt>>,
    /// The result.
    pub pages: BlockPages,
}

impl Collect {
    /// Collects block `name` of a stream with this page size; `file` is
    /// random access to the stream, if the platform has it.
    pub fn new(name: &[u8], page_size: u64, file: Option<Box<dyn ReadAt>>) -> Self {
        Collect {
            name: name.to_vec(),
            page_size: page_size.max(1),
            chunk_base: 0,
            chunk_start: 0,
            chunk_end: 0,
            mapped_pages: None,
            file,
            pages: BlockPages::default(),
        }
    }

    /// The result.
    pub fn finish(self) -> BlockPages {
        self.pages
    }

    /// The latest content of page `i` before this entry, if reachable.
    fn previous(&mut self, i: usize, len: usize) -> Result<Vec<u8>, &'static str> {
        Ok(match self.pages.slots.get(i).copied() {
            None | Some(Slot::Unsent) => vec![0; len],
            Some(Slot::Fill(b)) => vec![b; len],
            Some(Slot::Copy(c)) => self.pages.copies[c as usize].clone(),
            Some(Slot::At(at)) => {
                let Some(file) = self.file.as_mut() else {
                    return Err("its earlier copy is no longer in memory (no random access)");
                };
                let Some(bytes) = file.read_at(at, len) else {
                    return Err("its earlier copy could not be read");
                };
                bytes.to_vec()
            }
        })
    }

    /// Decodes an XBZRLE or zlib page into a kept copy.
    fn decode(&mut self, i: usize, page: &RamPage<'_>) -> Option<Slot> {
        let len = page.page_size as usize;
        let previous = if page.data.is_delta() {
            self.previous(i, len)
        } else {
            Ok(vec![0; len])
        };
        let r = previous.and_then(|mut bytes| {
            page.data
                .decode_into(&mut bytes)
                .map_err(|_| "it does not decode")?;
            Ok(bytes)
        });
        match r {
            Ok(bytes) => {
                self.pages.copies.push(bytes);
                Some(Slot::Copy(self.pages.copies.len() as u32 - 1))
            }
            Err(why) => {
                self.pages.unsupported.get_or_insert_with(|| {
                    format!(
                        "page {:#x} cannot be rebuilt: {why}: use `qevm extract`",
                        page.addr
                    )
                });
                None
            }
        }
    }
}

impl Visitor for Collect {
    fn configuration(&mut self, c: &Configuration<'_>) {
        if let Some(bits) = c.target_page_bits {
            self.page_size = 1 << bits.min(30);
        }
    }

    fn ram_block(&mut self, b: &RamBlock<'_>) {
        if b.name != self.name.as_slice() {
            return;
        }
        let p = &mut self.pages;
        p.found = true;
        p.size = b.used_length;
        p.page_size = self.page_size;
        p.slots = vec![Slot::Unsent; b.used_length.div_ceil(self.page_size) as usize];
        p.copies.clear();
        self.mapped_pages = b.mapped_ram.map(|m| m.pages_offset);
        if b.mapped_ram.is_some() && self.file.is_none() {
            p.unsupported = Some(
                "mapped-ram block: its pages sit at fixed file offsets, which need random \
                 access to the file (a worker's FileReaderSync): use `qevm extract`"
                    .into(),
            );
        }
    }

    fn command(&mut self, c: &Command<'_>) {
        match c.discard() {
            Some((block, ranges)) if block == self.name.as_slice() => {
                for (start, len) in ranges {
                    self.discard(start, len);
                }
            }
            _ => {}
        }
    }

    fn ram_page(&mut self, page: &RamPage<'_>) {
        if page.block != self.name.as_slice() {
            return;
        }
        let i = (page.addr / self.page_size) as usize;
        let slot = match (page.data, self.mapped_pages) {
            (PageData::Fill(b), _) => Slot::Fill(b),
            // mapped-ram: the page's bytes are at a fixed file offset.
            (PageData::Raw(_), Some(pages)) => Slot::At(pages + page.addr),
            (PageData::Raw(d), None) => {
                let at = d.as_ptr() as usize;
                if at >= self.chunk_start && at + d.len() <= self.chunk_end {
                    Slot::At(self.chunk_base + (at - self.chunk_start) as u64)
                } else {
                    self.pages.copies.push(d.to_vec());
                    Slot::Copy(self.pages.copies.len() as u32 - 1)
                }
            }
            (PageData::Xbzrle(_) | PageData::Compressed(_), _) => match self.decode(i, page) {
                Some(slot) => slot,
                None => return,
            },
        };
        if let Some(s) = self.pages.slots.get_mut(i) {
            *s = slot;
        }
    }
}

impl Collect {
    /// A POSTCOPY_RAM_DISCARD range (bytes) of the block: its pages read
    /// as zeros until sent again.
    fn discard(&mut self, start: u64, len: u64) {
        let first = (start / self.page_size) as usize;
        let end = start.saturating_add(len).div_ceil(self.page_size) as usize;
        let n = self.pages.slots.len();
        self.pages.slots[first.min(n)..end.min(n)].fill(Slot::Unsent);
    }
}

impl Sink for Collect {
    fn chunk(&mut self, base: u64, chunk: &[u8]) {
        self.chunk_base = base;
        self.chunk_start = chunk.as_ptr() as usize;
        self.chunk_end = self.chunk_start + chunk.len();
    }
}

/// A run of the image: what `len` bytes at some image offset hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Bytes `at..at + len` of the file.
    File { at: u64, len: u64 },
    /// `len` bytes of this value.
    Fill { byte: u8, len: u64 },
    /// The first `len` bytes of copy `index`.
    Copy { index: u32, len: u64 },
}

impl BlockPages {
    /// The image as runs, merging neighbours (file bytes that follow each
    /// other, fills of the same byte). The last page is cut to the size.
    pub fn runs(&self) -> Vec<Run> {
        let mut out: Vec<Run> = Vec::new();
        let ps = self.page_size;
        for (i, slot) in self.slots.iter().enumerate() {
            let len = ps.min(self.size - i as u64 * ps);
            push_run(
                &mut out,
                match *slot {
                    Slot::Unsent => Run::Fill { byte: 0, len },
                    Slot::Fill(byte) => Run::Fill { byte, len },
                    Slot::At(at) => Run::File { at, len },
                    Slot::Copy(index) => Run::Copy { index, len },
                },
            );
        }
        out
    }
}

/// Appends `run`, merged into the last one when they continue each other
/// (file bytes that follow each other, fills of the same byte).
pub fn push_run(out: &mut Vec<Run>, run: Run) {
    match (out.last_mut(), run) {
        (Some(Run::Fill { byte: a, len: l }), Run::Fill { byte: b, len }) if *a == b => *l += len,
        (Some(Run::File { at: a, len: l }), Run::File { at, len }) if *a + *l == at => *l += len,
        _ => out.push(run),
    }
}
