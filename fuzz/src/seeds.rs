//! Writes seed corpora for the fuzz targets from the real fixtures:
//! whole small streams and their first parts (slice, push), every vmdesc
//! (vmdesc), and every device payload of the pc-devices stream prefixed
//! with its device index (state).

use std::fs;
use std::path::Path;

use qevm::vmdesc::find_trailer;
use qevm::{SectionHeader, Visitor, VmDesc};

/// Collects raw device payloads (the stream decoded without its vmdesc).
struct Payloads<'d> {
    desc: &'d VmDesc<'d, 512>,
    out: Vec<Vec<u8>>,
}

impl Visitor for Payloads<'_> {
    fn raw_payload(&mut self, s: &SectionHeader<'_>, payload: &[u8]) {
        if let Some(i) = self
            .desc
            .devices()
            .iter()
            .position(|d| d.instance_id == s.instance_id && d.name.eq_bytes(s.name))
        {
            let mut seed = vec![i as u8];
            seed.extend_from_slice(payload);
            self.out.push(seed);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("../tests/fixtures");
    for t in ["slice", "push", "vmdesc", "state"] {
        fs::create_dir_all(root.join("corpus").join(t)).unwrap();
    }
    let mut names: Vec<_> = fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mig"))
    {
        let data = fs::read(p).unwrap();
        let stem = p.file_stem().unwrap().to_string_lossy();
        if let Some((s, l)) = find_trailer(&data) {
            fs::write(root.join("corpus/vmdesc").join(&*stem), &data[s..s + l]).unwrap();
        }
        if data.len() < 100_000 {
            fs::write(root.join("corpus/slice").join(&*stem), &data).unwrap();
            let mut push = vec![0x5a];
            push.extend_from_slice(&data);
            fs::write(root.join("corpus/push").join(&*stem), push).unwrap();
        }
        let head = &data[..data.len().min(64 * 1024)];
        fs::write(root.join("corpus/slice").join(format!("{stem}.head")), head).unwrap();
    }
    let data = fs::read(fixtures.join("x86_64-pc-devices-10.0.mig")).unwrap();
    let (s, l) = find_trailer(&data).unwrap();
    let desc = VmDesc::<512>::parse(&data[s..s + l]).unwrap();
    let mut v = Payloads {
        desc: &desc,
        out: Vec::new(),
    };
    qevm::decode_with::<_, 1>(&data, None, &mut v).unwrap();
    for (i, seed) in v.out.iter().enumerate() {
        fs::write(
            root.join("corpus/state").join(format!("payload-{i:03}")),
            seed,
        )
        .unwrap();
    }
    println!("seeded from {}", fixtures.display());
}
