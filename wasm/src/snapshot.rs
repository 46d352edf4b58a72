//! savevm snapshots of a qcow2 image: the table, and one snapshot's VM
//! state as [`Run`]s of the image file (plain clusters are slices of it,
//! zero clusters fills, compressed clusters inflated copies), so the page
//! can decode the VM state as a `Blob` without reading it all first.

use qevm::mapped_ram::ReadAt;
use qevm::qcow2::{Cluster, Image};
use serde_json::Value as Json;

use crate::extract::{push_run, Run};

fn text(e: qevm::qcow2::Qcow2Error) -> String {
    e.to_string()
}

/// The snapshot table, as `qemu-img info --output=json` lists it.
pub fn list(src: &mut dyn ReadAt) -> Result<Vec<Json>, String> {
    let img = Image::open(src).map_err(text)?;
    let mut out = Vec::new();
    img.for_each_snapshot(src, |s| out.push(s.to_json()))
        .map_err(text)?;
    Ok(out)
}

/// The VM state of snapshot `name` (or ID): its runs and the inflated
/// clusters they copy from.
pub fn runs(src: &mut dyn ReadAt, name: &str) -> Result<(Vec<Run>, Vec<Vec<u8>>), String> {
    let img = Image::open(src).map_err(text)?;
    let vm = img
        .find_snapshot(src, name.as_bytes())
        .map_err(text)?
        .ok_or_else(|| format!("no snapshot named {name:?}"))?;
    if vm.len == 0 {
        return Err(format!(
            "snapshot {name:?} is disk-only: it has no VM state"
        ));
    }
    let cs = 1u64 << img.cluster_bits;
    let mut cluster = vec![0u8; cs as usize];
    let (mut runs, mut copies) = (Vec::new(), Vec::new());
    for i in 0..vm.len.div_ceil(cs) {
        let (c, keep) = img.vmstate_cluster(src, &vm, i).map_err(text)?;
        let len = keep as u64;
        let run = match c {
            Cluster::Zero => Run::Fill { byte: 0, len },
            Cluster::At(at) => Run::File { at, len },
            Cluster::Compressed { .. } => {
                let bytes = img
                    .read_vmstate_cluster(src, &vm, i, &mut cluster)
                    .map_err(text)?;
                copies.push(bytes.to_vec());
                Run::Copy {
                    index: copies.len() as u32 - 1,
                    len,
                }
            }
        };
        push_run(&mut runs, run);
    }
    Ok((runs, copies))
}
