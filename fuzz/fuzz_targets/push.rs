//! The push front end, fed in chunks whose sizes come from the input,
//! must give exactly the slice front end's events and outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qevm::vmdesc::find_trailer;
use qevm::{Decoder, VmDesc};

fuzz_target!(|input: &[u8]| {
    let Some((&seed, data)) = input.split_first() else {
        return;
    };
    let mut slice = qevm_fuzz::Touch::default();
    let want = qevm::decode(data, &mut slice);

    let desc = match find_trailer(data).map(|(s, l)| VmDesc::<512>::parse(&data[s..s + l])) {
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => return, // the slice front end reported it
        None => None,
    };
    // Large enough for any record of this input.
    let mut buf = std::vec![0u8; data.len() + 1];
    // The slice front end reads mapped-ram pages from the whole input.
    let mut file = data;
    let mut d = Decoder::new(desc.as_ref(), &mut buf).with_source(&mut file);
    let mut push = qevm_fuzz::Touch::default();
    let mut rest = data;
    let mut x = seed as u64 | 1;
    let mut got = Ok(());
    while !rest.is_empty() && got.is_ok() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = 1 + (x % 97) as usize * if seed & 1 == 0 { 1 } else { 131 };
        let n = n.min(rest.len());
        got = d.feed(&rest[..n], &mut push);
        rest = &rest[n..];
    }
    if got.is_ok() {
        got = d.finish(&mut push);
    }
    assert_eq!(want.is_ok(), got.is_ok(), "slice {want:?} push {got:?}");
    if want.is_ok() {
        assert_eq!((slice.h.0, slice.events), (push.h.0, push.events));
    }
});
