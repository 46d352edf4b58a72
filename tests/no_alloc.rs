//! The core decodes a whole real stream, through both front ends, without
//! a single heap allocation: a counting global allocator proves it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use qevm::vmdesc::{find_trailer, FieldDesc};
use qevm::{Decoder, Path, RamPage, Value, Visitor, VmDesc};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Sums what it sees, allocation-free, so the decode is not optimised out.
#[derive(Default)]
struct Sum {
    values: u64,
    bytes: u64,
    pages: u64,
}

impl Visitor for Sum {
    fn value(&mut self, path: &Path<'_, '_>, _f: &FieldDesc<'_>, v: &Value<'_>) {
        self.values += 1;
        self.bytes += v.bytes.len() as u64 + path.segments.len() as u64;
    }
    fn ram_page(&mut self, _p: &RamPage<'_>) {
        self.pages += 1;
    }
}

#[test]
fn decoding_a_whole_stream_allocates_nothing() {
    // This test is alone in its binary, so no other thread allocates.
    let path = common::fixtures()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("x86_64-pc-devices-10.0"))
        .unwrap();
    let data = std::fs::read(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let (mut slice, mut push) = (Sum::default(), Sum::default());

    let before = ALLOCS.load(Ordering::SeqCst);
    qevm::decode(&data, &mut slice).unwrap();
    let (s, l) = find_trailer(&data).unwrap();
    let desc = VmDesc::<512>::parse(&data[s..s + l]).unwrap();
    let mut d = Decoder::new(Some(&desc), &mut buf);
    for chunk in data.chunks(4093) {
        d.feed(chunk, &mut push).unwrap();
    }
    d.finish(&mut push).unwrap();
    let after = ALLOCS.load(Ordering::SeqCst);

    assert_eq!(after - before, 0, "heap allocations while decoding");
    assert!(slice.values > 1000 && slice.pages > 10_000);
    assert_eq!(
        (slice.values, slice.bytes, slice.pages),
        (push.values, push.bytes, push.pages)
    );
}
