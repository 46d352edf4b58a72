//! Hostile vmdesc JSON spliced onto a real stream: each case gets a clear
//! error in bounded time, and memory stays what the caller gave.

mod common;

use std::time::{Duration, Instant};

use qevm::json::JsonErrorKind;
use qevm::vmdesc::find_trailer;
use qevm::{decode, Decoder, ErrorKind, Ignore, VmDesc};
use serde_json::Value;

const BOUND: Duration = Duration::from_secs(2);

fn stream() -> Vec<u8> {
    let p = common::fixtures()
        .into_iter()
        .find(|p| p.ends_with("x86_64-microvm-tiny-10.0.mig"))
        .unwrap();
    std::fs::read(p).unwrap()
}

/// The stream with its vmdesc replaced by `json`.
fn with_json(s: &[u8], json: &[u8]) -> Vec<u8> {
    let (start, _) = find_trailer(s).unwrap();
    let mut out = s[..start - 4].to_vec();
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(json);
    out
}

/// The stream with its vmdesc edited as JSON.
fn edited(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let s = stream();
    let (start, len) = find_trailer(&s).unwrap();
    let mut v: Value = serde_json::from_slice(&s[start..start + len]).unwrap();
    edit(&mut v);
    with_json(&s, &serde_json::to_vec(&v).unwrap())
}

/// The first field of device `dev`.
fn field<'a>(v: &'a mut Value, dev: &str, name: &str) -> &'a mut Value {
    let d = v["devices"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|d| d["name"] == dev)
        .unwrap();
    d["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == name)
        .unwrap()
}

fn timed(input: &[u8]) -> qevm::Error {
    let t = Instant::now();
    let e = decode(input, &mut Ignore).expect_err("hostile input accepted");
    assert!(t.elapsed() < BOUND, "took {:?}", t.elapsed());
    e
}

fn vmdesc_kind(e: &qevm::Error) -> JsonErrorKind {
    match &e.kind {
        ErrorKind::Vmdesc(j) => j.kind,
        other => panic!("not a vmdesc error: {other:?} ({e})"),
    }
}

#[test]
fn nesting_deeper_than_the_limit() {
    let s = stream();
    let mut deep = String::from(r#"{"devices": ["#);
    deep.push_str(&"[".repeat(100));
    deep.push_str(&"]".repeat(100));
    deep.push_str("]}");
    let e = timed(&with_json(&s, deep.as_bytes()));
    assert_eq!(vmdesc_kind(&e), JsonErrorKind::TooDeep);
    assert!(
        e.to_string().contains("nested deeper than the depth limit"),
        "{e}"
    );
    // A lower limit, for a tighter embedded budget.
    let json = &s[find_trailer(&s).unwrap().0..];
    let limits = qevm::Limits {
        json_depth: 3,
        ..Default::default()
    };
    assert!(VmDesc::<64>::parse_with(json, &limits).is_err());
    assert!(VmDesc::<64>::parse(json).is_ok());
}

#[test]
fn array_len_of_2_pow_31() {
    let bad = edited(|v| {
        let f = field(v, "timer", "cpu_ticks_offset");
        f["array_len"] = (1u64 << 31).into();
    });
    let e = timed(&bad);
    assert_eq!(e.section, "timer");
    assert!(e.path.starts_with("timer/cpu_ticks_offset["), "{e}");
    // The push decoder sees at once that the array cannot fit its buffer.
    let (s, l) = find_trailer(&bad).unwrap();
    let desc = VmDesc::<64>::parse(&bad[s..s + l]).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut d = Decoder::new(Some(&desc), &mut buf);
    let t = Instant::now();
    let mut e = Ok(());
    for c in bad.chunks(1000) {
        e = d.feed(c, &mut Ignore);
        if e.is_err() {
            break;
        }
    }
    assert!(matches!(
        e.unwrap_err().kind,
        ErrorKind::RecordTooLarge { .. }
    ));
    assert!(t.elapsed() < BOUND);
}

#[test]
fn sizes_near_2_pow_32() {
    let bad = edited(|v| {
        let f = field(v, "timer", "cpu_ticks_offset");
        f["type"] = "buffer".into();
        f["size"] = 0xffff_fff0u64.into();
    });
    let e = timed(&bad);
    assert!(matches!(e.kind, ErrorKind::Truncated { .. }), "{e}");
    assert_eq!(e.path, "timer/cpu_ticks_offset");
}

#[test]
fn integer_sizes_that_disagree_with_the_type() {
    for size in [7u64, 9] {
        let bad = edited(|v| field(v, "timer", "cpu_ticks_offset")["size"] = size.into());
        let e = timed(&bad);
        assert_eq!(e.kind, ErrorKind::TypeWidth { width: 8, size }, "{e}");
        assert_eq!(
            (e.section.as_str(), e.path.as_str()),
            ("timer", "timer/cpu_ticks_offset")
        );
    }
}

#[test]
fn duplicated_devices() {
    let bad = edited(|v| {
        let devs = v["devices"].as_array_mut().unwrap();
        let first = devs[0].clone();
        devs.push(first);
    });
    assert_eq!(vmdesc_kind(&timed(&bad)), JsonErrorKind::DuplicateDevice);
}

#[test]
fn invalid_utf8_and_non_json() {
    let s = stream();
    let (start, len) = find_trailer(&s).unwrap();
    let mut json = s[start..start + len].to_vec();
    let at = json.windows(5).position(|w| w == b"timer").unwrap();
    json[at] = 0xff;
    assert_eq!(
        vmdesc_kind(&timed(&with_json(&s, &json))),
        JsonErrorKind::Utf8
    );
    for junk in [
        &b"{not json at all"[..],
        b"{\"devices\": [1, 2,]}",
        b"{\"devices\": {}}",
        b"{}",
    ] {
        let e = timed(&with_json(&s, junk));
        assert!(matches!(e.kind, ErrorKind::Vmdesc(_)), "{e}");
        assert!(e.offset >= start as u64, "{e}");
    }
}
