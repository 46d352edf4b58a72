//! Page decoding on arbitrary entries: XBZRLE deltas applied to a page and
//! zlib data inflated into one never panic, and either succeed or say why.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qevm::PageData;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    // Page sizes from 512 B to 64 KiB, the previous copy a known pattern.
    let size = 512 << (kind >> 5);
    let mut page: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let entry = match kind & 3 {
        0 => PageData::Xbzrle(body),
        1 => PageData::Compressed(body),
        2 => PageData::Raw(body),
        _ => PageData::Fill(body.first().copied().unwrap_or(0)),
    };
    if entry.decode_into(&mut page).is_err() {
        assert!(!entry.is_delta() || page.len() == size);
    }
});
