//! Writes seed corpora for the fuzz targets from the real fixtures:
//! whole small streams and their first parts (slice, push), every vmdesc
//! (vmdesc), every device payload of the pc-devices stream prefixed with
//! its device index (state), the qcow2 images' first 128 KiB (qcow2), and
//! the XBZRLE and zlib page entries of the xbzrle and compress streams
//! prefixed with their kind (page).

use std::fs;
use std::path::Path;

use qevm::vmdesc::find_trailer;
use qevm::{PageData, RamPage, SectionHeader, Visitor, VmDesc};

/// Collects raw device payloads (the stream decoded without its vmdesc).
struct Payloads<'d> {
    desc: &'d VmDesc<'d, 512>,
    out: Vec<Vec<u8>>,
}

/// Collects XBZRLE and zlib page entries as `page` seeds.
#[derive(Default)]
struct Entries(Vec<Vec<u8>>);

impl Visitor for Entries {
    fn ram_page(&mut self, p: &RamPage<'_>) {
        // The page target's kind byte: page size 4096 (3 << 5) and the kind.
        let (kind, body) = match p.data {
            PageData::Xbzrle(d) => (3 << 5, d),
            PageData::Compressed(d) => ((3 << 5) | 1, d),
            _ => return,
        };
        if self.0.len() < 64 {
            self.0.push([&[kind][..], body].concat());
        }
    }
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
    for t in ["slice", "push", "vmdesc", "state", "qcow2", "page"] {
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
    for name in ["x86_64-pc-savevm-10.0.qcow2", "x86_64-compressed.qcow2"] {
        let data = fs::read(fixtures.join(name)).unwrap();
        let head = &data[..data.len().min(128 * 1024)];
        fs::write(root.join("corpus/qcow2").join(name), head).unwrap();
    }
    for name in ["x86_64-pc-xbzrle-10.0.mig", "x86_64-pc-compress-7.2.mig"] {
        let mut e = Entries::default();
        qevm::decode(&fs::read(fixtures.join(name)).unwrap(), &mut e).unwrap();
        for (i, seed) in e.0.iter().enumerate() {
            fs::write(
                root.join("corpus/page").join(format!("{name}-{i:02}")),
                seed,
            )
            .unwrap();
        }
    }
    println!("seeded from {}", fixtures.display());
}
