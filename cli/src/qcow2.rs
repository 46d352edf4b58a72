//! qcow2 images holding `savevm` snapshots: `qevm snapshots IMAGE` lists
//! them, and `--snapshot NAME` turns one snapshot's vmstate into an input
//! stream for every other subcommand (read cluster by cluster through the
//! core's read-only qcow2 reader).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

use qevm::qcow2::{Image, Qcow2Error, VmState};
use serde_json::Value as Json;

use crate::fail::Failure;
use crate::input::FileAt;
use crate::style::Style;

/// Whether `file` starts with the qcow2 magic.
pub fn is_qcow2(file: &File) -> bool {
    let mut head = [0u8; 4];
    file.read_exact_at(&mut head, 0).is_ok() && qevm::qcow2::is_qcow2(&head)
}

fn open(file: &File, path: &str) -> Result<(FileAt, Image), Failure> {
    let mut at = FileAt::new(file, path)?;
    let image = Image::open(&mut at).map_err(|e| failure(&mut at, path, e))?;
    Ok((at, image))
}

/// A reader error as a failure: the I/O error behind it if there was one
/// (the reader only saw missing bytes), else what is wrong in the image.
fn failure(at: &mut FileAt, path: &str, e: Qcow2Error) -> Failure {
    match at.io_error() {
        Some(io) => Failure::io(path)(io),
        None => Failure::Unsupported(format!("{path}: {e}")),
    }
}

/// A snapshot's vmstate as a byte stream.
pub struct VmStateReader {
    at: FileAt,
    image: Image,
    vm: VmState,
    /// The next cluster to read.
    next: u64,
    cluster: Vec<u8>,
    /// The current cluster's vmstate bytes: `cluster[pos..len]` unread.
    pos: usize,
    len: usize,
}

impl VmStateReader {
    /// Opens snapshot `name` (or, failing a name, the ID) of the image.
    pub fn open(file: &File, path: &str, name: &str) -> Result<Self, Failure> {
        let (mut at, image) = open(file, path)?;
        let vm = image
            .find_snapshot(&mut at, name.as_bytes())
            .map_err(|e| failure(&mut at, path, e))?;
        let Some(vm) = vm else {
            return Err(Failure::Unsupported(format!(
                "{path}: no snapshot named {name:?} (`qevm snapshots {path}` lists them)"
            )));
        };
        if vm.len == 0 {
            return Err(Failure::Unsupported(format!(
                "{path}: snapshot {name:?} is disk-only: it has no VM state"
            )));
        }
        Ok(VmStateReader {
            at,
            image,
            vm,
            next: 0,
            cluster: vec![0; 1 << image.cluster_bits],
            pos: 0,
            len: 0,
        })
    }
}

impl Read for VmStateReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            let got = self
                .image
                .read_vmstate_cluster(&mut self.at, &self.vm, self.next, &mut self.cluster)
                .map_err(|e| {
                    let bad = || io::Error::new(io::ErrorKind::InvalidData, e.to_string());
                    self.at.io_error().unwrap_or_else(bad)
                })?;
            self.len = got.len();
            self.pos = 0;
            self.next += 1;
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.cluster[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// UTC calendar time for Unix seconds, as `YYYY-MM-DD HH:MM:SS`.
fn utc(secs: u64) -> String {
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Runs `qevm snapshots`: the image's snapshot table, as a table (like
/// `qemu-img snapshot -l`) or as JSON (like the `snapshots` array of
/// `qemu-img info --output=json`).
pub fn list(path: &str, json: bool, out: &mut impl Write, st: Style) -> Result<(), Failure> {
    let file = File::open(path).map_err(Failure::io(path))?;
    let (mut at, image) = open(&file, path)?;
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    let r = image.for_each_snapshot(&mut at, |s| {
        docs.push(s.to_json());
        let ns = s.vm_clock_ns;
        rows.push(vec![
            String::from_utf8_lossy(s.id).into_owned(),
            String::from_utf8_lossy(s.name).into_owned(),
            crate::info::bytes(s.vmstate.len),
            utc(u64::from(s.date.0)),
            format!(
                "{:02}:{:02}:{:02}.{:03}",
                ns / 3_600_000_000_000,
                ns / 60_000_000_000 % 60,
                ns / 1_000_000_000 % 60,
                ns / 1_000_000 % 1000
            ),
            s.icount.map_or("-".into(), |n| n.to_string()),
        ]);
    });
    r.map_err(|e| failure(&mut at, path, e))?;
    let r = if json {
        crate::jsonout::print(out, &Json::Array(docs))
    } else {
        let mut t = crate::info::Table::new(&[
            "id",
            "name",
            "vm state",
            "date (UTC)",
            "vm clock",
            "icount",
        ]);
        for r in rows {
            t.row(r);
        }
        t.write(out, st)
    };
    r.map_err(Failure::io("standard output"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(super::utc(1_795_620_029), "2026-11-25 15:20:29");
    }
}
