//! JSON text output, laid out like analyze-migration.py's (4-space indent,
//! `": "` separators), including objects written member by member so that
//! large documents are streamed instead of built.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{PrettyFormatter, Serializer};
use serde_json::Value;

const INDENT: &[u8] = b"    ";

/// `v` pretty-printed with a 4-space indent, no trailing newline.
pub fn pretty(v: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PrettyFormatter::with_indent(INDENT));
    // Serializing a Value into memory cannot fail.
    let _ = v.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `v` followed by a newline.
pub fn print(out: &mut impl Write, v: &Value) -> io::Result<()> {
    writeln!(out, "{}", pretty(v))
}

/// An object being written member by member at nesting `depth` (0: the
/// document itself).
pub struct Object {
    depth: usize,
    empty: bool,
}

impl Object {
    /// Opens an object; the caller has written its key, if any.
    pub fn open(out: &mut impl Write, depth: usize) -> io::Result<Self> {
        out.write_all(b"{")?;
        Ok(Object { depth, empty: true })
    }

    /// Starts a member: separator, indent and key; its value comes next.
    pub fn key(&mut self, out: &mut impl Write, key: &str) -> io::Result<()> {
        out.write_all(if self.empty { b"\n" } else { b",\n" })?;
        self.empty = false;
        for _ in 0..=self.depth {
            out.write_all(INDENT)?;
        }
        write!(out, "{}: ", Value::from(key))
    }

    /// Writes a whole member.
    pub fn member(&mut self, out: &mut impl Write, key: &str, v: &Value) -> io::Result<()> {
        self.key(out, key)?;
        let mut text = pretty(v);
        if text.contains('\n') {
            let mut indent = String::from("\n");
            for _ in 0..=self.depth {
                indent.push_str("    ");
            }
            text = text.replace('\n', &indent);
        }
        out.write_all(text.as_bytes())
    }

    /// Closes the object.
    pub fn close(self, out: &mut impl Write) -> io::Result<()> {
        if !self.empty {
            out.write_all(b"\n")?;
            for _ in 0..self.depth {
                out.write_all(INDENT)?;
            }
        }
        out.write_all(b"}")
    }
}
