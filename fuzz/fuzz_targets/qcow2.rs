//! The qcow2 reader on arbitrary images: the header, the snapshot table
//! and the L1/L2 walk to vmstate and disk clusters (plain, zero, compressed)
//! never panic, and every read stays inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qevm::qcow2::Image;

/// Clusters read per snapshot and from the disk.
const CLUSTERS: u64 = 8;

fuzz_target!(|data: &[u8]| {
    let mut src = data;
    let Ok(img) = Image::open(&mut src) else {
        return;
    };
    let mut cluster = vec![0u8; 1 << img.cluster_bits];
    let mut states = Vec::new();
    let _ = img.for_each_snapshot(&mut src, |s| {
        let _ = (s.id.len(), s.name.len(), s.icount, s.date);
        states.push(s.vmstate);
    });
    for vm in states.iter().take(4) {
        for i in 0..CLUSTERS {
            match img.read_vmstate_cluster(&mut src, vm, i, &mut cluster) {
                Ok(got) => assert!(got.len() <= cluster.len()),
                Err(e) => assert!(!e.what.is_empty()),
            }
        }
    }
    for i in 0..CLUSTERS {
        let _ = img.read_disk_cluster(&mut src, i, &mut cluster);
    }
    let _ = img.find_snapshot(&mut src, b"1");
});
