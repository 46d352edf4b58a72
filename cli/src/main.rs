//! `qevm`: inspect, extract, check and compare QEMU migration streams.
//!
//! Every subcommand reads a regular file or, with `-`, standard input in
//! streaming mode (`migrate "exec:qevm info -"`), with bounded memory.

mod blocks;
mod check;
mod diff;
mod extract;
mod fail;
mod info;
mod input;
mod jsonout;
mod qcow2;
mod state;
mod style;

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use fail::{Failure, EXIT_CODES};
use input::display_name;
use style::{ColorChoice, Style};

/// Inspect, extract, check and compare QEMU migration streams.
///
/// FILE is a stream written by `migrate "exec:cat > FILE"` or `migrate
/// file:FILE`, or a qcow2 image with `--snapshot NAME` (the state `savevm`
/// stored); `-` reads standard input in streaming mode.
#[derive(Parser)]
#[command(name = "qevm", version, after_help = EXIT_CODES)]
struct Cli {
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    /// Target page size for streams that carry it in neither the
    /// configuration nor a vmdesc read first: needed when streaming from
    /// sparc64 or alpha guests (8192).
    #[arg(long, global = true, value_name = "BYTES", value_parser = page_size)]
    page_size: Option<u64>,
    /// Read the VM state of this snapshot (name, else ID) of a qcow2
    /// image instead of a migration stream. `diff` takes it twice: the
    /// first for A, the second for B (once: both).
    #[arg(long, global = true, value_name = "NAME")]
    snapshot: Vec<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Device state as JSON, the same as `analyze-migration.py -d state`.
    #[command(after_help = EXIT_CODES)]
    State {
        /// The stream (`-`: standard input).
        file: String,
        /// Add the RAM page dump that `analyze-migration.py -m` gives.
        #[arg(short, long)]
        memory: bool,
    },
    /// The vmdesc as JSON, the same as `analyze-migration.py -d desc`.
    #[command(after_help = EXIT_CODES)]
    Desc {
        /// The stream (`-`: standard input).
        file: String,
    },
    /// Write desc.json, state.json and one sparse image per RAM block into
    /// a directory (like `analyze-migration.py -x`, without changing the
    /// working directory).
    #[command(after_help = EXIT_CODES)]
    Extract {
        /// The stream (`-`: standard input).
        file: String,
        /// The output directory (created if missing).
        #[arg(short, long)]
        out: PathBuf,
        /// Also write guest.elf: the guest-physical memory of an x86 pc or
        /// q35 guest as an ELF core file (for crash, gdb, volatility).
        #[arg(long)]
        elf: bool,
        /// RAM below 4 GiB, for guests started with `-machine
        /// max-ram-below-4g=` (the stream does not record it): bytes, or
        /// with a K, M or G suffix.
        #[arg(long, value_name = "SIZE", value_parser = size, requires = "elf")]
        below_4g: Option<u64>,
    },
    /// A human summary: machine, page size, capabilities, commands, RAM
    /// blocks with page counts, devices and totals.
    #[command(after_help = EXIT_CODES)]
    Info {
        /// The stream (`-`: standard input).
        file: String,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a stream: footers, field sizes against the vmdesc, section
    /// ids, RAM block coverage, truncation and trailing data. Prints each
    /// finding with its byte offset; exits 1 if there is any.
    #[command(after_help = EXIT_CODES)]
    Check {
        /// The stream (`-`: standard input).
        file: String,
    },
    /// Device-state differences between two streams by field path, and a
    /// per-block summary of differing RAM pages. Exits 1 if they differ.
    #[command(after_help = EXIT_CODES)]
    Diff {
        /// The first stream (`-`: standard input).
        a: String,
        /// The second stream (`-`: standard input, if A is not).
        b: String,
        /// Print the differences as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the snapshots of a qcow2 image (`savevm`): id, name, VM state
    /// size, date, guest clock. Read one with `--snapshot NAME`.
    #[command(after_help = EXIT_CODES)]
    Snapshots {
        /// The qcow2 image.
        image: String,
        /// Print the list as JSON (the `snapshots` array of `qemu-img info
        /// --output=json`).
        #[arg(long)]
        json: bool,
    },
}

/// Parses `--page-size`: a power of two from 512 to 1 MiB.
fn page_size(s: &str) -> Result<u64, String> {
    let n: u64 = s.parse().map_err(|e| format!("{e}"))?;
    if n.is_power_of_two() && (512..=1 << 20).contains(&n) {
        Ok(n)
    } else {
        Err("must be a power of two from 512 to 1048576".into())
    }
}

/// Parses a size: decimal or 0x hex bytes, or decimal with K, M or G.
fn size(s: &str) -> Result<u64, String> {
    let (digits, shift) = [('K', 10), ('M', 20), ('G', 30)]
        .into_iter()
        .find_map(|(unit, shift)| {
            let d = s.strip_suffix([unit, unit.to_ascii_lowercase()])?;
            Some((d, shift))
        })
        .unwrap_or((s, 0));
    let n = match digits.strip_prefix("0x") {
        Some(hex) if shift == 0 => u64::from_str_radix(hex, 16),
        _ => digits.parse(),
    };
    n.ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 16777216, 0x1000000, 16M)"))
}

fn run(cli: Cli) -> Result<(), Failure> {
    let diff = matches!(cli.cmd, Cmd::Diff { .. });
    if cli.snapshot.len() > 1 + usize::from(diff) {
        return Err(Failure::Usage(format!(
            "--snapshot given {} times: once per input",
            cli.snapshot.len()
        )));
    }
    let opts = input::Options {
        page_size: cli.page_size,
        snapshot: cli.snapshot.first().cloned(),
    };
    // diff's B: its own --snapshot, else A's.
    let opts_b = input::Options {
        snapshot: cli.snapshot.last().cloned(),
        ..opts.clone()
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let color = Style::stdout(cli.color);
    match cli.cmd {
        Cmd::State { file, memory } => {
            let mut w = state::StateWriter::new(&mut out, "standard output", memory);
            input::decode(&file, &opts, &mut w)?;
            w.finish()?;
        }
        Cmd::Desc { file } => {
            let Some(json) = input::read_vmdesc(&file, &opts)? else {
                return Err(Failure::Unsupported(format!(
                    "{}: the stream has no vmdesc",
                    display_name(&file)
                )));
            };
            let v = qevm::analyze::desc_json(&json).map_err(|error| Failure::Json {
                input: display_name(&file).to_string(),
                error,
            })?;
            jsonout::print(&mut out, &v).map_err(Failure::io("standard output"))?;
        }
        Cmd::Extract {
            file,
            out: dir,
            elf,
            below_4g,
        } => {
            let e = extract::ElfOptions { elf, below_4g };
            extract::run(&file, &dir, &opts, &e, &mut out)?
        }
        Cmd::Info { file, json } => {
            let mut i = info::new();
            let d = input::decode(&file, &opts, &mut i)?;
            info::finish(&mut i, &d);
            let r = if json {
                jsonout::print(&mut out, &info::to_json(&i))
            } else {
                info::write_text(&i, &mut out, &input::label(&file, &opts), color)
            };
            r.map_err(Failure::io("standard output"))?;
        }
        Cmd::Check { file } => check::run(&file, &opts, &mut out, color)?,
        Cmd::Diff { a, b, json } => diff::run(&a, &b, json, (&opts, &opts_b), &mut out, color)?,
        Cmd::Snapshots { image, json } => qcow2::list(&image, json, &mut out, color)?,
    }
    out.flush().map_err(Failure::io("standard output"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let err_style = Style::stderr(cli.color);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.is_broken_pipe() => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::from(1),
        Err(f) => {
            eprintln!("{} {f}", err_style.red("qevm: error:"));
            ExitCode::from(f.code())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size("16M"), Ok(16 << 20));
        assert_eq!(super::size("2g"), Ok(2 << 30));
        assert_eq!(super::size("512k"), Ok(512 << 10));
        assert_eq!(super::size("0x1000000"), Ok(16 << 20));
        assert_eq!(super::size("16777216"), Ok(16 << 20));
        assert!(super::size("0x10M").is_err());
        assert!(super::size("99999999999G").is_err());
        assert!(super::size("M").is_err());
    }
}
