//! The "ram" section payload (version 4): be64 `addr | flags` words, the
//! block table behind MEM_SIZE, and page entries (zero, raw, XBZRLE,
//! zlib-compressed), MULTIFD_FLUSH and EOS.

use crate::cursor::{Cursor, Parsed, Stop};
use crate::error::{ErrorKind, Limit};
use crate::visitor::{MappedRam, PageData};

/// RAM blocks a decoder tracks.
pub const MAX_RAM_BLOCKS: usize = 64;

const ZERO: u64 = 0x02;
const MEM_SIZE: u64 = 0x04;
const PAGE: u64 = 0x08;
const EOS: u64 = 0x10;
const CONTINUE: u64 = 0x20;
const XBZRLE: u64 = 0x40;
const COMPRESS_PAGE: u64 = 0x100;
const MULTIFD_FLUSH: u64 = 0x200;

/// Which optional per-block fields the block table carries.
#[derive(Clone, Copy, Default)]
pub(crate) struct TableFlags {
    /// POSTCOPY_ADVISE was seen: huge-page blocks carry their page size.
    pub(crate) postcopy: bool,
    /// x-ignore-shared: every block carries its region address.
    pub(crate) ignore_shared: bool,
    /// mapped-ram: every block carries a mapped-ram header.
    pub(crate) mapped_ram: bool,
}

/// One parsed entry of the payload.
pub(crate) enum Entry<'a> {
    /// MEM_SIZE: a block table of this many bytes follows.
    MemSize(u64),
    /// A page; `block` is `None` for CONTINUE (same block as before).
    Page {
        block: Option<&'a [u8]>,
        addr: u64,
        data: PageData<'a>,
    },
    /// MULTIFD_FLUSH.
    Flush,
    /// EOS: the end of this section's payload.
    Eos,
}

/// Parses one entry; `page_size` is the target page size.
pub(crate) fn entry<'a>(cur: &mut Cursor<'a>, page_size: u64) -> Parsed<Entry<'a>> {
    let at = cur.pos();
    let word = cur.be64()?;
    let flags = word & (page_size - 1);
    let addr = word & !(page_size - 1);
    let bad = || {
        Err(Stop::Fail {
            at,
            kind: ErrorKind::RamFlags(flags),
        })
    };
    match flags {
        MEM_SIZE => return Ok(Entry::MemSize(addr)),
        MULTIFD_FLUSH if addr == 0 => return Ok(Entry::Flush),
        EOS if addr == 0 => return Ok(Entry::Eos),
        _ => {}
    }
    let kind = flags & !CONTINUE;
    if !matches!(kind, ZERO | PAGE | XBZRLE | COMPRESS_PAGE) {
        return bad();
    }
    let block = if flags & CONTINUE != 0 {
        None
    } else {
        Some(cur.counted()?)
    };
    let data = match kind {
        ZERO => PageData::Fill(cur.u8()?),
        PAGE => PageData::Raw(cur.bytes(page_size)?),
        XBZRLE => {
            let enc = cur.u8()?;
            if enc != 1 {
                return bad();
            }
            let len = cur.be16()?;
            PageData::Xbzrle(cur.bytes(len as u64)?)
        }
        _ => {
            let len = cur.be32()?;
            PageData::Compressed(cur.bytes(len as u64)?)
        }
    };
    Ok(Entry::Page { block, addr, data })
}

/// One block table entry as read from the stream.
pub(crate) struct BlockEntry<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) used_length: u64,
    pub(crate) page_size: Option<u64>,
    pub(crate) mr_addr: Option<u64>,
    pub(crate) mapped_ram: Option<MappedRam>,
}

/// Parses one block table entry.
pub(crate) fn block_entry<'a>(cur: &mut Cursor<'a>, flags: TableFlags) -> Parsed<BlockEntry<'a>> {
    let name = cur.counted()?;
    let used_length = cur.be64()?;
    // A huge-page block's page size is a power of two; a block name's
    // length byte, an address word with flags, or a mapped-ram version
    // never reads as one.
    let page_size = if flags.postcopy {
        let v = cur.peek_be64()?;
        if v.is_power_of_two() && (4096..=1 << 40).contains(&v) {
            cur.be64()?;
            Some(v)
        } else {
            None
        }
    } else {
        None
    };
    let mr_addr = if flags.ignore_shared {
        Some(cur.be64()?)
    } else {
        None
    };
    let mapped_ram = if flags.mapped_ram {
        Some(MappedRam {
            version: cur.be32()?,
            page_size: cur.be64()?,
            bitmap_offset: cur.be64()?,
            pages_offset: cur.be64()?,
        })
    } else {
        None
    };
    Ok(BlockEntry {
        name,
        used_length,
        page_size,
        mr_addr,
        mapped_ram,
    })
}

/// A block of the table, kept to resolve CONTINUE pages and check ranges.
pub(crate) struct Block {
    pub(crate) name: heapless::Vec<u8, 255>,
    pub(crate) used_length: u64,
}

/// The block table and the block of the last named page.
#[derive(Default)]
pub(crate) struct Blocks {
    blocks: heapless::Vec<Block, MAX_RAM_BLOCKS>,
    current: Option<usize>,
}

impl Blocks {
    /// Adds (or, on a repeated table, updates) a block.
    pub(crate) fn add(&mut self, name: &[u8], used_length: u64) -> Result<(), ErrorKind> {
        if let Some(b) = self.blocks.iter_mut().find(|b| b.name == name) {
            b.used_length = used_length;
            return Ok(());
        }
        let mut n = heapless::Vec::new();
        n.extend_from_slice(name)
            .map_err(|_| ErrorKind::Limit(Limit::RamBlocks))?;
        self.blocks
            .push(Block {
                name: n,
                used_length,
            })
            .map_err(|_| ErrorKind::Limit(Limit::RamBlocks))
    }

    /// Resolves a page's block (named or CONTINUE) and checks its range;
    /// returns the block's index.
    pub(crate) fn resolve(
        &self,
        name: Option<&[u8]>,
        addr: u64,
        page_size: u64,
    ) -> Result<usize, ErrorKind> {
        let i = match name {
            Some(n) => self.blocks.iter().position(|b| b.name == n),
            None => self.current,
        }
        .ok_or(ErrorKind::UnknownRamBlock)?;
        let len = self.blocks[i].used_length;
        if addr.checked_add(page_size).is_none_or(|end| end > len) {
            return Err(ErrorKind::PageOutOfRange { addr, len });
        }
        Ok(i)
    }

    /// Makes block `i` the target of CONTINUE pages.
    pub(crate) fn set_current(&mut self, i: usize) {
        self.current = Some(i);
    }

    /// The name of block `i`.
    pub(crate) fn name(&self, i: usize) -> &[u8] {
        &self.blocks[i].name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_and_flags() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&(0x3000u64 | ZERO | CONTINUE).to_be_bytes());
        let mut buf = [0u8; 9];
        buf[..8].copy_from_slice(&w);
        let mut c = Cursor::new(&buf);
        match entry(&mut c, 4096) {
            Ok(Entry::Page {
                block: None,
                addr: 0x3000,
                data: PageData::Fill(0),
            }) => {}
            _ => panic!("not a zero page"),
        }
        let bad = (0x1000u64 | 0x80).to_be_bytes();
        assert!(matches!(
            entry(&mut Cursor::new(&bad), 4096),
            Err(Stop::Fail { .. })
        ));
        // With 8 KiB target pages (sparc64, alpha) bit 0x1000 is part of
        // the address: the same word is a page at 0x1000 for 4 KiB pages
        // and invalid flags for 8 KiB ones.
        let w = (0x1000u64 | PAGE).to_be_bytes();
        assert!(matches!(
            entry(&mut Cursor::new(&w), 4096),
            Err(Stop::Need(9))
        ));
        assert!(matches!(
            entry(&mut Cursor::new(&w), 8192),
            Err(Stop::Fail { .. })
        ));
    }
}
