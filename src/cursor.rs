//! A position-tracking reader over one record's bytes, built on nom's
//! streaming parsers. When input runs out it says exactly how many bytes the
//! record needs in total, so the push decoder can wait for them instead of
//! re-parsing after every byte.

use nom::{Err, IResult, Needed};

use crate::error::ErrorKind;

/// Why a record parser stopped before the end of its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The record needs at least this many bytes, counted from its start.
    Need(u64),
    /// The bytes are wrong; `at` is the offset from the record's start.
    Fail { at: usize, kind: ErrorKind },
}

pub(crate) type Parsed<T> = Result<T, Stop>;

/// Reads big-endian values from a record that may be incomplete.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes available after the position.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes after the position, without consuming them.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// A failure at the current position.
    pub(crate) fn fail<T>(&self, kind: ErrorKind) -> Parsed<T> {
        Err(Stop::Fail { at: self.pos, kind })
    }

    /// Runs one nom streaming parser at the position.
    pub(crate) fn run<O>(
        &mut self,
        mut parser: impl FnMut(&'a [u8]) -> IResult<&'a [u8], O>,
    ) -> Parsed<O> {
        match parser(self.rest()) {
            Ok((rest, out)) => {
                self.pos = self.buf.len() - rest.len();
                Ok(out)
            }
            Err(Err::Incomplete(Needed::Size(n))) => {
                // nom counts the bytes missing past the end of the input.
                Err(Stop::Need(self.buf.len() as u64 + n.get() as u64))
            }
            Err(Err::Incomplete(Needed::Unknown)) => Err(Stop::Need(self.buf.len() as u64 + 1)),
            Err(_) => self.fail(ErrorKind::Truncated { needed: 1 }),
        }
    }

    pub(crate) fn u8(&mut self) -> Parsed<u8> {
        self.run(nom::number::streaming::u8)
    }

    pub(crate) fn be16(&mut self) -> Parsed<u16> {
        self.run(nom::number::streaming::be_u16)
    }

    pub(crate) fn be32(&mut self) -> Parsed<u32> {
        self.run(nom::number::streaming::be_u32)
    }

    pub(crate) fn be64(&mut self) -> Parsed<u64> {
        self.run(nom::number::streaming::be_u64)
    }

    /// The next byte without consuming it.
    pub(crate) fn peek_u8(&self) -> Parsed<u8> {
        self.clone().u8()
    }

    /// The next big-endian u64 without consuming it.
    pub(crate) fn peek_be64(&self) -> Parsed<u64> {
        self.clone().be64()
    }

    /// `n` raw bytes (n may be any u64; huge values simply need more input).
    pub(crate) fn bytes(&mut self, n: u64) -> Parsed<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(Stop::Need(self.pos as u64 + n));
        }
        self.run(nom::bytes::streaming::take(n as usize))
    }

    /// A QEMU counted string: one length byte, then that many bytes.
    pub(crate) fn counted(&mut self) -> Parsed<&'a [u8]> {
        let n = self.u8()?;
        self.bytes(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_counts_from_record_start() {
        let mut c = Cursor::new(&[0, 0, 0, 1, 0xaa]);
        assert_eq!(c.be32(), Ok(1));
        assert_eq!(c.be32(), Err(Stop::Need(8)));
        assert_eq!(c.bytes(100), Err(Stop::Need(104)));
        assert_eq!(c.counted(), Err(Stop::Need(4 + 1 + 0xaa)));
    }
}
