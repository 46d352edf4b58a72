//! The decoding loop on the native target, over every fixture with a
//! golden: the state and desc documents must equal analyze-migration.py's
//! (byte for byte, as the CLI's), whatever the chunk size.

#![cfg(not(target_arch = "wasm32"))]

#[path = "../../tests/common/guest.rs"]
mod guest;
mod reference;

use qevm_wasm::extract::{Collect, Run};
use qevm_wasm::native::{block_on, MemSource};
use qevm_wasm::run::{decode, parse_vmdesc, pump, read_vmdesc, Options, Source};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");

fn opts(chunk: u64) -> Options {
    Options {
        chunk_size: chunk,
        ..Options::default()
    }
}

#[test]
fn state_and_desc_match_the_goldens() {
    let mut n = 0;
    for e in std::fs::read_dir(FIXTURES).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".mig") else {
            continue;
        };
        let Ok(golden) = std::fs::read_to_string(format!("{FIXTURES}/{stem}.state.json")) else {
            continue;
        };
        let data = std::fs::read(&p).unwrap();
        for chunk in [4093, 1 << 20] {
            let d = block_on(decode(&mut MemSource(&data), &opts(chunk), |_, _| {})).unwrap();
            assert_eq!(d.error, None, "{name}");
            let want: serde_json::Value = serde_json::from_str(&golden).unwrap();
            assert_eq!(d.state, want, "{name} chunk {chunk}");
            assert_eq!(d.state_text(), golden, "{name}: layout");
            let desc = std::fs::read_to_string(format!("{FIXTURES}/{stem}.desc.json")).unwrap();
            assert_eq!(d.desc_text().unwrap(), desc, "{name}: desc");
        }
        n += 1;
    }
    assert!(n >= 15, "{n}");
}

#[test]
fn errors_carry_offset_and_path() {
    let data = std::fs::read(format!("{FIXTURES}/x86_64-pc-10.0.mig")).unwrap();
    // cut inside the device sections: the vmdesc is gone, the stream truncated
    let cut = &data[..data.len() / 2];
    let d = block_on(decode(&mut MemSource(cut), &opts(65536), |_, _| {})).unwrap();
    let e = d.error.expect("error");
    assert!(e.message.contains("truncated"), "{e:?}");
    assert!(e.offset > 0);
    assert_eq!(d.summary.machine.as_deref(), Some("pc-i440fx-10.0"));
}

/// The page's image of `block` (the collecting pass, with random access
/// to the bytes as a worker has), and how many pages it kept in memory.
fn page_image(data: &[u8], block: &[u8], chunk: u64) -> (Vec<u8>, usize) {
    let o = opts(chunk);
    let mut src = MemSource(data);
    // Postcopy streams have no vmdesc.
    let vmdesc = block_on(read_vmdesc(&mut src, &o)).unwrap();
    let desc = vmdesc
        .as_ref()
        .map(|(json, at)| parse_vmdesc(json, *at).unwrap());
    let file_at = src.random();
    let (c, _, err) = block_on(pump(
        &mut src,
        &o,
        desc.as_ref(),
        |ps| Collect::new(block, ps, file_at),
        |_, _| {},
    ))
    .unwrap();
    assert!(err.is_none());
    let pages = c.finish();
    assert!(pages.found, "no block {block:?}");
    assert_eq!(pages.unsupported, None);
    (
        assemble(data, &pages.runs(), &pages.copies),
        pages.copies.len(),
    )
}

/// The bytes runs stand for, as the page's `Blob` holds them.
fn assemble(file: &[u8], runs: &[Run], copies: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for &r in runs {
        match r {
            Run::File { at, len } => out.extend_from_slice(&file[at as usize..(at + len) as usize]),
            Run::Fill { byte, len } => out.resize(out.len() + len as usize, byte),
            Run::Copy { index, len } => {
                out.extend_from_slice(&copies[index as usize][..len as usize])
            }
        }
    }
    out
}

/// The page's RAM image of pc.ram equals the pages applied in order.
#[test]
fn block_image_matches_the_pages() {
    let data = std::fs::read(format!("{FIXTURES}/x86_64-pc-10.0.mig")).unwrap();
    // An odd chunk size: some pages straddle chunks.
    let (img, copies) = page_image(&data, b"pc.ram", 100_000);
    assert!(copies > 0, "no straddling page: test the copy path");
    let want = reference::block_image(&data, b"pc.ram");
    assert_eq!(img.len(), want.len());
    assert!(img == want, "image differs");
    assert!(img.iter().any(|b| *b != 0));
}

/// XBZRLE deltas, zlib pages, postcopy and mapped-ram blocks give the
/// guest's memory, as QEMU dumped it (RAM sits at guest-physical 0 in
/// these small guests).
#[test]
fn decoded_pages_rebuild_the_guest() {
    for (name, block) in [
        ("x86_64-pc-xbzrle-10.0", &b"pc.ram"[..]),
        ("x86_64-pc-compress-7.2", b"pc.ram"),
        ("x86_64-pc-postcopy-switch-7.2", b"pc.ram"),
        ("x86_64-microvm-mapped-ram-multifd-10.0", b"microvm.ram"),
    ] {
        let data = std::fs::read(format!("{FIXTURES}/{name}.mig")).unwrap();
        let (img, _) = page_image(&data, block, 1 << 20);
        assert!(img == reference::block_image(&data, block), "{name}");
        let page = |gpa: u64| img.get(gpa as usize..gpa as usize + 4096);
        let golden = format!("{FIXTURES}/{name}.guest.json");
        let n = guest::check_against_guest(page, std::path::Path::new(&golden), name);
        assert!(n > 1000, "{name}: {n} pages compared");
    }
}

/// A snapshot's VM state, as the page assembles it from runs of the qcow2
/// file, equals what qemu-io read from the image's VM state area, and the
/// snapshot list equals qemu-img's.
#[test]
fn qcow2_snapshots_become_streams() {
    use qevm_wasm::snapshot;
    use sha2::{Digest, Sha256};
    let image = std::fs::read(format!("{FIXTURES}/x86_64-pc-savevm-10.0.qcow2")).unwrap();
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(format!("{FIXTURES}/{name}")).unwrap()).unwrap()
    };
    let info = json("x86_64-pc-savevm-10.0.qemu-img-info.json");
    assert!(qevm::qcow2::is_qcow2(&image));
    let list = snapshot::list(&mut &image[..]).unwrap();
    assert_eq!(serde_json::Value::Array(list), info["snapshots"]);
    let want = json("x86_64-pc-savevm-10.0.vmstate.json");
    for name in ["booted", "halted"] {
        let (runs, copies) = snapshot::runs(&mut &image[..], name).unwrap();
        let vm = assemble(&image, &runs, &copies);
        let sha: String = Sha256::digest(&vm)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha, want["snapshots"][name]["sha256"], "{name}");
        let d = block_on(decode(&mut MemSource(&vm), &opts(1 << 20), |_, _| {})).unwrap();
        assert_eq!(d.error, None, "{name}");
        assert_eq!(d.summary.machine.as_deref(), Some("pc-i440fx-10.0"));
    }
    assert!(snapshot::runs(&mut &image[..], "nope")
        .unwrap_err()
        .contains("no snapshot"));
}
