//! Checks of rebuilt guest memory against references that come from the
//! guest, not from qevm: QEMU's `dump-guest-memory` of the source
//! (`NAME.guest.json`) and the bytes `-device loader` placed.

#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub const PAGE: u64 = 4096;
/// The dirtier guest rewrites the first dword of each page here.
const DIRTIED: std::ops::Range<u64> = 0x20_0000..0x21_0000;
/// The legacy window, where QEMU's dump shows ROM copies or VGA memory
/// depending on the firmware's progress, not necessarily the RAM block.
const LEGACY: std::ops::Range<u64> = 0xa_0000..0x10_0000;

/// Byte `i` of a `-device loader` blob with seed `s` (tests/fixtures/README.md).
pub fn pattern(seed: u64, i: u64) -> u8 {
    (i * 7 + (i >> 12) * 31 + seed) as u8
}

pub fn hex_sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks guest-physical memory (`page(gpa)`: the page there, if mapped)
/// against QEMU's dump and the loader blobs; returns the pages compared
/// with the dump.
pub fn check_against_guest<'m>(
    page: impl Fn(u64) -> Option<&'m [u8]>,
    golden: &Path,
    what: &str,
) -> u64 {
    let g: Value = serde_json::from_slice(&std::fs::read(golden).unwrap()).unwrap();
    let nonzero = g["nonzero_pages"].as_object().unwrap();
    let mut compared = 0;
    for load in g["loads"].as_array().unwrap() {
        let (start, size) = (load[0].as_u64().unwrap(), load[1].as_u64().unwrap());
        for gpa in (start..start + size).step_by(PAGE as usize) {
            let Some(ours) = page(gpa) else { continue };
            if LEGACY.contains(&gpa) {
                continue;
            }
            let want = nonzero
                .get(&format!("{gpa:#x}"))
                .map(|v| v.as_str().unwrap());
            let got = ours.iter().any(|&b| b != 0).then(|| hex_sha(ours));
            assert_eq!(got.as_deref(), want, "{what}: page {gpa:#x}");
            compared += 1;
        }
    }
    let mut blob_bytes = 0;
    for blob in g["loader"].as_array().unwrap() {
        let (addr, len, seed) = (
            blob["addr"].as_u64().unwrap(),
            blob["len"].as_u64().unwrap(),
            blob["seed"].as_u64().unwrap(),
        );
        for i in 0..len {
            let gpa = addr + i;
            if DIRTIED.contains(&gpa) && gpa % PAGE < 4 {
                continue; // the dirtier's counter
            }
            let bytes = page(gpa - gpa % PAGE)
                .unwrap_or_else(|| panic!("{what}: loader blob at {gpa:#x} is outside the map"));
            assert_eq!(
                bytes[(gpa % PAGE) as usize],
                pattern(seed, i),
                "{what}: loader byte at {gpa:#x}"
            );
            blob_bytes += 1;
        }
    }
    assert!(
        blob_bytes >= 60_000,
        "{what}: only {blob_bytes} blob bytes checked"
    );
    compared
}
