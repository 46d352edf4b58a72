//! Guest memory rebuilt from real streams equals what the guest had.
//!
//! Two references, neither from qevm: the bytes `-device loader` placed in
//! the guest (a formula of their offset), and QEMU's own
//! `dump-guest-memory` of the source after the migration or savevm
//! (`NAME.guest.json`: a SHA-256 per non-zero guest-physical page). The
//! streams cover XBZRLE deltas, zlib pages (compress), postcopy with
//! discards and RAM after the switch, mapped-ram (with and without
//! multifd), a RAM split around 4 GiB, and savevm snapshots in qcow2.

mod common;
#[path = "common/guest.rs"]
mod guest;

use std::collections::BTreeMap;
use std::path::PathBuf;

use guest::{check_against_guest, hex_sha, pattern, PAGE};
use qevm::mapped_ram::ReadAt;
use qevm::physmap::{self, Board};
use qevm::qcow2::{Image, MAX_CLUSTER};
use qevm::{Command, Configuration, PageData, RamBlock, RamPage, Visitor};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// RAM block images as QEMU's destination would hold them: every page
/// entry decoded by the core (XBZRLE against the page's last copy),
/// POSTCOPY_RAM_DISCARD ranges dropped to zeros.
#[derive(Default)]
struct Images {
    machine: Vec<u8>,
    blocks: BTreeMap<Vec<u8>, Vec<u8>>,
    kinds: BTreeMap<&'static str, u64>,
    discards: u64,
}

impl Visitor for Images {
    fn configuration(&mut self, c: &Configuration<'_>) {
        self.machine = c.machine.to_vec();
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        self.blocks
            .insert(b.name.to_vec(), vec![0; b.used_length as usize]);
    }
    fn ram_page(&mut self, p: &RamPage<'_>) {
        let kind = match p.data {
            PageData::Fill(_) => "fill",
            PageData::Raw(_) => "raw",
            PageData::Xbzrle(_) => "xbzrle",
            PageData::Compressed(_) => "compressed",
        };
        *self.kinds.entry(kind).or_default() += 1;
        let image = self.blocks.get_mut(p.block).expect("page of a known block");
        let at = p.addr as usize;
        let page = &mut image[at..at + p.page_size as usize];
        p.data.decode_into(page).unwrap_or_else(|e| panic!("{e}"));
    }
    fn command(&mut self, c: &Command<'_>) {
        if let Some((block, ranges)) = c.discard() {
            let image = self
                .blocks
                .get_mut(block)
                .expect("discard of a known block");
            for (start, len) in ranges {
                image[start as usize..(start + len) as usize].fill(0);
                self.discards += 1;
            }
        }
    }
}

fn rebuild(stream: &[u8]) -> Images {
    let mut images = Images::default();
    qevm::decode(stream, &mut images).unwrap();
    images
}

/// Guest-physical memory: `pc.ram` (or `microvm.ram`) split at `below`
/// and the BIOS block under 4 GiB, through the core's PC layout.
struct Physical(Vec<(u64, Vec<u8>)>);

impl Physical {
    fn of(images: &Images, below_4g: Option<u64>) -> Self {
        let (ram_name, ram) = images
            .blocks
            .iter()
            .find(|(n, _)| *n == b"pc.ram" || *n == b"microvm.ram")
            .expect("a main RAM block");
        let board = Board::from_machine(&images.machine);
        let ram_len = ram.len() as u64;
        // microvm keeps small guests below 4 GiB like the PC boards.
        let below = below_4g.unwrap_or_else(|| board.map_or(ram_len, |b| b.below_4g(ram_len)));
        let bios = images
            .blocks
            .get(&b"pc.bios"[..])
            .map(|b| (&b"pc.bios"[..], b.len() as u64));
        let ranges = physmap::pc_ranges((ram_name, ram_len), bios, below);
        Physical(
            ranges
                .iter()
                .map(|r| {
                    let b = &images.blocks[r.block];
                    (
                        r.gpa,
                        b[r.offset as usize..(r.offset + r.len) as usize].to_vec(),
                    )
                })
                .collect(),
        )
    }

    fn page(&self, gpa: u64) -> Option<&[u8]> {
        self.0.iter().find_map(|(start, bytes)| {
            let off = gpa.checked_sub(*start)? as usize;
            bytes.get(off..off + PAGE as usize)
        })
    }
}

fn check_stream(name: &str, below_4g: Option<u64>) -> Images {
    let mig = fixture(&format!("{name}.mig"));
    let images = rebuild(&std::fs::read(&mig).unwrap());
    let mem = Physical::of(&images, below_4g);
    let n = check_against_guest(
        |gpa| mem.page(gpa),
        &fixture(&format!("{name}.guest.json")),
        name,
    );
    assert!(n > 1000, "{name}: only {n} pages compared");
    images
}

#[test]
fn xbzrle_deltas_rebuild_the_guest_pages() {
    let images = check_stream("x86_64-pc-xbzrle-10.0", None);
    assert!(images.kinds["xbzrle"] >= 8, "{:?}", images.kinds);
}

#[test]
fn compressed_pages_inflate_to_the_guest_pages() {
    let images = check_stream("x86_64-pc-compress-7.2", None);
    assert!(images.kinds["compressed"] >= 16, "{:?}", images.kinds);
}

#[test]
fn postcopy_streams_rebuild_the_guest_after_discards() {
    for v in ["7.2", "10.0"] {
        let images = check_stream(&format!("x86_64-pc-postcopy-switch-{v}"), None);
        assert!(images.discards > 0, "{v}: no discard ranges");
    }
}

#[test]
fn mapped_ram_pages_are_read_from_their_offsets() {
    for name in [
        "x86_64-microvm-mapped-ram-10.0",
        "x86_64-microvm-mapped-ram-multifd-10.0",
    ] {
        let images = check_stream(name, None);
        assert!(images.kinds["raw"] > 10, "{name}: {:?}", images.kinds);
    }
}

#[test]
fn ram_above_4g_lands_at_4g() {
    // Recorded with -machine max-ram-below-4g=16M, which the stream does
    // not carry; the default split of q35 applies to the plain guest.
    check_stream("x86_64-pc-split-10.0", Some(16 << 20));
    check_stream("x86_64-q35-split-10.0", Some(16 << 20));
    check_stream("x86_64-q35-plain-10.0", None);
}

/// A snapshot's vmstate, read through the core's qcow2 reader.
fn vmstate(image: &[u8], name: &str) -> Vec<u8> {
    let mut src = image;
    let img = Image::open(&mut src).unwrap();
    let vm = img
        .find_snapshot(&mut src, name.as_bytes())
        .unwrap()
        .unwrap();
    let mut cluster = vec![0u8; MAX_CLUSTER];
    let mut out = Vec::new();
    for i in 0.. {
        let got = img
            .read_vmstate_cluster(&mut src, &vm, i, &mut cluster)
            .unwrap();
        if got.is_empty() {
            break;
        }
        out.extend_from_slice(got);
    }
    out
}

#[test]
fn savevm_snapshots_in_qcow2_hold_the_guest() {
    let image = std::fs::read(fixture("x86_64-pc-savevm-10.0.qcow2")).unwrap();
    let want: Value = serde_json::from_slice(
        &std::fs::read(fixture("x86_64-pc-savevm-10.0.vmstate.json")).unwrap(),
    )
    .unwrap();
    for snap in ["booted", "halted"] {
        let vm = vmstate(&image, snap);
        // qemu-io's read of the VM state area (`read -b`) gave these.
        let w = &want["snapshots"][snap];
        assert_eq!(vm.len() as u64, w["vm_state_size"].as_u64().unwrap());
        assert_eq!(hex_sha(&vm), w["sha256"].as_str().unwrap(), "{snap}");
        let mem = Physical::of(&rebuild(&vm), None);
        let golden = fixture(&format!("x86_64-pc-savevm-10.0.{snap}.guest.json"));
        assert!(check_against_guest(|gpa| mem.page(gpa), &golden, snap) > 1000);
    }
    // Snapshots are found by ID too, and a missing one is None.
    let mut src = &image[..];
    let img = Image::open(&mut src).unwrap();
    assert!(img.find_snapshot(&mut src, b"2").unwrap().is_some());
    assert!(img.find_snapshot(&mut src, b"nope").unwrap().is_none());
}

#[test]
fn compressed_qcow2_clusters_inflate() {
    let image = std::fs::read(fixture("x86_64-compressed.qcow2")).unwrap();
    let mut src = &image[..];
    let img = Image::open(&mut src).unwrap();
    let mut cluster = vec![0u8; MAX_CLUSTER];
    let cs = 1u64 << img.cluster_bits;
    for c in 0..img.size / cs {
        let got = img.read_disk_cluster(&mut src, c, &mut cluster).unwrap();
        // qemu-img convert -c of a raw image holding the seed 8 pattern.
        for (i, &b) in got.iter().enumerate() {
            assert_eq!(b, pattern(8, c * cs + i as u64), "cluster {c} byte {i}");
        }
    }
    assert!(img
        .read_disk_cluster(&mut src, img.size / cs, &mut cluster)
        .is_err());
}

#[test]
fn damaged_qcow2_images_are_errors() {
    let image = std::fs::read(fixture("x86_64-pc-savevm-10.0.qcow2")).unwrap();
    let mut bad = image.clone();
    bad[0] = b'X';
    assert!(Image::open(&mut &bad[..])
        .unwrap_err()
        .what
        .contains("magic"));
    // Truncated: the snapshot table or the clusters it names are gone.
    let mut src = &image[..image.len() / 2];
    let r = Image::open(&mut src).and_then(|img| {
        let vm = img
            .find_snapshot(&mut src, b"halted")?
            .expect("table before the cut");
        let mut cluster = vec![0u8; MAX_CLUSTER];
        for i in 0..vm.len.div_ceil(1 << img.cluster_bits) {
            img.read_vmstate_cluster(&mut src, &vm, i, &mut cluster)?;
        }
        Ok(())
    });
    assert!(r.is_err(), "half an image reads whole");
    assert!(src.size() < image.len() as u64);
}
