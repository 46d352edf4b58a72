//! The other iterative payloads QEMU writes: spapr/htab (ppc64 hash page
//! table), s390-storage_attributes and s390-skeys. They are framed exactly
//! and their data bytes reported as skipped, not decoded.

use crate::cursor::{Cursor, Parsed, Stop};
use crate::error::ErrorKind;

/// One step of an iterative payload.
pub(crate) enum Step {
    /// Data bytes of this length, just before the cursor.
    Data(u64),
    /// A marker with no data.
    Marker,
    /// The end of this section payload.
    End,
}

/// spapr/htab, version 1: START carries be32 htab_shift (or -1); PART and
/// END carry be32 0 then chunks (be32 index, be16 n_valid, be16 n_invalid,
/// n_valid 16-byte entries) up to an all-zero chunk header, or be32 -1.
pub(crate) fn htab_header(cur: &mut Cursor<'_>, start: bool) -> Parsed<Step> {
    let at = cur.pos();
    let h = cur.be32()?;
    match h {
        _ if start => Ok(Step::End),
        0xffff_ffff => Ok(Step::End),
        0 => Ok(Step::Marker),
        _ => Err(Stop::Fail {
            at,
            kind: ErrorKind::BadFlags(h as u64),
        }),
    }
}

/// One htab chunk after the header.
pub(crate) fn htab_chunk(cur: &mut Cursor<'_>) -> Parsed<Step> {
    let index = cur.be32()?;
    let n_valid = cur.be16()?;
    let n_invalid = cur.be16()?;
    if index == 0 && n_valid == 0 && n_invalid == 0 {
        return Ok(Step::End);
    }
    let len = n_valid as u64 * 16;
    cur.bytes(len)?;
    Ok(Step::Data(len))
}

const STATTR_EOS: u64 = 0x01;
const STATTR_MORE: u64 = 0x02;
const STATTR_ERROR: u64 = 0x04;
const STATTR_DONE: u64 = 0x08;

/// s390-storage_attributes, version 0: be64 `gfn << 12 | flags`; MORE
/// carries be64 count and count bytes; DONE marks completion; EOS ends the
/// payload.
pub(crate) fn stattr(cur: &mut Cursor<'_>) -> Parsed<Step> {
    let at = cur.pos();
    let w = cur.be64()?;
    let flags = w & 0xfff;
    match flags {
        STATTR_MORE => {
            let n = cur.be64()?;
            cur.bytes(n)?;
            Ok(Step::Data(n))
        }
        STATTR_DONE => Ok(Step::Marker),
        STATTR_EOS => Ok(Step::End),
        STATTR_ERROR => Err(Stop::Fail {
            at,
            kind: ErrorKind::SourceError,
        }),
        _ => Err(Stop::Fail {
            at,
            kind: ErrorKind::BadFlags(flags),
        }),
    }
}

const SKEYS_EOS: u64 = 0x01;
const SKEYS_SKEYS: u64 = 0x02;
const SKEYS_ERROR: u64 = 0x04;

/// s390-skeys (a FULL section): be64 `addr | flags`; SKEYS carries be64
/// page count and one key byte per page; EOS ends it.
pub(crate) fn skeys(cur: &mut Cursor<'_>, page_size: u64) -> Parsed<Step> {
    let at = cur.pos();
    let w = cur.be64()?;
    let flags = w & (page_size - 1);
    match flags {
        SKEYS_SKEYS => {
            let n = cur.be64()?;
            cur.bytes(n)?;
            Ok(Step::Data(n))
        }
        SKEYS_EOS => Ok(Step::End),
        SKEYS_ERROR => Err(Stop::Fail {
            at,
            kind: ErrorKind::SourceError,
        }),
        _ => Err(Stop::Fail {
            at,
            kind: ErrorKind::BadFlags(flags),
        }),
    }
}
