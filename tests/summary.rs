//! The stream summary against the fixture MANIFEST, whose RAM page counts
//! come from an independent scanner (tests/fixtures/scan.py).

mod common;

use qevm::summary::Summary;

/// (page, zero, xbzrle, compress_page) from a MANIFEST note.
fn manifest_counts(name: &str) -> Option<(u64, u64, u64, u64)> {
    let manifest =
        std::fs::read_to_string(common::fixtures()[0].with_file_name("MANIFEST.tsv")).unwrap();
    let row = manifest
        .lines()
        .find(|l| l.starts_with(&format!("{name}\t")))?;
    let note = &row[row.find("ram page=")?..];
    let note = &note[..note.find(';').unwrap_or(note.len())];
    let mut c = (0, 0, 0, 0);
    for kv in note.trim_start_matches("ram ").split(' ') {
        let (k, v) = kv.split_once('=')?;
        let v: u64 = v.parse().ok()?;
        match k {
            "page" => c.0 = v,
            "zero" => c.1 = v,
            "xbzrle" => c.2 = v,
            "compress_page" => c.3 = v,
            _ => return None,
        }
    }
    Some(c)
}

#[test]
fn page_counts_match_an_independent_scanner() {
    let mut checked = 0;
    for p in common::fixtures() {
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(want) = manifest_counts(&name) else {
            continue;
        };
        let data = std::fs::read(&p).unwrap();
        let mut s = Summary::new(if name.contains("sparc64") || name.contains("alpha") {
            8192
        } else {
            4096
        });
        if qevm::decode(&data, &mut s).is_err() {
            continue; // streams that cannot be framed are tested elsewhere
        }
        s.finish();
        let sum = |f: fn(&qevm::summary::BlockSummary) -> u64| s.blocks.iter().map(f).sum::<u64>();
        let got = (
            sum(|b| b.raw),
            sum(|b| b.zero),
            sum(|b| b.xbzrle),
            sum(|b| b.compressed),
        );
        assert_eq!(got, want, "{name}: (page, zero, xbzrle, compress_page)");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures had counts");
}

#[test]
fn summary_of_a_pc_stream() {
    let p = common::fixtures()
        .into_iter()
        .find(|p| p.ends_with("x86_64-pc-ignore-shared-10.0.mig"))
        .unwrap();
    let data = std::fs::read(&p).unwrap();
    let mut s = Summary::new(4096);
    qevm::decode(&data, &mut s).unwrap();
    s.finish();
    assert_eq!(s.machine.as_deref(), Some("pc-i440fx-10.0"));
    assert_eq!(s.capabilities, ["x-ignore-shared"]);
    assert_eq!(s.commands.get("SWITCHOVER_START"), Some(&1));
    let ram = &s.iterative[0];
    assert_eq!((ram.name.as_str(), ram.records), ("ram", 3));
    assert!(s.footers as usize > s.devices.len());
    // Guest RAM is the shared backend "mem": x-ignore-shared sends none of
    // its pages.
    let ram = s.blocks.iter().find(|b| b.name == "mem").unwrap();
    assert_eq!(ram.size, 32 << 20);
    assert_eq!((ram.zero, ram.raw, ram.nonzero.len()), (0, 0, 0));
    let bios = s.blocks.iter().find(|b| b.name == "pc.bios").unwrap();
    assert_eq!(bios.size, 256 * 1024);
    assert!(bios.nonzero.iter().map(|r| r.1).sum::<u64>() > 0);
    let cpu = s.devices.iter().find(|d| d.name == "cpu").unwrap();
    assert!(cpu.size > 1000 && !cpu.subsections.is_empty());
    let json = s.to_json();
    assert_eq!(json["totals"]["devices"], s.devices.len());
}
