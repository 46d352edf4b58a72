//! `qevm extract`: desc.json, state.json and one raw image per RAM block
//! in an output directory. Images are sparse: each is sized to its block
//! and only pages with non-zero content are written (a zero page is
//! written only over data an earlier copy of that page left). Block names
//! are turned into flat file names, so nothing is written outside the
//! directory; the working directory is never changed.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use qevm::vmdesc::FieldDesc;
use qevm::{
    elf, physmap, Command, Configuration, PageData, RamBlock, RamPage, SectionHeader, Value,
    Visitor,
};

use crate::fail::Failure;
use crate::input::{self, Options, Sink};
use crate::state::StateWriter;
use qevm::Tee;

/// Contiguous page bytes gathered into one write.
const RUN_MAX: usize = 1 << 20;

/// The file name for a RAM block: bytes other than ASCII letters, digits
/// and `-_.:@+,=` become `%XX`, and so does a leading `.`; `.img` follows.
/// Distinct names give distinct file names, and none contains `/`.
pub fn image_name(block: &[u8]) -> String {
    let mut s = String::with_capacity(block.len() + 4);
    for (i, &b) in block.iter().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b"-_.:@+,=".contains(&b);
        if plain && !(i == 0 && b == b'.') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.push_str(".img");
    s
}

/// One block's image file.
struct Image {
    name: Vec<u8>,
    file_name: String,
    file: File,
    /// Pages holding written data (one bit per page; grown as needed).
    dirty: Vec<u64>,
    /// Page entries the stream had for the block.
    entries: u64,
    /// The block's used length (the image file's length).
    size: u64,
}

impl Image {
    fn dirty(&self, page: u64) -> bool {
        self.dirty
            .get((page / 64) as usize)
            .is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    fn mark(&mut self, page: u64, on: bool) {
        let i = (page / 64) as usize;
        if on && i >= self.dirty.len() {
            self.dirty.resize(i + 1, 0);
        }
        if let Some(w) = self.dirty.get_mut(i) {
            if on {
                *w |= 1 << (page % 64);
            } else {
                *w &= !(1 << (page % 64));
            }
        }
    }
}

/// A [`Sink`] writing RAM pages into block images.
pub struct Images {
    dir: PathBuf,
    /// The machine type from the configuration record.
    machine: Option<Vec<u8>>,
    /// x-ignore-shared: blocks without pages live in shared memory.
    ignore_shared: bool,
    /// mapped-ram regions were passed over (a pipe): those images are empty.
    unread: bool,
    /// The registers of each x86 vCPU (`cpu` section instance), for the
    /// ELF notes, and the instance being read.
    cpus: BTreeMap<u32, elf::X86Regs>,
    cpu: Option<u32>,
    blocks: Vec<Image>,
    last: usize,
    /// Pending write: block, start address, bytes.
    run: Option<(usize, u64, Vec<u8>)>,
    /// A scratch buffer for one page.
    page: Vec<u8>,
    /// The target page size, from the page entries: the unit of the
    /// images' dirty bitmaps.
    page_size: u64,
    failed: Option<Failure>,
}

impl Images {
    fn new(dir: &Path) -> Self {
        Images {
            dir: dir.to_path_buf(),
            machine: None,
            ignore_shared: false,
            unread: false,
            cpus: BTreeMap::new(),
            cpu: None,
            blocks: Vec::new(),
            last: 0,
            run: None,
            page: Vec::new(),
            page_size: qevm::DEFAULT_PAGE_SIZE,
            failed: None,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some((b, addr, data)) = self.run.take() {
            self.blocks[b].file.write_all_at(&data, addr)?;
        }
        Ok(())
    }

    fn write(&mut self, b: usize, addr: u64, data: &[u8]) -> std::io::Result<()> {
        if let Some((rb, start, buf)) = &mut self.run {
            if *rb == b && *start + buf.len() as u64 == addr && buf.len() < RUN_MAX {
                buf.extend_from_slice(data);
                return Ok(());
            }
        }
        self.flush()?;
        let mut buf = Vec::with_capacity(RUN_MAX + data.len());
        buf.extend_from_slice(data);
        self.run = Some((b, addr, buf));
        Ok(())
    }

    fn page(&mut self, p: &RamPage<'_>) -> std::io::Result<()> {
        let Some(b) = crate::blocks::find(&self.blocks, &mut self.last, p.block, |b| &b.name)
        else {
            return Ok(());
        };
        self.blocks[b].entries += 1;
        self.page_size = p.page_size;
        let mut scratch = std::mem::take(&mut self.page);
        scratch.resize(p.page_size as usize, 0);
        let r = self.page_with(b, p, &mut scratch);
        self.page = scratch;
        r
    }

    /// Writes page `p` of block `b`; `scratch` is a page-sized buffer.
    fn page_with(&mut self, b: usize, p: &RamPage<'_>, scratch: &mut [u8]) -> std::io::Result<()> {
        let content: &[u8] = match p.data {
            PageData::Raw(d) => d,
            PageData::Fill(c) => {
                scratch.fill(c);
                scratch
            }
            data => {
                if data.is_delta() {
                    // An XBZRLE delta applies to the page's previous copy,
                    // which is in the image (or a hole: zeros).
                    self.flush()?;
                    scratch.fill(0);
                    read_at(&self.blocks[b].file, scratch, p.addr)?;
                }
                data.decode_into(scratch).map_err(|e| bad_page(e, p))?;
                scratch
            }
        };
        let index = p.addr / p.page_size;
        let zero = content.iter().all(|&x| x == 0);
        if zero && !self.blocks[b].dirty(index) {
            return Ok(());
        }
        self.blocks[b].mark(index, !zero);
        self.write(b, p.addr, content)
    }

    /// Applies a POSTCOPY_RAM_DISCARD range (bytes within the block): the
    /// destination drops those pages, which read as zeros until sent again.
    fn discard(&mut self, block: &[u8], start: u64, len: u64) -> std::io::Result<()> {
        let Some(b) = crate::blocks::find(&self.blocks, &mut self.last, block, |b| &b.name) else {
            return Ok(());
        };
        self.flush()?;
        let page = self.page_size;
        let zeros = vec![0u8; page as usize];
        let end = start.saturating_add(len);
        let mut at = start - start % page;
        while at < end {
            if self.blocks[b].dirty(at / page) {
                self.blocks[b].file.write_all_at(&zeros, at)?;
                self.blocks[b].mark(at / page, false);
            }
            at += page;
        }
        Ok(())
    }

    fn io(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.failed.get_or_insert(Failure::Io {
                what: self.dir.display().to_string(),
                error: e,
            });
        }
    }

    /// Writes what is pending; returns the images.
    fn finish(mut self) -> Result<Self, Failure> {
        let r = self.flush();
        self.io(r);
        match self.failed.take() {
            Some(f) => Err(f),
            None => Ok(self),
        }
    }

    /// Writes the guest-physical memory of an x86 PC guest as an ELF core
    /// file at `path`, sparse like the images. `below_4g` overrides the
    /// machine type's RAM split.
    fn write_elf(&self, path: &Path, below_4g: Option<u64>) -> Result<(), Failure> {
        let unsupported = |m: String| Err(Failure::Unsupported(m));
        let find = |name: &[u8]| self.blocks.iter().find(|b| b.name == name);
        let Some(ram) = find(b"pc.ram") else {
            return unsupported("--elf: no pc.ram block (x86 pc and q35 guests only)".into());
        };
        let board = self
            .machine
            .as_deref()
            .and_then(physmap::Board::from_machine);
        let below = match (below_4g, board) {
            (Some(b), _) => b,
            (None, Some(board)) => board.below_4g(ram.size),
            (None, None) => {
                let m = self.machine.as_deref().unwrap_or(b"unknown");
                return unsupported(format!(
                    "--elf: machine type {} is not pc or q35: give --below-4g",
                    String::from_utf8_lossy(m)
                ));
            }
        };
        let bios = find(b"pc.bios").map(|b| (&b.name[..], b.size));
        let ranges = physmap::pc_ranges((&ram.name, ram.size), bios, below);
        let fail = || Failure::io(path.display());
        let mut out = File::create(path).map_err(fail())?;
        let cpus: Vec<elf::X86Regs> = self.cpus.values().copied().collect();
        let mut head = vec![0u8; elf::header_len(ranges.len(), cpus.len())];
        elf::write_header(&ranges, &cpus, elf::EM_X86_64, &mut head);
        out.write_all_at(&head, 0).map_err(fail())?;
        let mut end = head.len() as u64;
        // Only pages holding data are copied (in the kernel where it can),
        // so the ELF has the images' holes.
        let page = self.page_size;
        for (r, at) in ranges.iter().zip(elf::layout(&ranges, cpus.len())) {
            let img = find(r.block).expect("ranges name known blocks");
            let mut src = &img.file;
            let (first, last) = (r.offset / page, (r.offset + r.len).div_ceil(page));
            let mut p = first;
            while p < last {
                if !img.dirty(p) {
                    p += 1;
                    continue;
                }
                let q = (p..last).find(|&q| !img.dirty(q)).unwrap_or(last);
                let (from, len) = (p * page, ((q - p) * page).min(r.offset + r.len - p * page));
                src.seek(SeekFrom::Start(from)).map_err(fail())?;
                out.seek(SeekFrom::Start(at + from - r.offset))
                    .map_err(fail())?;
                let n = std::io::copy(&mut src.take(len), &mut out).map_err(fail())?;
                if n != len {
                    return Err(Failure::Unsupported(format!(
                        "{}: image shorter than its block",
                        img.file_name
                    )));
                }
                p = q;
            }
            end = end.max(at + r.len);
        }
        out.set_len(end).map_err(fail())
    }

    /// Why some images hold less than the guest had, for standard error.
    fn caveats(&self, input: &str) -> Vec<String> {
        let mut v = Vec::new();
        if self.unread {
            v.push(format!(
                "{input}: mapped-ram pages sit at file offsets a pipe cannot reach: \
                 those images are empty (extract from the file itself)"
            ));
        }
        if self.ignore_shared {
            for b in self.blocks.iter().filter(|b| b.entries == 0) {
                v.push(format!(
                    "{input}: x-ignore-shared: {} has no pages in the stream; its contents \
                     are in the shared memory backend, and {} is left zero",
                    String::from_utf8_lossy(&b.name),
                    b.file_name
                ));
            }
        }
        v
    }

    /// The image file names, in block table order.
    fn names(self) -> Vec<String> {
        self.blocks.into_iter().map(|b| b.file_name).collect()
    }
}

fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], at + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(())
}

fn bad_page(e: qevm::page::PageError, p: &RamPage<'_>) -> std::io::Error {
    let block = String::from_utf8_lossy(p.block);
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{block} page {:#x}: {e}", p.addr),
    )
}

impl Sink for Images {}

impl Visitor for Images {
    fn configuration(&mut self, c: &Configuration<'_>) {
        self.machine = Some(c.machine.to_vec());
        self.ignore_shared = c.has_capability("x-ignore-shared");
    }
    fn skipped(&mut self, what: &[u8], _offset: u64, _len: u64) {
        self.unread |= what == b"mapped-ram";
    }
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        self.cpu = (s.name == b"cpu").then_some(s.instance_id);
    }
    fn value(&mut self, path: &qevm::Path<'_, '_>, _field: &FieldDesc<'_>, value: &Value<'_>) {
        let (Some(cpu), Some(v)) = (self.cpu, value.as_u64()) else {
            return;
        };
        let path = path.to_string();
        let Some(field) = path.strip_prefix("cpu/") else {
            return;
        };
        let r = self.cpus.entry(cpu).or_default();
        let index = |prefix: &str, suffix: &str| {
            field
                .strip_prefix(prefix)?
                .strip_suffix(suffix)?
                .parse::<usize>()
                .ok()
        };
        match field {
            "env.eip" => r.rip = v,
            "env.eflags" => r.rflags = v,
            "env.segs[4]/base" => r.fs_base = v,
            "env.segs[5]/base" => r.gs_base = v,
            _ => {
                if let Some(i) = index("env.regs[", "]").filter(|&i| i < 16) {
                    r.gpr[i] = v;
                } else if let Some(i) = index("env.segs[", "]/selector").filter(|&i| i < 6) {
                    r.seg[i] = v;
                }
            }
        }
    }
    fn ram_block(&mut self, b: &RamBlock<'_>) {
        if self.failed.is_some() {
            return;
        }
        let file_name = image_name(b.name);
        let open = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.dir.join(&file_name));
        let r = open.and_then(|file| {
            file.set_len(b.used_length)?;
            Ok(file)
        });
        match r {
            Ok(file) => self.blocks.push(Image {
                name: b.name.to_vec(),
                file_name,
                file,
                dirty: Vec::new(),
                entries: 0,
                size: b.used_length,
            }),
            Err(e) => self.io(Err(e)),
        }
    }
    fn ram_page(&mut self, p: &RamPage<'_>) {
        if self.failed.is_none() {
            let r = self.page(p);
            self.io(r);
        }
    }
    fn command(&mut self, c: &Command<'_>) {
        let Some((block, ranges)) = c.discard() else {
            return;
        };
        for (start, len) in ranges {
            if self.failed.is_none() {
                let r = self.discard(block, start, len);
                self.io(r);
            }
        }
    }
}

/// What `qevm extract` writes besides the images and documents.
#[derive(Debug, Default)]
pub struct ElfOptions {
    /// Write `guest.elf`, the guest-physical memory as an ELF core file.
    pub elf: bool,
    /// RAM bytes below 4 GiB, overriding the machine type's default.
    pub below_4g: Option<u64>,
}

/// Runs `qevm extract`: writes into `dir` and lists what it wrote on `out`.
pub fn run(
    path: &str,
    dir: &Path,
    opts: &Options,
    elf_opts: &ElfOptions,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let name = input::display_name(path);
    fs::create_dir_all(dir).map_err(Failure::io(dir.display()))?;
    let state_path = dir.join("state.json");
    let state_file = File::create(&state_path).map_err(Failure::io(state_path.display()))?;
    let state = StateWriter::new(
        BufWriter::new(state_file),
        &state_path.display().to_string(),
        false,
    );
    let mut tee = Tee(state, Images::new(dir));
    let decoded = input::decode(path, opts, &mut tee)?;
    let Tee(state, images) = tee;
    state.finish()?;
    let images = images.finish()?;
    for c in images.caveats(name) {
        eprintln!("qevm: {c}");
    }
    if elf_opts.elf {
        images.write_elf(&dir.join("guest.elf"), elf_opts.below_4g)?;
    }
    let names = images.names();
    let stdout = |r: std::io::Result<()>| r.map_err(Failure::io("standard output"));
    match &decoded.vmdesc {
        Some(json) => {
            let v = qevm::analyze::desc_json(json).map_err(|error| Failure::Json {
                input: name.to_string(),
                error,
            })?;
            let desc_path = dir.join("desc.json");
            let mut f =
                BufWriter::new(File::create(&desc_path).map_err(Failure::io(desc_path.display()))?);
            crate::jsonout::print(&mut f, &v)
                .and_then(|()| f.flush())
                .map_err(Failure::io(desc_path.display()))?;
            stdout(writeln!(out, "desc.json"))?;
        }
        None => eprintln!("qevm: {name}: the stream has no vmdesc: desc.json not written"),
    }
    for n in names {
        stdout(writeln!(out, "{n}"))?;
    }
    if elf_opts.elf {
        stdout(writeln!(out, "guest.elf"))?;
    }
    stdout(writeln!(out, "state.json"))
}

#[cfg(test)]
mod tests {
    use super::image_name;

    #[test]
    fn block_names_become_flat_file_names() {
        assert_eq!(image_name(b"pc.ram"), "pc.ram.img");
        assert_eq!(
            image_name(b"/rom@etc/acpi/tables"),
            "%2From@etc%2Facpi%2Ftables.img"
        );
        assert_eq!(
            image_name(b"0000:00:02.0/vga.rom"),
            "0000:00:02.0%2Fvga.rom.img"
        );
        assert_eq!(
            image_name(b"../../etc/passwd"),
            "%2E.%2F..%2Fetc%2Fpasswd.img"
        );
        assert_eq!(image_name(b".."), "%2E..img");
        assert!(!image_name(b"a\0b/c d").contains(['/', '\0', ' ']));
    }
}
