//! The decoder against every stream recorded from a real QEMU: it decodes
//! them whole, the slice and push front ends agree event for event at any
//! chunking, and the result equals analyze-migration.py's goldens.

mod common;

use common::{fixtures, sibling, Fingerprint};
use qevm::analyze::{desc_json, state_json};
use qevm::vmdesc::find_trailer;
use qevm::{decode, decode_with, Decoder, VmDesc};

fn decode_print(data: &[u8], name: &str) -> Fingerprint {
    let mut f = Fingerprint::default();
    decode(data, &mut f).unwrap_or_else(|e| panic!("{name}: {e}"));
    f
}

fn slice_print(data: &[u8]) -> Fingerprint {
    decode_print(data, "")
}

fn push_print(data: &[u8], chunks: &mut dyn FnMut() -> usize) -> Fingerprint {
    let desc = find_trailer(data).map(|(s, l)| VmDesc::<512>::parse(&data[s..s + l]).unwrap());
    let mut buf = vec![0u8; 1 << 20];
    // Random access to the file, as the slice front end has, for mapped-ram.
    let mut file = data;
    let mut d = Decoder::new(desc.as_ref(), &mut buf).with_source(&mut file);
    let mut f = Fingerprint::default();
    let mut rest = data;
    while !rest.is_empty() {
        let n = chunks().clamp(1, rest.len());
        d.feed(&rest[..n], &mut f).unwrap();
        rest = &rest[n..];
    }
    d.finish(&mut f).unwrap();
    f
}

/// Streams recorded without section footers (old machine types, or
/// send-section-footer=off): without a vmdesc nothing delimits a device
/// section.
fn lacks_footers(p: &std::path::Path) -> bool {
    let n = p.to_string_lossy();
    n.contains("no-footer") || n.contains("i440fx-2.2")
}

#[test]
fn every_fixture_decodes_with_values_and_pages() {
    for p in fixtures() {
        let data = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy();
        if find_trailer(&data).is_none() && lacks_footers(&p) {
            let e = decode(&data, &mut Fingerprint::default()).unwrap_err();
            assert_eq!(e.kind, qevm::ErrorKind::Unframeable, "{name}");
            assert_eq!(
                e.section, "timer",
                "{name}: the first device section after RAM"
            );
            continue;
        }
        let f = decode_print(&data, &name);
        if find_trailer(&data).is_none() {
            assert!(
                f.raw_payloads > 5 && f.values == 0,
                "{name}: no vmdesc, so raw payloads"
            );
            continue;
        }
        assert!(f.values > 100, "{name}: only {} values", f.values);
        // QEMU 7.2 described s390_css's pointer array as empty structs.
        let raw = if name == "s390x-ccw-7.2.mig" { 1 } else { 0 };
        assert_eq!(f.raw_payloads, raw, "{name}: device payloads left raw");
        if !name.contains("mapped-ram") {
            assert!(f.pages > 500, "{name}: only {} pages", f.pages);
        }
    }
}

#[test]
fn push_front_end_matches_slice_at_any_chunking() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 70_000) as usize
    };
    for p in fixtures().into_iter().filter(|p| !lacks_footers(p)) {
        let data = std::fs::read(&p).unwrap();
        let want = slice_print(&data).digest();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        for size in [4096usize, 65536, 7] {
            assert_eq!(
                push_print(&data, &mut || size).digest(),
                want,
                "{name}: chunks of {size}"
            );
        }
        assert_eq!(
            push_print(&data, &mut random).digest(),
            want,
            "{name}: random chunks"
        );
    }
}

/// A caller that seeks over the regions the decoder passes over
/// (`skipping_to` / `skip_to`) gets the same events as the slice decoder.
#[test]
fn jumping_over_skipped_regions_matches_slice() {
    let mut jumped = 0;
    for p in fixtures().into_iter().filter(|p| !lacks_footers(p)) {
        let data = std::fs::read(&p).unwrap();
        let desc = find_trailer(&data).map(|(s, l)| VmDesc::<512>::parse(&data[s..s + l]).unwrap());
        let mut buf = vec![0u8; 1 << 20];
        let mut file = &data[..];
        let mut d = Decoder::new(desc.as_ref(), &mut buf).with_source(&mut file);
        let mut f = Fingerprint::default();
        let mut at = 0usize;
        while at < data.len() {
            if let Some(to) = d.skipping_to().filter(|&to| to > d.offset() + 1) {
                d.skip_to(to - 1); // one byte short, then the rest by feeding
                d.skip_to(to + 1); // beyond the region: ignored
                at = to as usize - 1;
                jumped += 1;
            }
            let n = 4096.min(data.len() - at);
            d.feed(&data[at..at + n], &mut f).unwrap();
            at += n;
        }
        d.finish(&mut f).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(f.digest(), slice_print(&data).digest(), "{name}");
    }
    assert!(
        jumped >= 10,
        "only {jumped} jumps: the mapped-ram fixtures are gone?"
    );
}

#[test]
fn one_byte_chunks_match_slice() {
    for p in fixtures()
        .iter()
        .filter(|p| p.to_string_lossy().contains("s390x-ccw"))
    {
        let data = std::fs::read(p).unwrap();
        assert_eq!(
            push_print(&data, &mut || 1).digest(),
            slice_print(&data).digest()
        );
    }
}

#[test]
fn state_and_desc_equal_analyze_migration_goldens() {
    let mut compared = 0;
    for p in fixtures() {
        let data = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let state = sibling(&p, ".state.json");
        if state.exists() {
            let golden: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
            let ours = state_json(&data, false).unwrap();
            if ours != golden {
                let (o, g) = (ours.as_object().unwrap(), golden.as_object().unwrap());
                for (k, v) in g {
                    assert_eq!(o.get(k), Some(v), "{name}: section {k}");
                }
                panic!(
                    "{name}: extra sections {:?}",
                    o.keys().filter(|k| !g.contains_key(*k)).collect::<Vec<_>>()
                );
            }
            compared += 1;
        }
        let desc = sibling(&p, ".desc.json");
        if desc.exists() {
            let golden: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&desc).unwrap()).unwrap();
            let (s, l) = find_trailer(&data).unwrap();
            assert_eq!(desc_json(&data[s..s + l]).unwrap(), golden, "{name}: desc");
        }
    }
    assert!(compared >= 8, "only {compared} goldens");
}

/// The target page size the MANIFEST records for a fixture.
fn manifest_page_size(p: &std::path::Path) -> u64 {
    let manifest = std::fs::read_to_string(p.with_file_name("MANIFEST.tsv")).unwrap();
    let mut lines = manifest.lines();
    let cols: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = cols.iter().position(|c| *c == "target_page_size").unwrap();
    let name = p.file_name().unwrap().to_str().unwrap();
    let row = lines.find(|l| l.starts_with(&format!("{name}\t"))).unwrap();
    row.split('\t').nth(col).unwrap().parse().unwrap()
}

#[test]
fn streams_frame_without_their_vmdesc() {
    for p in fixtures().into_iter().filter(|p| !lacks_footers(p)) {
        let data = std::fs::read(&p).unwrap();
        let mut f = Fingerprint::default();
        let mut buf = vec![0u8; 1 << 20];
        // Without a vmdesc, 8 KiB targets need their page size given.
        let mut d = Decoder::<1>::new(None, &mut buf).with_page_size(manifest_page_size(&p));
        let fail = |e: qevm::Error| panic!("{}: {e}", p.display());
        d.feed(&data, &mut f).unwrap_or_else(fail);
        d.finish(&mut f).unwrap_or_else(fail);
        assert!(f.raw_payloads > 5);
        assert_eq!(f.values, 0);
    }
}

#[test]
fn truncation_at_any_offset_is_an_error() {
    let p = fixtures()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("s390x-ccw-10.0"))
        .unwrap();
    let data = std::fs::read(&p).unwrap();
    let (s, l) = find_trailer(&data).unwrap();
    let desc = VmDesc::<512>::parse(&data[s..s + l]).unwrap();
    let step = 131;
    for cut in (0..data.len())
        .step_by(step)
        .chain(data.len() - 300..data.len())
    {
        let mut f = Fingerprint::default();
        let e =
            decode_with(&data[..cut], Some(&desc), &mut f).expect_err("truncated stream accepted");
        assert!(e.offset <= cut as u64, "{e} beyond cut {cut}");
        let mut f = Fingerprint::default();
        assert!(decode(&data[..cut], &mut f).is_err());
    }
}
