//! Device state: walks a section payload guided by its vmdesc entry and
//! reports every value, struct and subsection with its full path. Array
//! entries (`array_len`) are expanded, structs and subsections nested, and
//! every field's consumed bytes are checked against its vmdesc "size".

use crate::cursor::{Cursor, Parsed, Stop};
use crate::error::{write_capped, ErrorKind, Limit, PATH_TEXT};
use crate::json::{Json, JsonError};
use crate::visitor::{type_width, Path, Segment, Value, ValueKind, Visitor};
use crate::vmdesc::{FieldDesc, StructDesc};
use crate::Limits;

/// Deepest path (section, fields, indices, subsections) the walker follows.
pub const MAX_PATH: usize = 48;
/// Array elements that consume no bytes accepted in one section.
pub const MAX_EMPTY_ELEMENTS: u32 = 1 << 16;

/// Finds where a VMSD's bytes end in `input`, sending no events, so that a
/// failure, or a retry once more input has come, sends none. On failure:
/// the stop and the path of the field where it happened.
pub(crate) fn frame<'x>(
    input: &'x [u8],
    json: Json<'x>,
    root: &'x [u8],
    sd: &StructDesc<'x>,
    limits: Limits,
) -> Result<usize, (Stop, heapless::String<PATH_TEXT>)> {
    let mut ignore = crate::Ignore;
    let mut w = Walker::new(input, json, root, &mut ignore, limits);
    match w.walk_struct(sd) {
        Ok(()) => Ok(w.cur.pos()),
        Err(e) => Err((e, w.err_path)),
    }
}

/// Reports a VMSD's values to `visitor`, over bytes that [`frame`] has
/// accepted (the same walk over the same bytes cannot fail).
pub(crate) fn walk<'x, V: Visitor>(
    body: &'x [u8],
    json: Json<'x>,
    root: &'x [u8],
    sd: &StructDesc<'x>,
    limits: Limits,
    visitor: &mut V,
) {
    let _ = Walker::new(body, json, root, visitor, limits).walk_struct(sd);
}

/// Walks one payload. `'x` is the shorter of the input's and vmdesc's lives.
pub(crate) struct Walker<'c, 'x, V: Visitor> {
    cur: Cursor<'x>,
    json: Json<'x>,
    path: heapless::Vec<Segment<'x>, MAX_PATH>,
    visitor: &'c mut V,
    limits: Limits,
    empty: u32,
    /// The path where the walk stopped, for error messages.
    err_path: heapless::String<PATH_TEXT>,
}

fn vmdesc_err(e: JsonError) -> ErrorKind {
    ErrorKind::Vmdesc(e)
}

impl<'c, 'x, V: Visitor> Walker<'c, 'x, V> {
    /// A walker over `input` whose paths start with `root`.
    fn new(
        input: &'x [u8],
        json: Json<'x>,
        root: &'x [u8],
        visitor: &'c mut V,
        limits: Limits,
    ) -> Self {
        let mut path = heapless::Vec::new();
        let _ = path.push(Segment::Stream(root));
        Walker {
            cur: Cursor::new(input),
            json,
            path,
            visitor,
            limits,
            empty: 0,
            err_path: heapless::String::new(),
        }
    }

    fn push(&mut self, s: Segment<'x>) -> Parsed<()> {
        if self.path.len() >= self.limits.path_depth {
            return self.cur.fail(ErrorKind::Limit(Limit::PathDepth));
        }
        self.path
            .push(s)
            .or_else(|_| self.cur.fail(ErrorKind::Limit(Limit::PathDepth)))
    }

    /// Records the current path once, at the innermost failure.
    fn note(&mut self, e: Stop) -> Stop {
        if self.err_path.is_empty() {
            let p = Path {
                segments: &self.path,
            };
            write_capped(&mut self.err_path, format_args!("{p}"));
        }
        e
    }

    /// Walks a VMSD: its fields, then the subsections the vmdesc lists.
    fn walk_struct(&mut self, sd: &StructDesc<'x>) -> Parsed<()> {
        if let Some(fields) = sd.fields {
            let mut items = self.json.items(fields);
            while let Some(fpos) = items.next() {
                let start = self.cur.pos();
                let f = FieldDesc::at(self.json, fpos).map_err(|e| Stop::Fail {
                    at: start,
                    kind: vmdesc_err(e),
                })?;
                match self.field(&f) {
                    Ok(()) => {}
                    Err(Stop::Need(n)) => {
                        // A lower bound for the push decoder: every field
                        // left in this struct takes at least its vmdesc size.
                        let rest: u64 = items
                            .clone()
                            .filter_map(|p| FieldDesc::at(self.json, p).ok())
                            .map(|g| g.size.saturating_mul(g.array_len.unwrap_or(1)))
                            .fold(0, u64::saturating_add);
                        let this = f.size.saturating_mul(f.array_len.unwrap_or(1));
                        let bound = (start as u64).saturating_add(this).saturating_add(rest);
                        return Err(Stop::Need(n.max(bound)));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(subs) = sd.subsections {
            for spos in self.json.items(subs) {
                self.subsection(&StructDesc::at(self.json, spos))?;
            }
        }
        Ok(())
    }

    fn subsection(&mut self, sub: &StructDesc<'x>) -> Parsed<()> {
        let start = self.cur.pos();
        let marker = self.cur.u8().map_err(|e| self.note(e))?;
        if marker != 0x05 {
            let e = Stop::Fail {
                at: start,
                kind: ErrorKind::SubsectionExpected,
            };
            return Err(self.note(e));
        }
        let name = self.cur.counted().map_err(|e| self.note(e))?;
        let version = self.cur.be32().map_err(|e| self.note(e))?;
        if sub.vmsd_name.is_some_and(|n| !n.eq_bytes(name)) {
            let e = Stop::Fail {
                at: start + 2,
                kind: ErrorKind::SubsectionName,
            };
            return Err(self.note(e));
        }
        self.push(Segment::Stream(name))?;
        self.visitor.subsection_start(
            &Path {
                segments: &self.path,
            },
            name,
            version,
        );
        self.walk_struct(sub)?;
        self.visitor.subsection_end(
            &Path {
                segments: &self.path,
            },
            name,
        );
        self.path.pop();
        Ok(())
    }

    /// Reads all elements of one field entry.
    fn field(&mut self, f: &FieldDesc<'x>) -> Parsed<()> {
        let count = f.array_len.unwrap_or(1);
        let mut i = 0;
        while i < count {
            let start = self.cur.pos();
            self.push(Segment::Name(f.name))?;
            let index = if f.array_len.is_some() {
                Some(i)
            } else {
                f.index
            };
            if let Some(ix) = index {
                self.push(Segment::Index(ix))?;
            }
            let r = self.element(f);
            if let Err(e) = r {
                let e = self.note(e);
                // Elements of a compressed array have the first one's size.
                return Err(match e {
                    Stop::Need(n) => {
                        let left = (count - i).saturating_mul(f.size);
                        Stop::Need(n.max((start as u64).saturating_add(left)))
                    }
                    fail => fail,
                });
            }
            let consumed = (self.cur.pos() - start) as u64;
            if consumed == 0 {
                self.empty += 1;
                if self.empty > self.limits.empty_elements {
                    let e = Stop::Fail {
                        at: start,
                        kind: ErrorKind::Limit(Limit::EmptyElements),
                    };
                    return Err(self.note(e));
                }
            }
            if (i == 0 || f.array_len.is_none()) && consumed != f.size {
                let e = Stop::Fail {
                    at: start,
                    kind: ErrorKind::SizeMismatch {
                        expected: f.size,
                        consumed,
                    },
                };
                return Err(self.note(e));
            }
            self.path.pop();
            if index.is_some() {
                self.path.pop();
            }
            i += 1;
        }
        Ok(())
    }

    fn element(&mut self, f: &FieldDesc<'x>) -> Parsed<()> {
        if f.type_name.raw() == b"struct" {
            // VMS_VSTRUCT fields carry their VMSD inline, without "struct".
            let sd = StructDesc::at(self.json, f.struct_pos.unwrap_or(f.pos));
            // QEMU before 8.2 described NULL entries of pointer arrays as
            // an empty struct of "size" bytes: read those as raw bytes.
            if sd.fields.is_some() || sd.subsections.is_some() {
                self.visitor.struct_start(
                    &Path {
                        segments: &self.path,
                    },
                    f,
                );
                self.walk_struct(&sd)?;
                self.visitor.struct_end(
                    &Path {
                        segments: &self.path,
                    },
                    f,
                );
                return Ok(());
            }
        }
        let kind = ValueKind::of(&f.type_name);
        // A vmdesc that gives a fixed-width type another size would shift
        // every later field: stop at the field, not records later.
        if let Some(width) = type_width(&f.type_name).filter(|w| *w != f.size) {
            return self.cur.fail(ErrorKind::TypeWidth {
                width,
                size: f.size,
            });
        }
        if f.type_name.raw() == b"struct" {
            // Only NULL entries ('0') of such an array can be read; a real
            // element's layout is not described.
            let b = self.cur.bytes(f.size)?;
            if b != b"0" {
                return self.cur.fail(ErrorKind::UndescribedElement);
            }
            self.visitor.value(
                &Path {
                    segments: &self.path,
                },
                f,
                &Value {
                    kind: ValueKind::Nullptr,
                    bytes: b,
                },
            );
            return Ok(());
        }
        let bytes = match kind {
            ValueKind::Capability => self.cur.counted()?,
            _ => self.cur.bytes(f.size)?,
        };
        if kind == ValueKind::Nullptr && bytes != b"0" {
            let b = bytes.first().copied().unwrap_or(0);
            return self.cur.fail(ErrorKind::NullptrMarker(b));
        }
        self.visitor.value(
            &Path {
                segments: &self.path,
            },
            f,
            &Value { kind, bytes },
        );
        Ok(())
    }
}
