//! Decodes a migration stream file and prints its events: sections, device
//! values with their full paths, RAM blocks, commands, and a page count.
use qevm::{vmdesc::FieldDesc, Command, Path, RamBlock, SectionHeader, Value, Visitor};

struct Print {
    pages: u64,
}

impl Visitor for Print {
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        println!(
            "@{} {:?} id={} {} inst={} v={}",
            s.offset,
            s.kind,
            s.section_id,
            String::from_utf8_lossy(s.name),
            s.instance_id,
            s.version_id
        );
    }
    fn value(&mut self, path: &Path<'_, '_>, f: &FieldDesc<'_>, v: &Value<'_>) {
        println!(
            "  {path} ({}) = {:02x?}",
            f.type_name,
            &v.bytes[..v.bytes.len().min(16)]
        );
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        println!(
            "  block {} {:#x} {:?} {:?} {:?}",
            String::from_utf8_lossy(b.name),
            b.used_length,
            b.page_size,
            b.mr_addr,
            b.mapped_ram
        );
    }
    fn ram_page(&mut self, _p: &qevm::RamPage<'_>) {
        self.pages += 1;
    }
    fn command(&mut self, c: &Command<'_>) {
        println!("command {:?} {:02x?}", c.kind, c.data);
    }
    fn skipped(&mut self, what: &[u8], offset: u64, len: u64) {
        println!(
            "  skipped {} @{offset} +{len}",
            String::from_utf8_lossy(what)
        );
    }
    fn configuration(&mut self, c: &qevm::Configuration<'_>) {
        println!("config {:?}", c);
    }
    fn eof(&mut self) {
        println!("EOF");
    }
    fn vmdesc(&mut self, offset: u64, len: u32, json: Option<&[u8]>) {
        println!(
            "vmdesc @{offset} +{len}, {} bytes held",
            json.map_or(0, <[u8]>::len)
        );
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: decode FILE");
    let data = std::fs::read(path).expect("read");
    let mut p = Print { pages: 0 };
    let r = qevm::decode(&data, &mut p);
    println!("pages: {}", p.pages);
    if let Err(e) = r {
        println!("error: {e}");
        std::process::exit(1);
    }
}
