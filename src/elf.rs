//! ELF core files of guest-physical memory, the format `dump-guest-memory`
//! writes and crash, gdb and volatility read: an ELF64 header and one
//! PT_LOAD program header per range (physical and virtual address both the
//! guest-physical one), the ranges' bytes following in order.

use crate::physmap::Range;

const EHDR: usize = 64;
const PHDR: usize = 56;
/// File alignment of the first range's bytes.
const ALIGN: u64 = 4096;

/// ELF machine numbers for the guests qevm maps.
pub const EM_X86_64: u16 = 62;

/// The header bytes for `ranges` (little-endian, for x86): write them at
/// offset 0, then each range's bytes at the offset [`layout`] gives.
/// Returns `None` if `out` is shorter than [`header_len`].
pub fn write_header(ranges: &[Range<'_>], machine: u16, out: &mut [u8]) -> Option<usize> {
    let n = header_len(ranges.len());
    let out = out.get_mut(..n)?;
    out.fill(0);
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // ELFCLASS64
    out[5] = 1; // little-endian
    out[6] = 1; // EV_CURRENT
    put(out, 16, &4u16.to_le_bytes()); // ET_CORE
    put(out, 18, &machine.to_le_bytes());
    put(out, 20, &1u32.to_le_bytes());
    put(out, 32, &(EHDR as u64).to_le_bytes()); // e_phoff
    put(out, 52, &(EHDR as u16).to_le_bytes());
    put(out, 54, &(PHDR as u16).to_le_bytes());
    put(out, 56, &(ranges.len() as u16).to_le_bytes());
    for (i, (r, offset)) in ranges.iter().zip(layout(ranges)).enumerate() {
        let p = EHDR + i * PHDR;
        put(out, p, &1u32.to_le_bytes()); // PT_LOAD
        put(out, p + 4, &7u32.to_le_bytes()); // RWX
        for (at, v) in [
            (8, offset),
            (16, r.gpa),
            (24, r.gpa),
            (32, r.len),
            (40, r.len),
        ] {
            put(out, p + at, &v.to_le_bytes());
        }
    }
    Some(n)
}

fn put(out: &mut [u8], at: usize, v: &[u8]) {
    out[at..at + v.len()].copy_from_slice(v);
}

/// Bytes of the ELF and program headers for `n` ranges.
pub fn header_len(n: usize) -> usize {
    EHDR + n * PHDR
}

/// The file offset of each range's bytes: after the headers, page aligned.
pub fn layout<'r>(ranges: &'r [Range<'_>]) -> impl Iterator<Item = u64> + 'r {
    let start = (header_len(ranges.len()) as u64).next_multiple_of(ALIGN);
    ranges.iter().scan(start, |at, r| {
        let here = *at;
        *at += r.len;
        Some(here)
    })
}
