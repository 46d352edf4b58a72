//! Native helpers (not built for wasm32): a file as a [`Source`], and a
//! tiny executor, so that tests and the benchmark harness run the very same
//! decoding loop as the browser.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::task::{Context, Poll, Waker};

use qevm::mapped_ram::ReadAt;

use crate::run::Source;

/// A file read in ranges.
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Opens `path`.
    pub fn open(path: &str) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource { file, len })
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn random(&self) -> Option<Box<dyn ReadAt>> {
        let file = self.file.try_clone().ok()?;
        Some(Box::new(FileAt {
            file,
            len: self.len,
            buf: Vec::new(),
        }))
    }

    async fn read(&mut self, start: u64, end: u64, out: &mut Vec<u8>) -> Result<(), String> {
        out.resize((end - start) as usize, 0);
        self.file
            .seek(SeekFrom::Start(start))
            .and_then(|_| self.file.read_exact(out))
            .map_err(|e| e.to_string())
    }
}

/// Random access to a file, for the decoder.
struct FileAt {
    file: File,
    len: u64,
    buf: Vec<u8>,
}

impl ReadAt for FileAt {
    fn read_at(&mut self, offset: u64, len: usize) -> Option<&[u8]> {
        self.buf.resize(len, 0);
        self.file.read_exact_at(&mut self.buf, offset).ok()?;
        Some(&self.buf)
    }
    fn size(&mut self) -> u64 {
        self.len
    }
}

/// Bytes in memory as a source.
pub struct MemSource<'a>(pub &'a [u8]);

impl Source for MemSource<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn random(&self) -> Option<Box<dyn ReadAt>> {
        Some(Box::new(self.0.to_vec()))
    }

    async fn read(&mut self, start: u64, end: u64, out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        out.extend_from_slice(&self.0[start as usize..end as usize]);
        Ok(())
    }
}

/// Runs a future whose awaits never wait (native sources are synchronous).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
