//! A read-only qcow2 reader for the vmstate of internal snapshots:
//! `savevm` writes the same migration stream as `migrate` into the image,
//! at guest-invisible offsets past the disk's end (the first L1 entry
//! beyond it), and the snapshot table records where and how long it is.
//! The reader follows the snapshot's own L1 table to L2 entries and
//! clusters (plain, zero, unallocated or compressed), without a heap:
//! clusters are read into a caller buffer. Format: QEMU's docs/interop/qcow2.txt.

use core::fmt;

use crate::mapped_ram::ReadAt;
use crate::page::inflate;

/// Why an image cannot be read; `offset` is the byte in the image file
/// where the offending structure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qcow2Error {
    /// Byte offset in the image file.
    pub offset: u64,
    /// What is wrong there.
    pub what: &'static str,
}

impl fmt::Display for Qcow2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "qcow2: {} (image byte {:#x})", self.what, self.offset)
    }
}

type Result<T> = core::result::Result<T, Qcow2Error>;

const MAGIC: &[u8; 4] = b"QFI\xfb";
/// Largest cluster QEMU creates (2 MiB): the size of the caller's buffer.
pub const MAX_CLUSTER: usize = 2 << 20;
/// The fixed part of a snapshot table entry.
const SNAPSHOT_FIXED: usize = 40;
/// Bits 9..=55 of L1 and standard L2 entries: a host offset.
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const COMPRESSED: u64 = 1 << 62;
const ZERO: u64 = 1;

fn fail<T>(offset: u64, what: &'static str) -> Result<T> {
    Err(Qcow2Error { offset, what })
}

fn be(b: &[u8], at: usize, n: usize) -> u64 {
    b[at..at + n]
        .iter()
        .fold(0, |v, &x| (v << 8) | u64::from(x))
}

/// Whether `head` (a file's first bytes) starts with the qcow2 magic.
pub fn is_qcow2(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// The image header: what the reader needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    /// 2 or 3.
    pub version: u32,
    /// log2 of the cluster size (9..=21).
    pub cluster_bits: u32,
    /// The virtual disk size in bytes.
    pub size: u64,
    /// Entries in the snapshot table.
    pub snapshots: u32,
    snapshots_offset: u64,
    /// The active L1 table: offset and entries.
    l1: (u64, u32),
}

impl Image {
    /// Reads and checks the header. Encrypted images, external data
    /// files, extended L2 entries and zstd compression are refused.
    pub fn open(src: &mut (impl ReadAt + ?Sized)) -> Result<Image> {
        let h = match src.read_at(0, 72) {
            Some(h) => h,
            None => return fail(0, "file too short for a qcow2 header"),
        };
        if !is_qcow2(h) {
            return fail(0, "not a qcow2 image (bad magic)");
        }
        let version = be(h, 4, 4) as u32;
        let cluster_bits = be(h, 20, 4) as u32;
        let img = Image {
            version,
            cluster_bits,
            size: be(h, 24, 8),
            snapshots: be(h, 60, 4) as u32,
            snapshots_offset: be(h, 64, 8),
            l1: (be(h, 40, 8), be(h, 36, 4) as u32),
        };
        if !(2..=3).contains(&version) {
            return fail(4, "unsupported qcow2 version");
        }
        if !(9..=21).contains(&cluster_bits) {
            return fail(20, "cluster size out of range");
        }
        if be(h, 32, 4) != 0 {
            return fail(32, "encrypted images are not supported");
        }
        if version == 3 {
            let v3 = match src.read_at(0, 105) {
                Some(v3) => v3,
                None => return fail(72, "file too short for a version 3 header"),
            };
            let incompatible = be(v3, 72, 8);
            if incompatible & (1 << 2) != 0 {
                return fail(72, "images with an external data file are not supported");
            }
            if incompatible & (1 << 4) != 0 {
                return fail(72, "extended L2 entries are not supported");
            }
            if incompatible & !0x1f != 0 {
                return fail(72, "unknown incompatible features");
            }
            let header_length = be(v3, 100, 4);
            if incompatible & (1 << 3) != 0 && header_length > 104 && v3[104] != 0 {
                return fail(104, "zstd-compressed images are not supported");
            }
        }
        Ok(img)
    }

    fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// Bytes of guest-virtual space one L1 entry covers.
    fn l1_span(&self) -> u64 {
        1 << (2 * self.cluster_bits - 3)
    }

    /// Calls `f` with every snapshot table entry, in table order.
    pub fn for_each_snapshot(
        &self,
        src: &mut (impl ReadAt + ?Sized),
        mut f: impl FnMut(&Snapshot<'_>),
    ) -> Result<()> {
        let mut at = self.snapshots_offset;
        for _ in 0..self.snapshots {
            let Some(fixed) = src.read_at(at, SNAPSHOT_FIXED) else {
                return fail(at, "snapshot table entry past the end of the file");
            };
            let extra = be(fixed, 36, 4) as usize;
            let len =
                SNAPSHOT_FIXED + extra + be(fixed, 12, 2) as usize + be(fixed, 14, 2) as usize;
            let Some(entry) = src.read_at(at, len) else {
                return fail(at, "snapshot table entry past the end of the file");
            };
            f(&Snapshot::parse(entry, self.size));
            at += len.next_multiple_of(8) as u64;
        }
        Ok(())
    }

    /// The snapshot whose name (or else ID) is `name`.
    pub fn find_snapshot(
        &self,
        src: &mut (impl ReadAt + ?Sized),
        name: &[u8],
    ) -> Result<Option<VmState>> {
        let (mut by_name, mut by_id) = (None, None);
        self.for_each_snapshot(src, |s| {
            if s.name == name && by_name.is_none() {
                by_name = Some(s.vmstate);
            } else if s.id == name && by_id.is_none() {
                by_id = Some(s.vmstate);
            }
        })?;
        Ok(by_name.or(by_id))
    }

    /// Reads cluster `index` of `vm`'s vmstate into `out` (at least one
    /// cluster long); returns the vmstate bytes it holds (less than a
    /// cluster for the last one, none past the end).
    pub fn read_vmstate_cluster<'o>(
        &self,
        src: &mut (impl ReadAt + ?Sized),
        vm: &VmState,
        index: u64,
        out: &'o mut [u8],
    ) -> Result<&'o [u8]> {
        let (cluster, keep) = self.vmstate_cluster(src, vm, index)?;
        let out = self.read(src, cluster, out)?;
        Ok(&out[..keep])
    }

    /// Where cluster `index` of `vm`'s vmstate is, and how many of its
    /// bytes belong to the vmstate: a reader can slice plain clusters out
    /// of the file without copying them.
    pub fn vmstate_cluster(
        &self,
        src: &mut (impl ReadAt + ?Sized),
        vm: &VmState,
        index: u64,
    ) -> Result<(Cluster, usize)> {
        let cs = self.cluster_size();
        let start = index.saturating_mul(cs);
        let keep = vm.len.saturating_sub(start).min(cs) as usize;
        // savevm puts the vmstate at the first L1 entry past the disk.
        let base = vm
            .disk_size
            .div_ceil(self.l1_span())
            .saturating_mul(self.l1_span());
        let virt = base.saturating_add(start);
        Ok((self.locate(src, (vm.l1_offset, vm.l1_size), virt)?, keep))
    }

    /// Reads the guest disk's cluster `index` (as the VM sees it now, not
    /// a snapshot's) into `out`, at least one cluster long; unallocated
    /// clusters read as zeros (backing files are not followed).
    pub fn read_disk_cluster<'o>(
        &self,
        src: &mut (impl ReadAt + ?Sized),
        index: u64,
        out: &'o mut [u8],
    ) -> Result<&'o [u8]> {
        let virt = index.saturating_mul(self.cluster_size());
        if virt >= self.size {
            return fail(24, "cluster beyond the disk size");
        }
        let cluster = self.locate(src, self.l1, virt)?;
        self.read(src, cluster, out).map(|c| &*c)
    }

    /// The cluster at guest-virtual offset `virt` through L1 table `l1`.
    fn locate(
        &self,
        src: &mut (impl ReadAt + ?Sized),
        l1: (u64, u32),
        virt: u64,
    ) -> Result<Cluster> {
        let l1_index = virt / self.l1_span();
        let l2_table = if l1_index < u64::from(l1.1) {
            self.entry(src, l1.0.saturating_add(8 * l1_index))? & OFFSET_MASK
        } else {
            0
        };
        if l2_table == 0 {
            return Ok(Cluster::Zero);
        }
        let l2_at = l2_table + 8 * ((virt % self.l1_span()) / self.cluster_size());
        let l2 = self.entry(src, l2_at)?;
        Ok(if l2 & COMPRESSED != 0 {
            let x = 62 - (self.cluster_bits - 8);
            let offset = l2 & ((1 << x) - 1);
            let sectors = ((l2 >> x) & ((1 << (self.cluster_bits - 8)) - 1)) + 1;
            // The sector count may run past the file's end on its last cluster.
            let len = (sectors * 512 - (offset & 511)).min(src.size().saturating_sub(offset));
            Cluster::Compressed { offset, len }
        } else if l2 & ZERO != 0 || l2 & OFFSET_MASK == 0 {
            Cluster::Zero
        } else {
            Cluster::At(l2 & OFFSET_MASK)
        })
    }

    /// A cluster's bytes, into `out` (at least one cluster long).
    fn read<'o>(
        &self,
        src: &mut (impl ReadAt + ?Sized),
        cluster: Cluster,
        out: &'o mut [u8],
    ) -> Result<&'o mut [u8]> {
        let Some(out) = out.get_mut(..self.cluster_size() as usize) else {
            return fail(20, "cluster larger than the read buffer");
        };
        match cluster {
            Cluster::Zero => out.fill(0),
            Cluster::At(at) => match src.read_at(at, out.len()) {
                Some(data) => out.copy_from_slice(data),
                None => return fail(at, "cluster past the end of the file"),
            },
            Cluster::Compressed { offset, len } => {
                let Some(data) = src.read_at(offset, len as usize) else {
                    return fail(offset, "compressed cluster past the end of the file");
                };
                match inflate(data, out, false) {
                    Ok(n) if n == out.len() => {}
                    _ => return fail(offset, "compressed cluster does not inflate to one cluster"),
                }
            }
        }
        Ok(out)
    }

    fn entry(&self, src: &mut (impl ReadAt + ?Sized), at: u64) -> Result<u64> {
        match src.read_at(at, 8) {
            Some(e) => Ok(be(e, 0, 8)),
            None => fail(at, "L1 or L2 table past the end of the file"),
        }
    }
}

/// Where a cluster's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cluster {
    /// Zeros: unallocated or a zero cluster.
    Zero,
    /// A plain cluster at this file offset.
    At(u64),
    /// Raw deflate data of `len` bytes at `offset`, one cluster inflated.
    Compressed {
        /// File offset of the compressed data.
        offset: u64,
        /// Its length (sector-rounded, cut at the file's end).
        len: u64,
    },
}

/// Where a snapshot's vmstate lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmState {
    /// The snapshot's L1 table.
    pub l1_offset: u64,
    /// Its entries.
    pub l1_size: u32,
    /// The disk size when the snapshot was taken (the vmstate follows it).
    pub disk_size: u64,
    /// The vmstate's length in bytes (0: a disk-only snapshot).
    pub len: u64,
}

/// One snapshot table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot<'a> {
    /// The unique ID string ("1", "2", ...).
    pub id: &'a [u8],
    /// The name given to `savevm`.
    pub name: &'a [u8],
    /// Creation time: seconds and nanoseconds since the Unix epoch.
    pub date: (u32, u32),
    /// The guest clock at the snapshot, in nanoseconds.
    pub vm_clock_ns: u64,
    /// The instruction count (record/replay), if any.
    pub icount: Option<u64>,
    /// Where its vmstate is.
    pub vmstate: VmState,
}

impl<'a> Snapshot<'a> {
    /// Parses a whole entry (the caller sized it from the fixed part);
    /// `image_size` stands in for images that predate the disk size field.
    fn parse(e: &'a [u8], image_size: u64) -> Snapshot<'a> {
        let extra = be(e, 36, 4) as usize;
        let id_len = be(e, 12, 2) as usize;
        let x = &e[SNAPSHOT_FIXED..SNAPSHOT_FIXED + extra];
        let field = |at: usize| (x.len() >= at + 8).then(|| be(x, at, 8));
        let ids = SNAPSHOT_FIXED + extra;
        Snapshot {
            id: &e[ids..ids + id_len],
            name: &e[ids + id_len..],
            date: (be(e, 16, 4) as u32, be(e, 20, 4) as u32),
            vm_clock_ns: be(e, 24, 8),
            icount: field(16).filter(|&n| n != u64::MAX),
            vmstate: VmState {
                l1_offset: be(e, 0, 8),
                l1_size: be(e, 8, 4) as u32,
                disk_size: field(8).unwrap_or(image_size),
                len: field(0).unwrap_or(be(e, 32, 4)),
            },
        }
    }
}

#[cfg(feature = "std")]
impl Snapshot<'_> {
    /// The snapshot as `qemu-img info --output=json` lists it (same keys).
    pub fn to_json(&self) -> serde_json::Value {
        use std::string::String;
        let mut j = serde_json::json!({
            "id": String::from_utf8_lossy(self.id),
            "name": String::from_utf8_lossy(self.name),
            "vm-state-size": self.vmstate.len,
            "date-sec": self.date.0,
            "date-nsec": self.date.1,
            "vm-clock-sec": self.vm_clock_ns / 1_000_000_000,
            "vm-clock-nsec": self.vm_clock_ns % 1_000_000_000,
        });
        if let Some(n) = self.icount {
            j["icount"] = n.into();
        }
        j
    }
}
