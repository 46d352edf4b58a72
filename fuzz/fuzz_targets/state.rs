//! The device-state walker fed arbitrary payloads against a fixed real
//! vmdesc (x86_64 pc with many devices, QEMU 10.0). The first input byte
//! picks the device.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qevm::vmdesc::{find_trailer, VmDesc};
use qevm::{RecordKind, SectionHeader};

static STREAM: &[u8] = include_bytes!("../../tests/fixtures/x86_64-pc-devices-10.0.mig");

/// The vmdesc, parsed once: the walker, not the JSON index, is under test.
fn desc() -> &'static VmDesc<'static, 512> {
    static DESC: OnceLock<VmDesc<'static, 512>> = OnceLock::new();
    DESC.get_or_init(|| {
        let (s, l) = find_trailer(STREAM).expect("trailer");
        VmDesc::parse(&STREAM[s..s + l]).expect("vmdesc")
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&pick, payload)) = input.split_first() else {
        return;
    };
    let desc = desc();
    let devs = desc.devices();
    let dev = &devs[pick as usize % devs.len()];
    let mut name: heapless::String<128> = heapless::String::new();
    let _ = core::fmt::write(&mut name, format_args!("{}", dev.name));
    let header = SectionHeader {
        kind: RecordKind::SectionFull,
        section_id: 1,
        name: name.as_bytes(),
        instance_id: dev.instance_id,
        version_id: 1,
        offset: 0,
    };
    let mut t = qevm_fuzz::Touch::default();
    let _ = qevm::decode_payload(desc, &header, payload, &mut t);
});
