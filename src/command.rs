//! COMMAND records: be16 command, be16 length, payload. PACKAGED's payload
//! announces a nested stream; POSTCOPY_RAM_DISCARD carries ranges.

use crate::cursor::{Cursor, Parsed};
use crate::error::ErrorKind;
use crate::visitor::{Command, CommandKind};

/// Parses a command after its type byte.
pub(crate) fn command<'a>(cur: &mut Cursor<'a>) -> Parsed<Command<'a>> {
    let at = cur.pos();
    let n = cur.be16()?;
    let len = cur.be16()?;
    let Some(kind) = CommandKind::from_u16(n) else {
        return Err(crate::cursor::Stop::Fail {
            at,
            kind: ErrorKind::UnknownCommand(n),
        });
    };
    let data = cur.bytes(len as u64)?;
    let ok = match kind.fixed_len() {
        Some(l) => l == len,
        // version, name length, name, terminator, then 16-byte ranges
        None if kind == CommandKind::PostcopyRamDiscard => {
            len >= 3
                && data.get(1).is_some_and(|&l| {
                    (len as usize) >= 3 + l as usize && (len as usize - 3 - l as usize) % 16 == 0
                })
        }
        None if kind == CommandKind::RecvBitmap => data
            .first()
            .is_some_and(|&l| len as usize == 1 + l as usize),
        None => true,
    };
    if !ok {
        return Err(crate::cursor::Stop::Fail {
            at,
            kind: ErrorKind::CommandLength { command: n, len },
        });
    }
    Ok(Command { kind, data })
}

impl<'a> Command<'a> {
    /// For PACKAGED: the nested stream's length.
    pub fn packaged_len(&self) -> Option<u32> {
        (self.kind == CommandKind::Packaged)
            .then(|| u32::from_be_bytes(self.data.try_into().unwrap_or([0; 4])))
    }

    /// For POSTCOPY_RAM_DISCARD: the block name and the (start, length)
    /// ranges.
    pub fn discard(&self) -> Option<(&'a [u8], impl Iterator<Item = (u64, u64)> + 'a)> {
        if self.kind != CommandKind::PostcopyRamDiscard {
            return None;
        }
        let data: &'a [u8] = self.data;
        let len = *data.get(1)? as usize;
        let name = data.get(2..2 + len)?;
        let ranges = data.get(3 + len..)?;
        Some((
            name,
            ranges.chunks_exact(16).map(|c| {
                let (a, b) = c.split_at(8);
                (
                    u64::from_be_bytes(a.try_into().unwrap_or_default()),
                    u64::from_be_bytes(b.try_into().unwrap_or_default()),
                )
            }),
        ))
    }
}
