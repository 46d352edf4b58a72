//! One RAM block as a raw image, without holding it: a second pass over
//! the file notes, for each page of the block, where its latest content is
//! (a fill byte, or the file offset of the PAGE entry's bytes). The browser
//! then builds a `Blob` from slices of the dropped `File` and a shared zero
//! buffer, so a multi-GiB block costs a few bytes per page.

use qevm::{Configuration, PageData, RamBlock, RamPage, Visitor};

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
    /// Raw bytes copied into [`BlockPages::copies`] (the entry straddled
    /// two chunks, so it was decoded from the decoder's buffer).
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
    /// Page contents that could not be located in the file.
    pub copies: Vec<Vec<u8>>,
    /// Pages whose content needs decoding the core leaves to its users
    /// (XBZRLE deltas, zlib pages), or a mapped-ram block.
    pub unsupported: Option<String>,
}

/// A visitor collecting the [`BlockPages`] of the block named `name`.
pub struct Collect {
    name: Vec<u8>,
    page_size: u64,
    chunk_base: u64,
    chunk_start: usize,
    chunk_end: usize,
    xbzrle: u64,
    compressed: u64,
    /// The result.
    pub pages: BlockPages,
}

impl Collect {
    /// Collects block `name` of a stream with this page size.
    pub fn new(name: &[u8], page_size: u64) -> Self {
        Collect {
            name: name.to_vec(),
            page_size: page_size.max(1),
            chunk_base: 0,
            chunk_start: 0,
            chunk_end: 0,
            xbzrle: 0,
            compressed: 0,
            pages: BlockPages::default(),
        }
    }

    /// The result, with pages the browser cannot rebuild reported.
    pub fn finish(mut self) -> BlockPages {
        if self.xbzrle + self.compressed > 0 && self.pages.unsupported.is_none() {
            self.pages.unsupported = Some(format!(
                "the block has {} XBZRLE and {} compressed page(s), which the page does not \
                 rebuild: use `qevm extract`",
                self.xbzrle, self.compressed
            ));
        }
        self.pages
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
        if b.mapped_ram.is_some() {
            p.unsupported = Some(
                "mapped-ram block: its pages sit at fixed file offsets, which the page does not \
                 read yet: use `qevm extract`"
                    .into(),
            );
        }
    }

    fn ram_page(&mut self, page: &RamPage<'_>) {
        if page.block != self.name.as_slice() {
            return;
        }
        let i = (page.addr / self.page_size) as usize;
        let slot = match page.data {
            PageData::Fill(b) => Slot::Fill(b),
            PageData::Raw(d) => {
                let at = d.as_ptr() as usize;
                if at >= self.chunk_start && at + d.len() <= self.chunk_end {
                    Slot::At(self.chunk_base + (at - self.chunk_start) as u64)
                } else {
                    self.pages.copies.push(d.to_vec());
                    Slot::Copy(self.pages.copies.len() as u32 - 1)
                }
            }
            PageData::Xbzrle(_) => {
                self.xbzrle += 1;
                return;
            }
            PageData::Compressed(_) => {
                self.compressed += 1;
                return;
            }
        };
        if let Some(s) = self.pages.slots.get_mut(i) {
            *s = slot;
        }
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
            let run = match *slot {
                Slot::Unsent => Run::Fill { byte: 0, len },
                Slot::Fill(byte) => Run::Fill { byte, len },
                Slot::At(at) => Run::File { at, len },
                Slot::Copy(index) => Run::Copy { index, len },
            };
            match (out.last_mut(), run) {
                (Some(Run::Fill { byte: a, len: l }), Run::Fill { byte: b, len }) if *a == b => {
                    *l += len
                }
                (Some(Run::File { at: a, len: l }), Run::File { at, len }) if *a + *l == at => {
                    *l += len
                }
                _ => out.push(run),
            }
        }
        out
    }
}
