//! Runs the `qevm` binary on the committed fixtures: state and desc equal
//! analyze-migration.py's goldens (as parsed JSON), from a file and from
//! standard input; info, extract, check and diff do their jobs; errors
//! have the documented exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// Every fixture stream with its golden of `suffix` (`.state.json`, ...).
fn with_golden(suffix: &str) -> Vec<(PathBuf, PathBuf)> {
    let mut v: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures")
        .filter_map(|e| {
            let g = e.ok()?.path();
            let name = g.file_name()?.to_str()?.strip_suffix(suffix)?.to_string();
            let mig = fixture(&format!("{name}.mig"));
            mig.exists().then_some((mig, g))
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10, "goldens missing in {}", fixtures().display());
    v
}

fn qevm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qevm"))
        .args(args)
        .output()
        .expect("run qevm")
}

/// Runs qevm with `data` written into a pipe on its standard input, as
/// `cat FILE | qevm ARGS` does.
fn qevm_pipe(args: &[&str], data: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_qevm"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run qevm");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::scope(|t| {
        // qevm may stop reading early on an error: a broken pipe is fine.
        t.spawn(move || stdin.write_all(data));
        child.wait_with_output().expect("run qevm")
    })
}

/// Whether a stream ends its sections with footers (else a pipe reader
/// cannot frame device sections before the vmdesc).
fn has_footers(mig: &Path) -> bool {
    struct Footers(bool);
    impl qevm::Visitor for Footers {
        fn footer(&mut self, _id: u32) {
            self.0 = true;
        }
    }
    let mut v = Footers(false);
    let _ = qevm::decode(&std::fs::read(mig).unwrap(), &mut v);
    v.0
}

/// Runs qevm with `stdin` fed from a file: the path is `-`, a stream.
fn qevm_stdin(args: &[&str], stdin: &Path) -> Output {
    let f = std::fs::File::open(stdin).unwrap();
    Command::new(env!("CARGO_BIN_EXE_qevm"))
        .args(args)
        .stdin(Stdio::from(f))
        .output()
        .expect("run qevm")
}

fn json_of(o: &Output, what: &str) -> Value {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn golden(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Streams whose target page size is in neither the configuration nor
/// anything before the RAM: streaming needs --page-size.
fn page_size_args(mig: &Path) -> Vec<&'static str> {
    let n = s(mig);
    if n.contains("alpha") || n.contains("sparc64") {
        vec!["--page-size", "8192"]
    } else {
        vec![]
    }
}

/// Asserts that `qevm CMD MIG` prints `want`.
fn assert_prints(cmd: &str, mig: &Path, want: &Value) {
    let got = json_of(&qevm(&[cmd, s(mig)]), s(mig));
    assert_eq!(&got, want, "{cmd} {}", mig.display());
}

#[test]
fn state_equals_the_goldens_from_a_file_and_from_stdin() {
    for (mig, g) in with_golden(".state.json") {
        let want = golden(&g);
        assert_prints("state", &mig, &want);
        let name = s(&mig);
        // Without footers nothing frames a device section before the
        // vmdesc.
        if !has_footers(&mig) {
            continue;
        }
        let mut args = page_size_args(&mig);
        args.extend(["state", "-"]);
        assert_eq!(
            json_of(&qevm_stdin(&args, &mig), name),
            want,
            "{name} from stdin"
        );
    }
}

#[test]
fn a_pipe_gives_what_the_file_gives() {
    let mut migs: Vec<PathBuf> = with_golden(".state.json")
        .into_iter()
        .chain(with_golden(".desc.json"))
        .map(|(mig, _)| mig)
        .filter(|mig| has_footers(mig))
        .collect();
    migs.sort();
    migs.dedup();
    assert!(migs.iter().any(|m| s(m).contains("s390x-ccw-10.0")));
    for mig in migs {
        let name = s(&mig);
        let data = std::fs::read(&mig).unwrap();
        for cmd in [&["state"][..], &["info", "--json"]] {
            let mut file_args = page_size_args(&mig);
            file_args.extend(cmd);
            let mut pipe_args = file_args.clone();
            file_args.push(name);
            pipe_args.push("-");
            let (f, p) = (qevm(&file_args), qevm_pipe(&pipe_args, &data));
            let what = format!("{} {name}", cmd[0]);
            assert_eq!(
                f.status.code(),
                p.status.code(),
                "{what}: {}",
                String::from_utf8_lossy(&p.stderr)
            );
            if !f.status.success() {
                continue;
            }
            let (fj, pj) = (json_of(&f, &what), json_of(&p, &what));
            if cmd[0] == "info" && name.contains("mapped-ram") {
                // A pipe cannot reach mapped-ram pages at their file
                // offsets; it says so instead of counting them.
                assert!(
                    pj["skipped"]["mapped-ram"].as_u64() > Some(1 << 20),
                    "{what}"
                );
                assert_eq!(pj["totals"]["pages"], 0, "{what}");
                assert!(fj["totals"]["pages"].as_u64() > Some(10), "{what}");
                assert_eq!(fj["skipped"], serde_json::json!({}), "{what}");
                continue;
            }
            assert_eq!(pj, fj, "{what}");
        }
    }
}

#[test]
fn desc_equals_the_goldens() {
    for (mig, g) in with_golden(".desc.json") {
        assert_prints("desc", &mig, &golden(&g));
    }
    let mig = fixture("x86_64-pc-10.0.mig");
    let want = golden(&fixture("x86_64-pc-10.0.desc.json"));
    assert_eq!(json_of(&qevm_stdin(&["desc", "-"], &mig), "stdin"), want);
}

#[test]
fn state_memory_streams_the_page_dump() {
    let mig = fixture("x86_64-pc-10.0.mig");
    let data = std::fs::read(&mig).unwrap();
    let want = qevm::analyze::state_json(&data, true).unwrap();
    let got = json_of(&qevm(&["state", "--memory", s(&mig)]), "state --memory");
    assert_eq!(got, want);
    let (_, ram) = got
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("ram ("))
        .unwrap();
    let memory = ram["memory"].as_object().expect("memory dump");
    assert!(memory.len() > 1000);
    assert_eq!(
        json_of(&qevm_stdin(&["state", "-m", "-"], &mig), "stdin"),
        want
    );
}

/// The elements of the array `j[key]`.
fn items<'j>(j: &'j Value, key: &str) -> impl Iterator<Item = &'j Value> {
    j[key].as_array().expect(key).iter()
}

#[test]
fn info_summarises_the_stream() {
    let mig = fixture("x86_64-pc-10.0.mig");
    let o = qevm(&["info", s(&mig)]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "pc-i440fx-10.0",
        "version 3",
        "page size:    4096",
        "SWITCHOVER_START x1",
        "pc.ram",
        "Devices",
        "Totals",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains('\x1b'), "no colour when piped");
    let j = json_of(&qevm(&["info", "--json", s(&mig)]), "info --json");
    assert_eq!(j["machine"], "pc-i440fx-10.0");
    assert_eq!(j["page_size"], 4096);
    assert_eq!(j["commands"]["SWITCHOVER_START"], 1, "QEMU's command names");
    assert!(j["devices"][0]["section_id"].as_u64().is_some());
    let pc_ram = items(&j, "ram_blocks")
        .find(|b| b["name"] == "pc.ram")
        .unwrap();
    let sent = pc_ram["zero"].as_u64().unwrap() + pc_ram["raw"].as_u64().unwrap();
    assert!(
        sent >= pc_ram["size"].as_u64().unwrap() / 4096,
        "every page sent once at least"
    );
    assert!(items(&j, "devices").any(|d| d["name"] == "timer" && d["size"].as_u64() > Some(0)));
    // The same summary when streaming from a pipe.
    assert_eq!(
        json_of(&qevm_stdin(&["info", "--json", "-"], &mig), "stdin"),
        j
    );
    // Subsections and xbzrle counts.
    let j = json_of(
        &qevm(&["info", "--json", s(&fixture("x86_64-pc-xbzrle-10.0.mig"))]),
        "xbzrle",
    );
    assert!(items(&j, "ram_blocks").any(|b| b["xbzrle"].as_u64() > Some(0)));
    let j = json_of(
        &qevm(&["info", "--json", s(&fixture("x86_64-pc-devices-10.0.mig"))]),
        "devices",
    );
    assert!(items(&j, "devices").any(|d| !d["subsections"].as_array().unwrap().is_empty()));
}

#[test]
fn extract_writes_sparse_images_and_the_documents() {
    let mig = fixture("x86_64-pc-10.0.mig");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = qevm(&["extract", s(&mig), "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        golden(&out.join("desc.json")),
        golden(&fixture("x86_64-pc-10.0.desc.json"))
    );
    assert_eq!(
        golden(&out.join("state.json")),
        golden(&fixture("x86_64-pc-10.0.state.json"))
    );
    // Block names with '/' stay inside the directory.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.contains(&"0000:00:02.0%2Fvga.rom.img".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"%2From@etc%2Facpi%2Ftables.img".to_string()),
        "{names:?}"
    );
    // pc.ram: the block's size, sparse, and every page as the stream has it.
    let img = std::fs::read(out.join("pc.ram.img")).unwrap();
    assert_eq!(img.len(), 32 << 20);
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(out.join("pc.ram.img")).unwrap();
    assert!(
        meta.blocks() * 512 < meta.len() / 4,
        "zero pages are not written"
    );
    struct Pages<'a>(&'a [u8], u64);
    impl qevm::Visitor for Pages<'_> {
        fn ram_page(&mut self, p: &qevm::RamPage<'_>) {
            if p.block == b"pc.ram" {
                let page = &self.0[p.addr as usize..p.addr as usize + 4096];
                match p.data {
                    qevm::PageData::Raw(d) => assert_eq!(page, d),
                    qevm::PageData::Fill(c) => assert!(page.iter().all(|b| *b == c)),
                    _ => unreachable!(),
                }
                self.1 += 1;
            }
        }
    }
    let mut v = Pages(&img, 0);
    qevm::decode(&std::fs::read(&mig).unwrap(), &mut v).unwrap();
    assert!(v.1 >= 8192);
    // XBZRLE pages are applied to the previous copy of their page.
    let o = qevm(&[
        "extract",
        s(&fixture("x86_64-pc-xbzrle-10.0.mig")),
        "-o",
        s(&dir.path().join("x")),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // From a pipe too.
    let o = qevm_stdin(&["extract", "-", "-o", s(&dir.path().join("pipe"))], &mig);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("pipe/pc.ram.img")).unwrap(),
        img
    );
}

#[test]
fn check_passes_every_decodable_fixture() {
    for (mig, _) in with_golden(".desc.json") {
        let o = qevm(&["check", s(&mig)]);
        assert!(
            o.status.success(),
            "{}: {}",
            mig.display(),
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(String::from_utf8_lossy(&o.stdout).ends_with("ok\n"));
    }
}

#[test]
fn check_flags_corrupted_copies() {
    let data = std::fs::read(fixture("x86_64-pc-10.0.mig")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let footer = data
        .windows(5)
        .rposition(|w| w[0] == 0x7e && w[1..4] == [0, 0, 0])
        .unwrap();
    let mut flipped = data.clone();
    flipped[footer + 4] ^= 1;
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("footer", flipped, "section footer for section"),
        ("truncated", data[..data.len() / 2].to_vec(), "truncated"),
        (
            "trailing",
            [data.as_slice(), b"garbage"].concat(),
            "trailing data",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = dir.path().join(format!("{name}.mig"));
        std::fs::write(&p, bytes).unwrap();
        let out = String::from_utf8(qevm(&["check", s(&p)]).stdout).unwrap();
        assert!(
            out.contains(want) && out.contains("at byte"),
            "{name}: {out}"
        );
        // Streaming sees the same damage (a bad footer may show first as
        // a section it cannot delimit).
        let o = qevm_stdin(&["check", "-"], &p);
        let out = String::from_utf8(o.stdout).unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}: {out}");
        assert!(out.contains("at byte"), "{name}: {out}");
    }
    let o = qevm(&["check", s(&dir.path().join("footer.mig"))]);
    assert_eq!(o.status.code(), Some(1));
}

/// The field that differs between a `mac56` and a `mac57` recording.
fn mac_diff(a: &str, b: &str, device: &str) {
    let (a, b) = (fixture(a), fixture(b));
    let o = qevm(&["diff", "--json", s(&a), s(&b)]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let changed = j["devices"]["changed"].as_array().unwrap();
    let dev = changed
        .iter()
        .find(|d| d["name"].as_str().unwrap().ends_with(device))
        .expect("the NIC changed");
    let fields = dev["fields"]["changed"].as_object().unwrap();
    assert!(
        fields.values().any(|v| v[0].as_str().unwrap().contains("56") && v[1].as_str().unwrap().contains("57")),
        "{fields:?}"
    );
    let text = String::from_utf8(qevm(&["diff", s(&a), s(&b)]).stdout).unwrap();
    assert!(text.contains(device) && text.contains("-> "), "{text}");
}

#[test]
fn diff_finds_the_changed_mac() {
    let e1000 = fixture("x86_64-pc-e1000-mac56-10.0.mig").exists();
    let virtio = fixture("x86_64-microvm-virtio-net-mac56-10.0.mig").exists();
    assert!(e1000 || virtio, "no mac56/mac57 fixture pair");
    if e1000 {
        mac_diff(
            "x86_64-pc-e1000-mac56-10.0.mig",
            "x86_64-pc-e1000-mac57-10.0.mig",
            "e1000",
        );
    }
    if virtio {
        mac_diff(
            "x86_64-microvm-virtio-net-mac56-10.0.mig",
            "x86_64-microvm-virtio-net-mac57-10.0.mig",
            "virtio-net",
        );
    }
}

#[test]
fn diff_of_a_stream_with_itself_is_empty() {
    let mig = fixture("x86_64-pc-devices-10.0.mig");
    let o = qevm(&["diff", s(&mig), s(&mig)]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains("no differences"));
    let o = qevm_stdin(&["diff", "-", s(&mig)], &mig);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn errors_have_documented_exit_codes() {
    let o = qevm(&["info"]);
    assert_eq!(o.status.code(), Some(2), "usage");
    let o = qevm(&["info", "/nonexistent/x.mig"]);
    assert_eq!(o.status.code(), Some(4), "I/O");
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.mig"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.mig");
    std::fs::write(&p, b"QEVM\0\0\0\x02").unwrap();
    let o = qevm(&["state", s(&p)]);
    assert_eq!(o.status.code(), Some(3), "decode");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("at byte 4") && err.contains("version 2"),
        "{err}"
    );
    // A field-level error names the section and field path.
    let mut data = std::fs::read(fixture("x86_64-pc-10.0.mig")).unwrap();
    let at = data.windows(6).position(|w| w == b"\x05timer").unwrap();
    data.truncate(at + 20);
    std::fs::write(&p, &data).unwrap();
    let o = qevm_stdin(&["info", "-"], &p);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("section 'timer'"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_vmdesc_larger_than_the_buffer_is_a_clear_error() {
    let data = std::fs::read(fixture("x86_64-pc-10.0.mig")).unwrap();
    let (start, len) = qevm::vmdesc::find_trailer(&data).unwrap();
    let mut json = data[start..start + len - 1].to_vec();
    json.resize(json.len() + (17 << 20), b' ');
    json.push(b'}');
    let mut big = data[..start - 4].to_vec();
    big.extend((json.len() as u32).to_be_bytes());
    big.extend(&json);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big-vmdesc.mig");
    std::fs::write(&p, &big).unwrap();
    for o in [qevm(&["info", s(&p)]), qevm_pipe(&["info", "-"], &big)] {
        assert_eq!(o.status.code(), Some(3));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("at byte {}", start - 5))
                && err.contains("VMDESCRIPTION")
                && err.contains("does not fit"),
            "{err}"
        );
    }
}

#[test]
fn every_subcommand_has_help() {
    for cmd in [
        "state",
        "desc",
        "extract",
        "info",
        "check",
        "diff",
        "snapshots",
    ] {
        let o = qevm(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(
            text.contains("Usage: qevm") && text.contains("Exit codes:"),
            "{cmd}: {text}"
        );
    }
}

/// `from` replaced by `to` (same length) everywhere in `data`.
fn replace_all(data: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    let mut i = 0;
    while let Some(at) = data[i..].windows(from.len()).position(|w| w == from) {
        data[i + at..i + at + to.len()].copy_from_slice(to);
        i += at + to.len();
        n += 1;
    }
    n
}

#[test]
fn extract_never_writes_outside_its_directory() {
    // A real stream whose RAM block names (in the block table and in every
    // page that names its block) become "../../x" and an absolute path.
    let mut data = std::fs::read(fixture("x86_64-pc-10.0.mig")).unwrap();
    assert!(replace_all(&mut data, b"\x07pc.bios", b"\x07../../x") >= 2);
    assert!(replace_all(&mut data, b"\x06pc.rom", b"\x06/qevm1") >= 2);
    assert!(!Path::new("/qevm1").exists());
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("hostile.mig");
    std::fs::write(&hostile, &data).unwrap();
    let out = dir.path().join("a/b/out");
    let o = qevm(&["extract", s(&hostile), "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.contains(&"%2E.%2F..%2Fx.img".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"%2Fqevm1.img".to_string()), "{names:?}");
    // Nothing appeared beside or above the output directory.
    assert!(!Path::new("/qevm1").exists());
    assert!(!dir.path().join("a/x").exists() && !dir.path().join("x").exists());
    let above: Vec<_> = std::fs::read_dir(dir.path().join("a")).unwrap().collect();
    assert_eq!(above.len(), 1, "only a/b");
    let mut top: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["a", "hostile.mig"]);
}
