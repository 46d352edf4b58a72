//! The vmdesc JSON scanner and index on arbitrary text: validation and
//! navigation of every device's fields never panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qevm::vmdesc::{FieldDesc, StructDesc, VmDesc};

fuzz_target!(|data: &[u8]| {
    let Ok(desc) = VmDesc::<64>::parse(data) else {
        return;
    };
    let json = desc.json();
    let _ = desc.configuration();
    for dev in desc.devices() {
        let sd = desc.device_struct(dev);
        // Two levels of structs are enough to reach every code path.
        for f in sd.fields.into_iter().flat_map(|p| json.items(p)) {
            if let Ok(f) = FieldDesc::at(json, f) {
                if let Some(s) = f.struct_pos {
                    let inner = StructDesc::at(json, s);
                    for g in inner.fields.into_iter().flat_map(|p| json.items(p)) {
                        let _ = FieldDesc::at(json, g).map(|g| g.name.chars().count());
                    }
                }
            }
        }
    }
});
