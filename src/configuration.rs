//! The CONFIGURATION record: the machine type and the target-page-bits,
//! capabilities and uuid subsections, read without a vmdesc.

use crate::cursor::{Cursor, Parsed};
use crate::error::{ErrorKind, Limit};
use crate::visitor::Configuration;

/// QEMU_VM_SUBSECTION.
pub(crate) const SUBSECTION: u8 = 0x05;

/// Parses the record after its type byte. With `lenient`, an unknown
/// subsection ends the parse (a vmdesc frames the rest); otherwise it is
/// an error, since nothing tells its length.
pub(crate) fn configuration<'a>(cur: &mut Cursor<'a>, lenient: bool) -> Parsed<Configuration<'a>> {
    let len = cur.be32()?;
    let machine = cur.bytes(len as u64)?;
    let mut c = Configuration {
        machine,
        target_page_bits: None,
        capabilities: heapless::Vec::new(),
        uuid: None,
    };
    while cur.remaining() > 0 || !lenient {
        if cur.peek_u8()? != SUBSECTION {
            break;
        }
        let mut look = cur.clone();
        look.u8()?;
        let name = look.counted()?;
        look.be32()?;
        match name {
            b"configuration/target-page-bits" => c.target_page_bits = Some(look.be32()?),
            b"configuration/capabilities" => {
                let n = look.be32()?;
                for _ in 0..n {
                    let cap = look.counted()?;
                    if c.capabilities.push(cap).is_err() {
                        return look.fail(ErrorKind::Limit(Limit::Capabilities));
                    }
                }
            }
            b"configuration/uuid" => {
                let mut u = [0u8; 16];
                u.copy_from_slice(look.bytes(16)?);
                c.uuid = Some(u);
            }
            _ if lenient => break,
            _ => return cur.fail(ErrorKind::Unframeable),
        }
        *cur = look;
    }
    Ok(c)
}
