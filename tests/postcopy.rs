//! Real streams that switched to postcopy (QEMU 7.2 and 10.0, recorded
//! through a relay to a destination QEMU): the PACKAGED command carries the
//! device state as a nested stream, discards name byte ranges per block,
//! and RAM keeps coming after the package.

mod common;

use qevm::{Command, RamPage, SectionHeader, Visitor};

#[derive(Default)]
struct Postcopy {
    log: Vec<String>,
    in_package: bool,
    sections_in_package: usize,
    pages_after_package: u64,
    package_seen: bool,
    discards: Vec<(String, Vec<(u64, u64)>)>,
}

impl Visitor for Postcopy {
    fn command(&mut self, c: &Command<'_>) {
        self.log.push(format!(
            "{:?}{}",
            c.kind,
            if self.in_package { " (packaged)" } else { "" }
        ));
        if let Some((name, ranges)) = c.discard() {
            self.discards
                .push((String::from_utf8_lossy(name).into_owned(), ranges.collect()));
        }
    }
    fn package_start(&mut self, len: u32) {
        self.log.push(format!("package {len}"));
        self.in_package = true;
    }
    fn package_end(&mut self) {
        self.log.push("package end".into());
        self.in_package = false;
        self.package_seen = true;
    }
    fn section_start(&mut self, s: &SectionHeader<'_>) {
        if self.in_package && s.kind == qevm::RecordKind::SectionFull {
            self.sections_in_package += 1;
        }
    }
    fn ram_page(&mut self, _p: &RamPage<'_>) {
        if self.package_seen {
            self.pages_after_package += 1;
        }
    }
}

#[test]
fn packaged_device_state_and_discards() {
    for v in ["7.2", "10.0"] {
        let p = common::fixtures()
            .into_iter()
            .find(|p| p.ends_with(format!("x86_64-pc-postcopy-switch-{v}.mig")))
            .unwrap();
        let data = std::fs::read(&p).unwrap();
        let mut pc = Postcopy::default();
        qevm::decode(&data, &mut pc).unwrap();
        let at = |s: &str| {
            pc.log
                .iter()
                .position(|l| l == s)
                .unwrap_or_else(|| panic!("{v}: no {s} in {:?}", pc.log))
        };
        // ADVISE precedes the package; LISTEN and RUN travel inside it.
        assert!(at("PostcopyAdvise") < at("Packaged"));
        assert!(at("Packaged") < at("PostcopyListen (packaged)"));
        assert!(at("PostcopyListen (packaged)") < at("PostcopyRun (packaged)"));
        assert!(at("PostcopyRun (packaged)") < at("package end"));
        assert!(pc
            .log
            .iter()
            .any(|l| l.starts_with("package ") && l != "package end"));
        assert!(
            pc.sections_in_package > 20,
            "{v}: {} device sections packaged",
            pc.sections_in_package
        );
        assert!(pc.pages_after_package > 1000, "{v}: RAM after the switch");
        // One discard per block; ranges are byte offsets within the block.
        let ram = pc.discards.iter().find(|d| d.0 == "pc.ram").unwrap();
        assert!(
            !ram.1.is_empty()
                && ram
                    .1
                    .iter()
                    .all(|&(start, len)| len > 0 && start + len <= 128 << 20)
        );
        assert!(
            pc.discards.len() >= 7,
            "{v}: {} discards",
            pc.discards.len()
        );
    }
}
