//! mapped-ram (QEMU >= 9.0 `file:` migration): each RAM block keeps a
//! bitmap of the pages it saved and the pages themselves at fixed file
//! offsets, instead of page entries in the stream. Reading them needs
//! random access to the file ([`ReadAt`]); the slice front end has it, and
//! a push decoder is given one with [`crate::Decoder::with_source`].

use crate::error::ErrorKind;
use crate::visitor::{MappedRam, PageData, RamBlock, RamPage, Visitor};

/// Random access to the stream's bytes by absolute offset.
pub trait ReadAt {
    /// Exactly `len` bytes at `offset`, or `None` if they are not there
    /// (past the end, or an I/O error the implementation keeps).
    fn read_at(&mut self, offset: u64, len: usize) -> Option<&[u8]>;
    /// The total length in bytes.
    fn size(&mut self) -> u64;
}

/// `len` bytes of `bytes` at `offset`, if they are all there.
fn slice_at(bytes: &[u8], offset: u64, len: usize) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    bytes.get(start..start.checked_add(len)?)
}

impl ReadAt for &[u8] {
    fn read_at(&mut self, offset: u64, len: usize) -> Option<&[u8]> {
        slice_at(self, offset, len)
    }
    fn size(&mut self) -> u64 {
        self.len() as u64
    }
}

/// An owned copy of the stream (std), e.g. behind a `Box<dyn ReadAt>`.
#[cfg(feature = "std")]
impl ReadAt for std::vec::Vec<u8> {
    fn read_at(&mut self, offset: u64, len: usize) -> Option<&[u8]> {
        slice_at(self, offset, len)
    }
    fn size(&mut self) -> u64 {
        self.len() as u64
    }
}

/// Bitmap bytes examined per read.
const BITMAP_CHUNK: usize = 512;
/// Consecutive pages fetched per read, at most.
const RUN_BYTES: u64 = 1 << 20;

/// Reports the saved pages of mapped-ram block `block` (whose header is
/// `m`) as [`PageData::Raw`] pages, in address order. Pages whose bit is
/// clear were zero (or never saved) and are not reported. Returns the
/// number of pages reported.
pub fn emit_pages<R: ReadAt + ?Sized, V: Visitor>(
    block: &RamBlock<'_>,
    m: &MappedRam,
    source: &mut R,
    v: &mut V,
) -> Result<u64, ErrorKind> {
    let ps = m.page_size;
    if !ps.is_power_of_two() || !(512..=RUN_BYTES).contains(&ps) {
        return Err(ErrorKind::PageSize(ps));
    }
    let pages = block.used_length.div_ceil(ps);
    let missing = |offset: u64, len: u64| ErrorKind::MappedRegion { offset, len };
    let mut bits = [0u8; BITMAP_CHUNK];
    let mut reported = 0;
    let mut first = 0u64;
    while first < pages {
        let n = ((pages - first).div_ceil(8)).min(BITMAP_CHUNK as u64) as usize;
        let at = m.bitmap_offset.saturating_add(first / 8);
        let chunk = source.read_at(at, n).ok_or(missing(at, n as u64))?;
        bits[..n].copy_from_slice(chunk);
        let end = (first + 8 * n as u64).min(pages);
        // QEMU's bitmaps are arrays of host-endian longs; bit i of the
        // block is bit (i % 8) of byte i / 8 on little-endian hosts.
        let set = |p: u64| bits[((p - first) / 8) as usize] & (1 << (p % 8)) != 0;
        let mut p = first;
        while p < end {
            if !set(p) {
                p += 1;
                continue;
            }
            let mut q = p + 1;
            while q < end && set(q) && (q - p) * ps < RUN_BYTES {
                q += 1;
            }
            let at = m.pages_offset.saturating_add(p * ps);
            let len = (q - p) * ps;
            let run = source.read_at(at, len as usize).ok_or(missing(at, len))?;
            for (i, data) in run.chunks_exact(ps as usize).enumerate() {
                v.ram_page(&RamPage {
                    block: block.name,
                    addr: (p + i as u64) * ps,
                    page_size: ps,
                    data: PageData::Raw(data),
                });
            }
            reported += q - p;
            p = q;
        }
        first = end;
    }
    Ok(reported)
}
