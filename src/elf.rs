//! ELF core files of guest-physical memory, the format `dump-guest-memory`
//! writes and crash, gdb and volatility read: an ELF64 header, a PT_NOTE
//! with one NT_PRSTATUS (the general registers) per vCPU, and one PT_LOAD
//! per range (physical and virtual address both the guest-physical one),
//! the ranges' bytes following in order.

use crate::physmap::Range;

const EHDR: usize = 64;
const PHDR: usize = 56;
/// File alignment of the first range's bytes.
const ALIGN: u64 = 4096;
/// `struct elf_prstatus` of x86-64 Linux, and where its registers start.
const PRSTATUS: usize = 336;
const PR_REG: usize = 112;
/// An NT_PRSTATUS note: header, "CORE\0" padded to 8, the descriptor.
const NOTE: usize = 12 + 8 + PRSTATUS;

/// ELF machine numbers for the guests qevm maps.
pub const EM_X86_64: u16 = 62;

/// An x86-64 vCPU's general registers, from its migrated state (`cpu`
/// section: `env.regs`, `env.eip`, `env.eflags`, `env.segs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct X86Regs {
    /// RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15 (QEMU's order).
    pub gpr: [u64; 16],
    /// RIP.
    pub rip: u64,
    /// RFLAGS.
    pub rflags: u64,
    /// ES, CS, SS, DS, FS, GS selectors (QEMU's order).
    pub seg: [u64; 6],
    /// FS and GS bases.
    pub fs_base: u64,
    /// See `fs_base`.
    pub gs_base: u64,
}

impl X86Regs {
    /// Linux's `user_regs_struct` order (`orig_rax`, meaningless for a
    /// VM, is 0).
    fn user_regs(&self) -> [u64; 27] {
        let g = &self.gpr;
        let s = &self.seg;
        [
            g[15],
            g[14],
            g[13],
            g[12],
            g[5],
            g[3],
            g[11],
            g[10],
            g[9],
            g[8],
            g[0],
            g[1],
            g[2],
            g[6],
            g[7],
            0,
            self.rip,
            s[1],
            self.rflags,
            g[4],
            s[2],
            self.fs_base,
            self.gs_base,
            s[3],
            s[0],
            s[4],
            s[5],
        ]
    }
}

/// The header bytes for `ranges` and `cpus` (little-endian, for x86):
/// write them at offset 0, then each range's bytes at the offset
/// [`layout`] gives. Returns `None` if `out` is shorter than
/// [`header_len`].
pub fn write_header(
    ranges: &[Range<'_>],
    cpus: &[X86Regs],
    machine: u16,
    out: &mut [u8],
) -> Option<usize> {
    let n = header_len(ranges.len(), cpus.len());
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
    put(out, 56, &((ranges.len() + 1) as u16).to_le_bytes());
    let notes = EHDR + (ranges.len() + 1) * PHDR;
    phdr(out, EHDR, 4, 0, notes as u64, 0, (cpus.len() * NOTE) as u64); // PT_NOTE
    for (i, (r, offset)) in ranges.iter().zip(layout(ranges, cpus.len())).enumerate() {
        phdr(out, EHDR + (i + 1) * PHDR, 1, 7, offset, r.gpa, r.len); // PT_LOAD, RWX
    }
    for (i, cpu) in cpus.iter().enumerate() {
        let at = notes + i * NOTE;
        put(out, at, &5u32.to_le_bytes());
        put(out, at + 4, &(PRSTATUS as u32).to_le_bytes());
        put(out, at + 8, &1u32.to_le_bytes()); // NT_PRSTATUS
        put(out, at + 12, b"CORE\0");
        let desc = at + 20;
        put(out, desc + 32, &(i as u32 + 1).to_le_bytes()); // pr_pid
        for (k, v) in cpu.user_regs().iter().enumerate() {
            put(out, desc + PR_REG + 8 * k, &v.to_le_bytes());
        }
    }
    Some(n)
}

/// A program header of `kind` with `flags` at `at`: its bytes at file
/// `offset`, at address `addr` (physical and virtual), `len` bytes long.
fn phdr(out: &mut [u8], at: usize, kind: u32, flags: u32, offset: u64, addr: u64, len: u64) {
    put(out, at, &kind.to_le_bytes());
    put(out, at + 4, &flags.to_le_bytes());
    for (k, v) in [(8, offset), (16, addr), (24, addr), (32, len), (40, len)] {
        put(out, at + k, &v.to_le_bytes());
    }
}

fn put(out: &mut [u8], at: usize, v: &[u8]) {
    out[at..at + v.len()].copy_from_slice(v);
}

/// Bytes of the headers and notes for `ranges` ranges and `cpus` vCPUs.
pub fn header_len(ranges: usize, cpus: usize) -> usize {
    EHDR + (ranges + 1) * PHDR + cpus * NOTE
}

/// The file offset of each range's bytes: after the headers and notes,
/// page aligned.
pub fn layout<'r>(ranges: &'r [Range<'_>], cpus: usize) -> impl Iterator<Item = u64> + 'r {
    let start = (header_len(ranges.len(), cpus) as u64).next_multiple_of(ALIGN);
    ranges.iter().scan(start, |at, r| {
        let here = *at;
        *at += r.len;
        Some(here)
    })
}
