//! The decoding loop on the native target, over every fixture with a
//! golden: the state and desc documents must equal analyze-migration.py's
//! (byte for byte, as the CLI's), whatever the chunk size.

#![cfg(not(target_arch = "wasm32"))]

mod reference;

use qevm_wasm::extract::{Collect, Run};
use qevm_wasm::native::{block_on, MemSource};
use qevm_wasm::run::{decode, parse_vmdesc, pump, read_vmdesc, Options};

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

/// The page's RAM image of pc.ram equals the pages applied in order.
#[test]
fn block_image_matches_the_pages() {
    let data = std::fs::read(format!("{FIXTURES}/x86_64-pc-10.0.mig")).unwrap();
    let o = opts(100_000); // odd size: some pages straddle chunks
    let mut src = MemSource(&data);
    let (json, at) = block_on(read_vmdesc(&mut src, &o)).unwrap().unwrap();
    let desc = parse_vmdesc(&json, at).unwrap();
    let (c, _, err) = block_on(pump(
        &mut src,
        &o,
        Some(&desc),
        |ps| Collect::new(b"pc.ram", ps),
        |_, _| {},
    ))
    .unwrap();
    assert!(err.is_none());
    let pages = c.finish();
    assert!(pages.found && pages.unsupported.is_none());
    assert!(
        !pages.copies.is_empty(),
        "no straddling page: test the copy path"
    );
    let mut img = Vec::new();
    for r in pages.runs() {
        match r {
            Run::File { at, len } => img.extend_from_slice(&data[at as usize..(at + len) as usize]),
            Run::Fill { byte, len } => img.resize(img.len() + len as usize, byte),
            Run::Copy { index, len } => {
                img.extend_from_slice(&pages.copies[index as usize][..len as usize])
            }
        }
    }
    let want = reference::block_image(&data, b"pc.ram");
    assert_eq!(img.len(), want.len());
    assert!(img == want, "image differs");
    assert!(img.iter().any(|b| *b != 0));
}
