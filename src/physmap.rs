//! Guest-physical layout of x86 PC machines (i440fx `pc` and `q35`): where
//! QEMU maps the main RAM block (`pc.ram`) and the BIOS. RAM is split at
//! the machine's below-4G limit: the low part sits at address 0, the rest
//! at 4 GiB; the BIOS block ends at 4 GiB. The stream does not record the
//! `max-ram-below-4g` machine option, so a caller that used it must pass
//! the split itself.

/// An x86 PC board, which decides the default below-4G limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// `pc`, `pc-i440fx-*` (and the older `pc-X.Y` names).
    I440fx,
    /// `q35`, `pc-q35-*`.
    Q35,
}

impl Board {
    /// The board behind a machine type name from the configuration record.
    pub fn from_machine(name: &[u8]) -> Option<Board> {
        if name == b"q35" || name.starts_with(b"pc-q35-") {
            Some(Board::Q35)
        } else if name == b"pc" || name.starts_with(b"pc-i440fx-") || name.starts_with(b"pc-") {
            Some(Board::I440fx)
        } else {
            None
        }
    }

    /// RAM bytes QEMU maps below 4 GiB for a guest with `ram` bytes and no
    /// `max-ram-below-4g` option (machine types since QEMU 2.1, which align
    /// large guests to 1 GiB): i440fx keeps up to 3.5 GiB (3 GiB once RAM
    /// reaches 3.5 GiB), q35 up to 2.75 GiB (2 GiB once RAM reaches that).
    pub fn below_4g(self, ram: u64) -> u64 {
        let lowmem = match self {
            Board::I440fx if ram >= 0xe000_0000 => 0xc000_0000,
            Board::I440fx => 0xe000_0000,
            Board::Q35 if ram >= 0xb000_0000 => 0x8000_0000,
            Board::Q35 => 0xb000_0000,
        };
        ram.min(lowmem)
    }
}

/// A guest-physical range backed by part of a RAM block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range<'a> {
    /// The RAM block's name.
    pub block: &'a [u8],
    /// Offset of the range inside the block.
    pub offset: u64,
    /// Its guest-physical address.
    pub gpa: u64,
    /// Its length in bytes.
    pub len: u64,
}

const FOUR_GIB: u64 = 1 << 32;

/// The ranges of a PC guest, by address: RAM block `ram` (name, length)
/// with `below` bytes under 4 GiB, and the BIOS block `bios` ending at
/// 4 GiB. The legacy window 0xa0000..0x100000 is given as RAM, which is
/// what the guest reads there once its firmware has shadowed the ROMs
/// (the VGA window aside).
pub fn pc_ranges<'a>(
    ram: (&'a [u8], u64),
    bios: Option<(&'a [u8], u64)>,
    below: u64,
) -> heapless::Vec<Range<'a>, 3> {
    let mut v = heapless::Vec::new();
    let below = below.min(ram.1).min(FOUR_GIB);
    let mut push = |r: Range<'a>| {
        if r.len > 0 {
            // Three ranges at most, the vector's capacity.
            let _ = v.push(r);
        }
    };
    push(Range {
        block: ram.0,
        offset: 0,
        gpa: 0,
        len: below,
    });
    if let Some((name, len)) = bios.filter(|b| b.1 <= FOUR_GIB - below) {
        push(Range {
            block: name,
            offset: 0,
            gpa: FOUR_GIB - len,
            len,
        });
    }
    push(Range {
        block: ram.0,
        offset: below,
        gpa: FOUR_GIB,
        len: ram.1 - below,
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_names() {
        assert_eq!(Board::from_machine(b"pc-i440fx-10.0"), Some(Board::I440fx));
        assert_eq!(Board::from_machine(b"pc-q35-7.2"), Some(Board::Q35));
        assert_eq!(Board::from_machine(b"pc-1.0"), Some(Board::I440fx));
        assert_eq!(Board::from_machine(b"microvm"), None);
    }

    #[test]
    fn splits_follow_qemu() {
        assert_eq!(Board::I440fx.below_4g(16 << 20), 16 << 20);
        assert_eq!(Board::I440fx.below_4g(0xd000_0000), 0xd000_0000);
        assert_eq!(Board::I440fx.below_4g(4 << 30), 0xc000_0000);
        assert_eq!(Board::Q35.below_4g(0xa000_0000), 0xa000_0000);
        assert_eq!(Board::Q35.below_4g(0xb000_0000), 0x8000_0000);
        let r = pc_ranges(
            (b"pc.ram", 24 << 20),
            Some((b"pc.bios", 256 << 10)),
            16 << 20,
        );
        assert_eq!(r.len(), 3);
        assert_eq!((r[1].gpa, r[1].len), (0xfffc_0000, 256 << 10));
        assert_eq!(
            (r[2].offset, r[2].gpa, r[2].len),
            (16 << 20, 1 << 32, 8 << 20)
        );
    }
}
