//! The slice front end on arbitrary bytes: never a panic, a hang, or an
//! error offset beyond the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut t = qevm_fuzz::Touch::default();
    if let Err(e) = qevm::decode(data, &mut t) {
        assert!(
            e.offset <= data.len() as u64 + 1
                || matches!(e.kind, qevm::ErrorKind::Truncated { .. })
        );
    }
});
