//! Section records: the START/FULL header (id, idstr, instance, version),
//! the PART/END header (id only), and the footer search that delimits a
//! device payload when no vmdesc describes it.

use crate::cursor::{Cursor, Parsed, Stop};

/// QEMU_VM_SECTION_FOOTER.
pub(crate) const FOOTER: u8 = 0x7e;

/// The fields after the type byte of SECTION_START / SECTION_FULL.
pub(crate) struct FullHeader<'a> {
    pub(crate) section_id: u32,
    pub(crate) name: &'a [u8],
    pub(crate) instance_id: u32,
    pub(crate) version_id: u32,
}

/// Parses the START/FULL header fields.
pub(crate) fn full_header<'a>(cur: &mut Cursor<'a>) -> Parsed<FullHeader<'a>> {
    let section_id = cur.be32()?;
    let name = cur.counted()?;
    let instance_id = cur.be32()?;
    let version_id = cur.be32()?;
    Ok(FullHeader {
        section_id,
        name,
        instance_id,
        version_id,
    })
}

/// Whether `b` can start the record after a section footer.
fn starts_record(b: u8) -> bool {
    matches!(b, 0x00..=0x04 | 0x07 | 0x08)
}

/// Finds the length of a payload that runs up to a footer for
/// `section_id`: the first `7e <id>` followed by a plausible record type
/// (or by the end of the input when `last`). `cap` bounds how far ahead the
/// push decoder may be asked to buffer.
pub(crate) fn payload_to_footer(
    cur: &Cursor<'_>,
    section_id: u32,
    last: bool,
    cap: u64,
) -> Parsed<usize> {
    let rest = cur.rest();
    let id = section_id.to_be_bytes();
    let pat = [FOOTER, id[0], id[1], id[2], id[3]];
    let mut from = 0;
    while let Some(hit) = rest[from..].windows(5).position(|w| w == pat) {
        let at = from + hit;
        match rest.get(at + 5) {
            Some(&b) if starts_record(b) => return Ok(at),
            None if last => return Ok(at),
            None => return Err(Stop::Need((cur.pos() + at + 6) as u64)),
            Some(_) => from = at + 1,
        }
    }
    if last {
        return cur.fail(crate::ErrorKind::Unframeable);
    }
    // Ask for twice as much, so that re-scanning stays linear overall.
    let have = (cur.pos() + rest.len()) as u64;
    Err(Stop::Need((have * 2).min(cap).max(have + 1)))
}
