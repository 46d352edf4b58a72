//! Page contents: turns a RAM page entry into the page's bytes. Raw and
//! filled pages are copied; an XBZRLE delta (migration/xbzrle.c) is
//! applied to the page's previous copy; a COMPRESS_PAGE entry (QEMU <= 9.0,
//! one zlib stream per page) is inflated with `miniz_oxide`, without a heap.

use core::fmt;

use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_PARSE_ZLIB_HEADER, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::visitor::PageData;

/// Why a page's contents could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// An XBZRLE delta that is truncated, has a zero-length run of new
    /// bytes, or writes past the page's end (byte offset into the delta).
    Xbzrle(usize),
    /// zlib data that is malformed or does not inflate to exactly one page
    /// (bytes produced before it stopped).
    Zlib(usize),
    /// A raw page whose length is not the page size.
    Length(usize),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Xbzrle(at) => write!(f, "malformed XBZRLE delta (at delta byte {at})"),
            PageError::Zlib(n) => {
                write!(
                    f,
                    "zlib data does not inflate to one page ({n} bytes produced)"
                )
            }
            PageError::Length(n) => write!(f, "a raw page of {n} bytes"),
        }
    }
}

impl PageData<'_> {
    /// Writes the page's contents into `page`, which is one page long. For
    /// XBZRLE, `page` must hold the page's previous contents (zeros if it
    /// never came before): the delta patches it in place.
    pub fn decode_into(&self, page: &mut [u8]) -> Result<(), PageError> {
        match *self {
            PageData::Fill(b) => page.fill(b),
            PageData::Raw(d) if d.len() == page.len() => page.copy_from_slice(d),
            PageData::Raw(d) => return Err(PageError::Length(d.len())),
            PageData::Xbzrle(delta) => apply_xbzrle(delta, page)?,
            PageData::Compressed(z) => match inflate(z, page, true) {
                Ok(n) if n == page.len() => {}
                Ok(n) | Err(n) => return Err(PageError::Zlib(n)),
            },
        }
        Ok(())
    }

    /// Whether the page's new contents depend on its previous ones.
    pub fn is_delta(&self) -> bool {
        matches!(self, PageData::Xbzrle(_))
    }
}

/// Applies an XBZRLE delta to `page` in place. The delta is a sequence of
/// pairs of ULEB128 lengths, unchanged bytes then new bytes, each run of new
/// bytes following its length; QEMU never encodes a zero-length new run.
pub fn apply_xbzrle(delta: &[u8], page: &mut [u8]) -> Result<(), PageError> {
    let (mut i, mut d) = (0usize, 0usize);
    while i < delta.len() {
        let same = uleb(delta, &mut i).ok_or(PageError::Xbzrle(i))?;
        let at = i;
        let new = uleb(delta, &mut i)
            .filter(|&n| n > 0)
            .ok_or(PageError::Xbzrle(at))?;
        d = d.checked_add(same).ok_or(PageError::Xbzrle(at))?;
        let (Some(dst), Some(src)) = (page.get_mut(d..d + new), delta.get(i..i + new)) else {
            return Err(PageError::Xbzrle(i));
        };
        dst.copy_from_slice(src);
        d += new;
        i += new;
    }
    if d > page.len() {
        return Err(PageError::Xbzrle(i));
    }
    Ok(())
}

/// Reads one ULEB128 value of at most 3 bytes (QEMU's runs are shorter than
/// a page, so longer encodings are malformed).
fn uleb(src: &[u8], i: &mut usize) -> Option<usize> {
    let mut v = 0usize;
    for shift in [0, 7, 14] {
        let b = *src.get(*i)?;
        *i += 1;
        v |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Inflates a deflate stream (with a zlib header and checked Adler-32 if
/// `zlib`, raw otherwise) into `out`. Returns the bytes produced: `Ok` when
/// the stream ended, `Err` when the data is malformed, ends early or would
/// not fit. The decompressor state (about 11 KB) lives
/// on the stack.
pub fn inflate(data: &[u8], out: &mut [u8], zlib: bool) -> Result<usize, usize> {
    let mut flags = TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    if zlib {
        flags |= TINFL_FLAG_PARSE_ZLIB_HEADER;
    }
    let mut state = DecompressorOxide::new();
    let (status, _, n) = decompress(&mut state, data, out, 0, flags);
    match status {
        TINFLStatus::Done => Ok(n),
        _ => Err(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xbzrle_delta_patches_runs() {
        let mut page = [0u8; 16];
        // 2 unchanged, 3 new bytes; 4 unchanged, 1 new byte.
        assert_eq!(apply_xbzrle(&[2, 3, 7, 8, 9, 4, 1, 5], &mut page), Ok(()));
        assert_eq!(page[..11], [0, 0, 7, 8, 9, 0, 0, 0, 0, 5, 0]);
        assert!(
            apply_xbzrle(&[20, 1, 1], &mut page).is_err(),
            "beyond the page"
        );
        assert!(apply_xbzrle(&[1, 0], &mut page).is_err(), "empty new run");
        assert!(
            apply_xbzrle(&[1, 4, 1], &mut page).is_err(),
            "truncated run"
        );
        assert!(apply_xbzrle(&[0xff, 0xff, 0xff, 0x01], &mut page).is_err());
    }

    #[test]
    fn inflate_needs_exactly_one_page() {
        // zlib of 64 bytes of 7 (Python: zlib.compress(bytes([7]) * 64)).
        let z = [
            0x78, 0x9c, 0x63, 0x67, 0xa7, 0x0c, 0x00, 0x00, 0x39, 0x20, 0x01, 0xc1,
        ];
        let mut page = [0u8; 64];
        assert_eq!(PageData::Compressed(&z).decode_into(&mut page), Ok(()));
        assert_eq!(page, [7u8; 64]);
        let mut small = [0u8; 32];
        assert_eq!(
            PageData::Compressed(&z).decode_into(&mut small),
            Err(PageError::Zlib(32))
        );
        let mut big = [0u8; 65];
        assert_eq!(
            PageData::Compressed(&z).decode_into(&mut big),
            Err(PageError::Zlib(64))
        );
        assert!(PageData::Compressed(&z[..6])
            .decode_into(&mut page)
            .is_err());
        assert!(PageData::Compressed(b"not zlib")
            .decode_into(&mut page)
            .is_err());
    }
}
