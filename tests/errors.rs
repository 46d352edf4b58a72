//! Bad input gets a typed error that names the byte offset, the record,
//! the section and the field path: never a panic.

mod common;

use qevm::vmdesc::find_trailer;
use qevm::{decode, ErrorKind, Ignore, RecordKind};

fn fixture(name: &str) -> Vec<u8> {
    let p = common::fixtures()
        .into_iter()
        .find(|p| p.file_name().unwrap() == name)
        .unwrap();
    std::fs::read(p).unwrap()
}

/// The stream with its vmdesc JSON replaced by `edit(json)`.
fn with_vmdesc(stream: &[u8], mut edit: impl FnMut(&str) -> String) -> Vec<u8> {
    let (start, len) = find_trailer(stream).unwrap();
    let json = edit(std::str::from_utf8(&stream[start..start + len]).unwrap());
    let mut out = stream[..start - 4].to_vec();
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(json.as_bytes());
    out
}

#[test]
fn empty_foreign_and_old_inputs() {
    let e = decode(b"", &mut Ignore).unwrap_err();
    assert_eq!(
        (e.offset, e.kind.clone(), e.record),
        (
            0,
            ErrorKind::Truncated { needed: 8 },
            Some(RecordKind::Header)
        )
    );
    let e = decode(b"\x7fELF\x02\x01\x01\x00", &mut Ignore).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadMagic(0x7f45_4c46));
    let e = decode(b"QEVM\x00\x00\x00\x02\x00", &mut Ignore).unwrap_err();
    assert_eq!(
        (e.offset, e.kind.clone()),
        (4, ErrorKind::UnsupportedVersion(2))
    );
    assert!(e.to_string().contains("version 2"), "{e}");
    let e = decode(b"QEVM\x00\x00\x00\x03\x42", &mut Ignore).unwrap_err();
    assert_eq!((e.offset, e.kind), (8, ErrorKind::UnknownRecord(0x42)));
}

#[test]
fn footer_for_another_section_is_an_error() {
    let mut s = fixture("x86_64-pc-10.0.mig");
    // The first device section is "timer" (section id 0); its footer
    // `7e 00000000` follows its payload.
    let timer = s.windows(6).position(|w| w == b"\x05timer").unwrap();
    let at = timer
        + s[timer..]
            .windows(5)
            .position(|w| w == [0x7e, 0, 0, 0, 0])
            .unwrap();
    s[at + 4] ^= 0x40;
    let e = decode(&s, &mut Ignore).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::FooterMismatch { .. }), "{e}");
    assert_eq!(
        (e.offset, e.record),
        (at as u64 + 1, Some(RecordKind::SectionFooter))
    );
}

#[test]
fn vmdesc_size_that_disagrees_with_the_stream_names_the_field() {
    let s = fixture("x86_64-pc-10.0.mig");
    // Claim one byte more for the first struct field of the "cpu" device.
    let mut path = String::new();
    let bad = with_vmdesc(&s, |j| {
        let mut v: serde_json::Value = serde_json::from_str(j).unwrap();
        let dev = v["devices"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|d| d["name"] == "cpu")
            .unwrap();
        let f = dev["fields"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|f| f["type"] == "struct")
            .unwrap();
        let size = f["size"].as_u64().unwrap();
        f["size"] = (size + 1).into();
        path = format!("cpu/{}", f["name"].as_str().unwrap());
        serde_json::to_string(&v).unwrap()
    });
    let e = decode(&bad, &mut Ignore).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::SizeMismatch { .. }), "{e}");
    assert_eq!(e.section, "cpu");
    assert!(e.path.starts_with(path.as_str()), "{e}");
    assert_eq!(e.record, Some(RecordKind::SectionFull));
}

#[test]
fn vmdesc_that_is_not_json_is_reported_at_its_offset() {
    let s = fixture("x86_64-pc-10.0.mig");
    let (start, _) = find_trailer(&s).unwrap();
    let bad = with_vmdesc(&s, |j| j.replacen("\"devices\"", "\"devices\" :: ", 1));
    let e = decode(&bad, &mut Ignore).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Vmdesc(_)), "{e}");
    assert!(e.offset > start as u64 && e.offset < bad.len() as u64);
}
