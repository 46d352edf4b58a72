//! Deterministic corruption sweeps over two small real streams (QEMU 7.2
//! and 10.0, microvm with 2 MiB of RAM): every truncation length, and
//! thousands of seeded byte flips, insertions and deletions. Each input
//! must end in Ok or a typed error at a plausible offset, quickly, and the
//! push front end must agree with the slice front end.

mod common;

use std::time::{Duration, Instant};

use common::Fingerprint;
use qevm::vmdesc::find_trailer;
use qevm::{decode, decode_with, Decoder, Error, VmDesc};

const SMALL: [&str; 2] = [
    "x86_64-microvm-tiny-10.0.mig",
    "x86_64-microvm-tiny-7.2.mig",
];
/// Far above what any of these inputs takes (microseconds), far below a hang.
const BOUND: Duration = Duration::from_secs(2);

fn small(name: &str) -> Vec<u8> {
    let p = common::fixtures()
        .into_iter()
        .find(|p| p.ends_with(name))
        .unwrap();
    std::fs::read(p).unwrap()
}

/// Decodes with the slice front end, checking time and error offset.
fn checked(input: &[u8]) -> (Result<(), Error>, Fingerprint) {
    let mut f = Fingerprint::default();
    let t = Instant::now();
    let r = decode(input, &mut f);
    assert!(t.elapsed() < BOUND, "took {:?}", t.elapsed());
    if let Err(e) = &r {
        assert!(
            e.offset <= input.len() as u64,
            "{e} beyond {} bytes",
            input.len()
        );
        assert!(!e.to_string().is_empty());
    }
    (r, f)
}

/// Decodes with the push front end in chunks of `chunk` bytes.
fn pushed(input: &[u8], chunk: usize) -> (Result<(), Error>, Fingerprint) {
    let desc = match find_trailer(input).map(|(s, l)| VmDesc::<512>::parse(&input[s..s + l])) {
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            return (
                decode(input, &mut Fingerprint::default()),
                Fingerprint::default(),
            )
        }
        None => None,
    };
    let mut buf = vec![0u8; input.len() + 1];
    let mut file = input;
    let mut d = Decoder::new(desc.as_ref(), &mut buf).with_source(&mut file);
    let mut f = Fingerprint::default();
    for c in input.chunks(chunk) {
        if let Err(e) = d.feed(c, &mut f) {
            return (Err(e), f);
        }
    }
    let r = d.finish(&mut f);
    (r, f)
}

#[test]
fn every_truncation_is_a_typed_error() {
    for name in SMALL {
        let s = small(name);
        let (s0, l) = find_trailer(&s).unwrap();
        let desc = VmDesc::<512>::parse(&s[s0..s0 + l]).unwrap();
        for cut in 0..s.len() {
            if cut == s0 - 5 {
                // Cut just after EOF: a complete stream without a vmdesc.
                assert!(checked(&s[..cut]).0.is_ok());
                continue;
            }
            let (r, _) = checked(&s[..cut]);
            let e = r.expect_err("a truncated stream was accepted");
            // With the vmdesc known (a seekable source read the tail first):
            let mut f = Fingerprint::default();
            let t = Instant::now();
            let e2 = decode_with(&s[..cut], Some(&desc), &mut f).expect_err("accepted");
            assert!(t.elapsed() < BOUND);
            assert!(e2.offset <= cut as u64, "{name} cut {cut}: {e2}");
            if cut < s0 - 5 {
                // Before the trailer, both decoders stop at the same record.
                assert!(e.offset <= cut as u64);
            }
        }
        assert!(checked(&s).0.is_ok());
    }
}

#[test]
fn seeded_mutations_end_in_ok_or_a_typed_error() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    let (mut ok, mut err) = (0, 0);
    for name in SMALL {
        let s = small(name);
        for i in 0..2500 {
            let mut m = s.clone();
            match i % 3 {
                0 => {
                    for _ in 0..1 + rnd(4) {
                        let at = rnd(m.len());
                        m[at] ^= 1 << rnd(8);
                    }
                }
                1 => {
                    let at = rnd(m.len());
                    let bytes: Vec<u8> = (0..1 + rnd(16)).map(|_| rnd(256) as u8).collect();
                    m.splice(at..at, bytes);
                }
                _ => {
                    let at = rnd(m.len());
                    let n = (1 + rnd(16)).min(m.len() - at);
                    m.drain(at..at + n);
                }
            }
            let (r, f) = checked(&m);
            if i % 5 == 0 {
                let (p, g) = pushed(&m, 1 + rnd(700));
                assert_eq!(r.is_ok(), p.is_ok(), "{name} mutation {i}: {r:?} vs {p:?}");
                if r.is_ok() {
                    assert_eq!(f.digest(), g.digest(), "{name} mutation {i}");
                }
            }
            match r {
                Ok(()) => ok += 1,
                Err(_) => err += 1,
            }
        }
    }
    // Flips inside RAM or register bytes decode fine; framing damage fails.
    assert!(ok > 100 && err > 100, "ok {ok} err {err}");
}
