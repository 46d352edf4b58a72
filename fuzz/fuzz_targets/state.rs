//! The device-state walker fed arbitrary payloads against a fixed real
//! vmdesc (x86_64 pc with many devices, QEMU 10.0). The first input byte
//! picks the device.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qevm::vmdesc::{find_trailer, VmDesc};
use qevm::{RecordKind, SectionHeader};

static STREAM_TAIL: &[u8] = include_bytes!("../../tests/fixtures/x86_64-pc-devices-10.0.mig");

fuzz_target!(|input: &[u8]| {
    let Some((&pick, payload)) = input.split_first() else {
        return;
    };
    let (s, l) = find_trailer(STREAM_TAIL).expect("trailer");
    let desc = VmDesc::<512>::parse(&STREAM_TAIL[s..s + l]).expect("vmdesc");
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
    let _ = qevm::decode_payload(&desc, &header, payload, 0, &mut t);
});
