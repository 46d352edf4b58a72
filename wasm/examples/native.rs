//! The benchmark's native side: decodes a file with the same loop, chunk
//! size and visitors (Summary + StateJson + device tree) as the page, and
//! prints the throughput.
//!
//!     cargo run --release --example native -- FILE [RUNS]

#[cfg(not(target_arch = "wasm32"))]
mod harness {
    use std::time::Instant;

    use qevm_wasm::native::{block_on, FileSource};
    use qevm_wasm::run::{decode, Options};

    pub fn main() {
        let mut args = std::env::args().skip(1);
        let path = args.next().expect("usage: native FILE [RUNS]");
        let runs: usize = args.next().map(|s| s.parse().expect("RUNS")).unwrap_or(3);
        let mut best = f64::MAX;
        for i in 0..runs {
            let mut src = FileSource::open(&path).expect("open");
            let t = Instant::now();
            let d = block_on(decode(&mut src, &Options::default(), |_, _| {})).expect("read");
            let secs = t.elapsed().as_secs_f64();
            best = best.min(secs);
            let bytes = d.summary.total_bytes as f64;
            if let Some(e) = &d.error {
                eprintln!("decode error: {}", e.display);
                std::process::exit(1);
            }
            println!(
                "run {}: {:.3} s, {:.1} MiB/s ({} devices)",
                i + 1,
                secs,
                bytes / secs / (1 << 20) as f64,
                d.summary.devices.len()
            );
            if i + 1 == runs {
                println!(
                    "native best: {:.3} s, {:.1} MiB/s",
                    best,
                    bytes / best / (1 << 20) as f64
                );
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    harness::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
