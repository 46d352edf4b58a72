//! Page contents that need decoding: XBZRLE deltas (for `extract`, which
//! has the previous copy in its image) and zlib pages (for `extract` and
//! `diff`).

use std::io::Read;

/// Applies an XBZRLE delta (QEMU's migration/xbzrle.c format: pairs of
/// ULEB128 run lengths, unchanged bytes then new bytes, the new bytes
/// following) to `page` in place. Returns false if the delta is malformed.
pub fn apply_xbzrle(delta: &[u8], page: &mut [u8]) -> bool {
    fn uleb(src: &[u8], i: &mut usize) -> Option<usize> {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let b = *src.get(*i)?;
            *i += 1;
            v |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
            if shift > 14 {
                return None;
            }
        }
    }
    let (mut i, mut d) = (0usize, 0usize);
    while i < delta.len() {
        let Some(same) = uleb(delta, &mut i) else {
            return false;
        };
        d += same;
        let Some(new) = uleb(delta, &mut i).filter(|&n| n > 0) else {
            return false;
        };
        if d + new > page.len() || i + new > delta.len() {
            return false;
        }
        page[d..d + new].copy_from_slice(&delta[i..i + new]);
        d += new;
        i += new;
    }
    d <= page.len()
}

/// Inflates one zlib-compressed page of at most `max` bytes; `None` if
/// the data is malformed or inflates to more.
pub fn inflate(data: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut page = Vec::new();
    let z = flate2::read::ZlibDecoder::new(data);
    z.take(max as u64 + 1).read_to_end(&mut page).ok()?;
    (page.len() <= max).then_some(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xbzrle_delta_patches_runs() {
        let mut page = [0u8; 16];
        // 2 unchanged, 3 new bytes; 4 unchanged, 1 new byte.
        assert!(apply_xbzrle(&[2, 3, 7, 8, 9, 4, 1, 5], &mut page));
        assert_eq!(page[..11], [0, 0, 7, 8, 9, 0, 0, 0, 0, 5, 0]);
        assert!(!apply_xbzrle(&[20, 1, 1], &mut page), "beyond the page");
    }

    #[test]
    fn inflate_checks_the_length() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&[7u8; 64]).unwrap();
        let data = z.finish().unwrap();
        assert_eq!(inflate(&data, 64), Some(vec![7u8; 64]));
        assert_eq!(inflate(&data, 32), None);
        assert_eq!(inflate(b"not zlib", 64), None);
    }
}
