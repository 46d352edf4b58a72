//! `qevm extract --elf`, `qevm snapshots` and `--snapshot` on real streams
//! and images: the guest memory they write equals QEMU's own dump of the
//! guest (`NAME.guest.json`) and the bytes `-device loader` put there.

#[path = "../../tests/common/guest.rs"]
mod guest;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use guest::{check_against_guest, pattern};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn qevm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qevm"))
        .args(args)
        .output()
        .expect("run qevm")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn le(b: &[u8], at: usize, n: usize) -> u64 {
    b[at..at + n]
        .iter()
        .rev()
        .fold(0, |v, &x| (v << 8) | u64::from(x))
}

/// The PT_LOAD segments of an ELF64 little-endian core file: (physical
/// address, bytes), parsed here from the ELF specification.
fn elf_loads(elf: &[u8]) -> Vec<(u64, &[u8])> {
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!((elf[4], elf[5], le(elf, 16, 2)), (2, 1, 4), "ELF64 LE core");
    assert_eq!(le(elf, 18, 2), 62, "EM_X86_64");
    let (phoff, phnum) = (le(elf, 32, 8) as usize, le(elf, 56, 2) as usize);
    (0..phnum)
        .map(|i| elf_phdr(elf, phoff + 56 * i))
        .filter(|p| p.0 == 1)
        .map(|(_, paddr, off, len)| (paddr, &elf[off..off + len]))
        .collect()
}

/// (p_type, p_paddr, p_offset, p_filesz) of the program header at `at`.
fn elf_phdr(elf: &[u8], at: usize) -> (u32, u64, usize, usize) {
    let vaddr = le(elf, at + 16, 8);
    let paddr = le(elf, at + 24, 8);
    assert_eq!(vaddr, paddr, "virtual = physical, as QEMU writes them");
    (
        le(elf, at, 4) as u32,
        paddr,
        le(elf, at + 8, 8) as usize,
        le(elf, at + 32, 8) as usize,
    )
}

/// Extracts `args` with `--elf` and checks guest.elf against `golden`;
/// returns the directory (removed when dropped) and the ELF's path.
fn check_elf(args: &[&str], golden: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut a = vec!["extract", "--elf", "-o", out.to_str().unwrap()];
    a.extend(args);
    let listed = ok(&qevm(&a));
    assert!(listed.lines().any(|l| l == "guest.elf"), "{listed}");
    let elf = std::fs::read(out.join("guest.elf")).unwrap();
    let loads = elf_loads(&elf);
    let page = |gpa: u64| {
        loads.iter().find_map(|(start, bytes)| {
            let off = gpa.checked_sub(*start)? as usize;
            bytes.get(off..off + 4096)
        })
    };
    let n = check_against_guest(page, &fixture(golden), golden);
    assert!(n > 1000, "{golden}: only {n} pages compared");
    (dir, out.join("guest.elf"))
}

#[test]
fn elf_cores_hold_the_guest_memory() {
    let f = |n: &str| fixture(n).to_str().unwrap().to_string();
    // XBZRLE deltas, zlib pages and postcopy discards, through the CLI.
    for name in [
        "x86_64-pc-xbzrle-10.0",
        "x86_64-pc-compress-7.2",
        "x86_64-pc-postcopy-switch-10.0",
        "x86_64-q35-plain-10.0",
    ] {
        check_elf(&[&f(&format!("{name}.mig"))], &format!("{name}.guest.json"));
    }
    // RAM above max-ram-below-4g sits at 4 GiB.
    let split = f("x86_64-pc-split-10.0.mig");
    let (_dir, elf) = check_elf(
        &[&split, "--below-4g", "16M"],
        "x86_64-pc-split-10.0.guest.json",
    );
    let loads = elf_loads(&std::fs::read(&elf).unwrap())
        .iter()
        .map(|(a, b)| (*a, b.len()))
        .collect::<Vec<_>>();
    assert_eq!(
        loads,
        [(0, 16 << 20), (0xfffc_0000, 256 << 10), (1 << 32, 8 << 20)]
    );
    // The ELF stays sparse like the images.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&elf).unwrap();
    assert!(meta.blocks() * 512 < meta.len() / 4, "zero runs are holes");
}

/// What gdb prints for `commands` on core file `elf` (no executable).
fn gdb(elf: &Path, commands: &[&str]) -> String {
    let mut c = Command::new("gdb");
    c.args(["-batch", "-nx", "-c"]).arg(elf);
    for cmd in commands {
        c.args(["-ex", cmd]);
    }
    let o = c.output().expect("gdb (scripts/setup.sh installs it)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// gdb reads the core: the loader blob above 4 GiB is where the guest had it.
#[test]
fn gdb_reads_the_elf_core() {
    let split = fixture("x86_64-pc-split-10.0.mig");
    let (_dir, elf) = check_elf(
        &[split.to_str().unwrap(), "--below-4g", "0x1000000"],
        "x86_64-pc-split-10.0.guest.json",
    );
    let text = gdb(&elf, &["x/8xb 0x100005000"]);
    let line = text
        .lines()
        .find(|l| l.starts_with("0x100005000:"))
        .unwrap_or_else(|| panic!("gdb printed no memory: {text}"));
    let bytes: Vec<u8> = line
        .split_whitespace()
        .skip(1)
        .map(|b| u8::from_str_radix(b.trim_start_matches("0x"), 16).unwrap())
        .collect();
    // The blob with seed 5 was loaded at 0x100005000.
    let want: Vec<u8> = (0..8).map(|i| pattern(5, i)).collect();
    assert_eq!(bytes, want);
}

#[test]
fn snapshots_lists_what_qemu_img_lists() {
    let img = fixture("x86_64-pc-savevm-10.0.qcow2");
    let img = img.to_str().unwrap();
    let got: Value = serde_json::from_str(&ok(&qevm(&["snapshots", "--json", img]))).unwrap();
    let info: Value = serde_json::from_slice(
        &std::fs::read(fixture("x86_64-pc-savevm-10.0.qemu-img-info.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(got, info["snapshots"]);
    let text = ok(&qevm(&["snapshots", img]));
    assert!(text.contains("booted") && text.contains("halted"), "{text}");
    assert!(text.contains("00:00:06.001"), "vm clock: {text}");
}

#[test]
fn snapshot_vmstate_decodes_like_a_stream() {
    let img = fixture("x86_64-pc-savevm-10.0.qcow2");
    let img = img.to_str().unwrap();
    for snap in ["booted", "halted"] {
        check_elf(
            &[img, "--snapshot", snap],
            &format!("x86_64-pc-savevm-10.0.{snap}.guest.json"),
        );
        let info: Value =
            serde_json::from_str(&ok(&qevm(&["info", "--json", "--snapshot", snap, img]))).unwrap();
        assert_eq!(info["machine"], "pc-i440fx-10.0");
        let vm: Value = serde_json::from_slice(
            &std::fs::read(fixture("x86_64-pc-savevm-10.0.vmstate.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(info["total_bytes"], vm["snapshots"][snap]["vm_state_size"]);
        ok(&qevm(&["check", "--snapshot", snap, img]));
    }
    // By ID as well as by name.
    ok(&qevm(&["state", "--snapshot", "2", img]));
}

#[test]
fn mapped_ram_blocks_extract_from_their_offsets() {
    for name in [
        "x86_64-microvm-mapped-ram-10.0",
        "x86_64-microvm-mapped-ram-multifd-10.0",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mig = fixture(&format!("{name}.mig"));
        ok(&qevm(&[
            "extract",
            "-o",
            dir.path().to_str().unwrap(),
            mig.to_str().unwrap(),
        ]));
        // microvm maps its RAM block at 0 for small guests.
        let ram = std::fs::read(dir.path().join("microvm.ram.img")).unwrap();
        let page = |gpa: u64| ram.get(gpa as usize..gpa as usize + 4096);
        let golden = fixture(&format!("{name}.guest.json"));
        assert!(check_against_guest(page, &golden, name) > 1000);
    }
}

#[test]
fn qcow2_and_elf_misuse_is_explained() {
    let img = fixture("x86_64-pc-savevm-10.0.qcow2");
    let img = img.to_str().unwrap();
    let mig = fixture("x86_64-microvm-tiny-10.0.mig");
    let mig = mig.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    for (args, says) in [
        (vec!["info", img], "--snapshot NAME"),
        (
            vec!["info", "--snapshot", "nope", img],
            "no snapshot named \"nope\"",
        ),
        (vec!["info", "--snapshot", "x", mig], "qcow2 images only"),
        (vec!["snapshots", mig], "not a qcow2 image"),
        (vec!["extract", "--elf", "-o", out, mig], "no pc.ram block"),
    ] {
        let o = qevm(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn diff_compares_two_snapshots() {
    let img = fixture("x86_64-pc-savevm-10.0.qcow2");
    let img = img.to_str().unwrap();
    let args = [
        "diff",
        "--json",
        "--snapshot",
        "booted",
        "--snapshot",
        "halted",
        img,
        img,
    ];
    let o = qevm(&args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    // The dirtier ran between the snapshots and halted: the CPU says so,
    // and its 16 counter pages at 0x200000 changed.
    assert!(d["devices"].to_string().contains("halted"), "{d}");
    let ram = d["ram"].as_array().unwrap();
    let pc = ram.iter().find(|b| b["block"] == "pc.ram").unwrap();
    let counters = serde_json::json!([0x20_0000, 0x21_0000]);
    assert!(pc["ranges"].as_array().unwrap().contains(&counters), "{pc}");
    // Once: the same snapshot for both, so no difference.
    let same = qevm(&["diff", "--snapshot", "halted", img, img]);
    assert_eq!(same.status.code(), Some(0));
    let three = qevm(&["info", "--snapshot", "a", "--snapshot", "b", img]);
    assert_eq!(three.status.code(), Some(2));
}

/// What a stream does not carry is said, not silently left zero.
#[test]
fn extract_says_which_images_the_stream_cannot_fill() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let shared = fixture("x86_64-pc-ignore-shared-10.0.mig");
    let o = qevm(&["extract", "-o", out, shared.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("x-ignore-shared: mem has no pages"),
        "{err}"
    );
    let mapped = std::fs::File::open(fixture("x86_64-microvm-mapped-ram-10.0.mig")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_qevm"))
        .args(["extract", "-o", out, "-"])
        .stdin(mapped)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("a pipe cannot reach"),
        "{err}"
    );
}

/// gdb reads the registers from the ELF's notes: the dirtier guest of the
/// `halted` snapshot stopped right after its `hlt`, which sits at
/// 0x100046 (multiboot load address 0x100000, 32-byte header, 38 bytes of
/// code before it; tests/fixtures/record.sh), and its counter register
/// (ebx) equals what it last wrote to memory at 0x200000.
#[test]
fn gdb_reads_the_vcpu_registers() {
    let img = fixture("x86_64-pc-savevm-10.0.qcow2");
    let (_dir, elf) = check_elf(
        &[img.to_str().unwrap(), "--snapshot", "halted"],
        "x86_64-pc-savevm-10.0.halted.guest.json",
    );
    let text = gdb(&elf, &["info registers rip rbx", "x/1wx 0x200000"]);
    let word = |prefix: &str, at: usize| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{text}"));
        let w = line.split_whitespace().nth(at).unwrap();
        u64::from_str_radix(w.trim_start_matches("0x"), 16).unwrap()
    };
    assert_eq!(word("rip", 1), 0x10_0047, "{text}");
    let counter = word("rbx", 1);
    assert!(counter > 1, "the dirtier ran: {text}");
    assert_eq!(word("0x200000:", 1), counter & 0xffff_ffff, "{text}");
}
