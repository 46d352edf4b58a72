//! An allocation-free JSON scanner for the vmdesc: one validating pass with
//! a bounded nesting stack, then lazy navigation by byte position (object
//! members, array items, strings with escapes decoded on the fly, integers).

use core::fmt;

/// Deepest nesting of objects and arrays accepted in a vmdesc.
pub const MAX_DEPTH: usize = 64;

/// A vmdesc JSON problem at a byte offset inside the JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Offset inside the JSON text.
    pub offset: usize,
    /// What is wrong there.
    pub kind: JsonErrorKind,
}

/// The kinds of vmdesc JSON problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// Not valid UTF-8.
    Utf8,
    /// Not JSON at this point.
    Syntax,
    /// Nesting deeper than the limit (at most [`MAX_DEPTH`]).
    TooDeep,
    /// A required key is missing.
    Missing(&'static str),
    /// A key has a value of the wrong type or range.
    WrongType(&'static str),
    /// Two devices share a name and instance id.
    DuplicateDevice,
    /// More devices than the vmdesc index holds.
    TooManyDevices,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            JsonErrorKind::Utf8 => f.write_str("invalid UTF-8")?,
            JsonErrorKind::Syntax => f.write_str("invalid JSON")?,
            JsonErrorKind::TooDeep => f.write_str("nested deeper than the depth limit")?,
            JsonErrorKind::Missing(k) => write!(f, "missing \"{k}\"")?,
            JsonErrorKind::WrongType(k) => write!(f, "\"{k}\" has a wrong type or range")?,
            JsonErrorKind::DuplicateDevice => f.write_str("duplicated device")?,
            JsonErrorKind::TooManyDevices => f.write_str("more devices than the index holds")?,
        }
        write!(f, " at JSON offset {}", self.offset)
    }
}

fn err(offset: usize, kind: JsonErrorKind) -> JsonError {
    JsonError { offset, kind }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Checks that `src` is one JSON value (with optional whitespace around it)
/// nested at most [`MAX_DEPTH`] deep.
pub fn validate(src: &[u8]) -> Result<(), JsonError> {
    validate_depth(src, MAX_DEPTH)
}

/// Like [`validate`], nested at most `max_depth` (itself at most
/// [`MAX_DEPTH`]) deep.
pub fn validate_depth(src: &[u8], max_depth: usize) -> Result<(), JsonError> {
    if let Err(e) = core::str::from_utf8(src) {
        return Err(err(e.valid_up_to(), JsonErrorKind::Utf8));
    }
    // true = object, false = array
    let mut stack: heapless::Vec<bool, MAX_DEPTH> = heapless::Vec::new();
    let mut p = skip_ws(src, 0);
    loop {
        // expecting a value at p
        match src.get(p) {
            Some(b'{') | Some(b'[') => {
                let obj = src[p] == b'{';
                if stack.len() >= max_depth {
                    return Err(err(p, JsonErrorKind::TooDeep));
                }
                stack
                    .push(obj)
                    .map_err(|_| err(p, JsonErrorKind::TooDeep))?;
                p = skip_ws(src, p + 1);
                let close = if obj { b'}' } else { b']' };
                if src.get(p) == Some(&close) {
                    stack.pop();
                    p += 1;
                } else {
                    if obj {
                        p = member_key(src, p)?;
                    }
                    continue;
                }
            }
            Some(b'"') => p = string_end(src, p)?,
            Some(b't') => p = literal(src, p, b"true")?,
            Some(b'f') => p = literal(src, p, b"false")?,
            Some(b'n') => p = literal(src, p, b"null")?,
            Some(_) => p = number_end(src, p)?,
            None => return Err(err(p, JsonErrorKind::Syntax)),
        }
        // after a value: close containers or move to the next element
        loop {
            p = skip_ws(src, p);
            let Some(&obj) = stack.last() else {
                return if p == src.len() {
                    Ok(())
                } else {
                    Err(err(p, JsonErrorKind::Syntax))
                };
            };
            match src.get(p) {
                Some(b',') => {
                    p = skip_ws(src, p + 1);
                    if obj {
                        p = member_key(src, p)?;
                    }
                    break;
                }
                Some(b'}') if obj => {
                    stack.pop();
                    p += 1;
                }
                Some(b']') if !obj => {
                    stack.pop();
                    p += 1;
                }
                _ => return Err(err(p, JsonErrorKind::Syntax)),
            }
        }
    }
}

/// Parses `"key" :` at p and returns the position of the value.
fn member_key(src: &[u8], p: usize) -> Result<usize, JsonError> {
    if src.get(p) != Some(&b'"') {
        return Err(err(p, JsonErrorKind::Syntax));
    }
    let p = skip_ws(src, string_end(src, p)?);
    if src.get(p) != Some(&b':') {
        return Err(err(p, JsonErrorKind::Syntax));
    }
    Ok(skip_ws(src, p + 1))
}

fn literal(src: &[u8], p: usize, word: &[u8]) -> Result<usize, JsonError> {
    if src.get(p..p + word.len()) == Some(word) {
        Ok(p + word.len())
    } else {
        Err(err(p, JsonErrorKind::Syntax))
    }
}

fn skip_ws(src: &[u8], mut p: usize) -> usize {
    while p < src.len() && is_ws(src[p]) {
        p += 1;
    }
    p
}

/// The position after the string that opens at `p` (checked strictly).
fn string_end(src: &[u8], p: usize) -> Result<usize, JsonError> {
    let mut i = p + 1;
    while i < src.len() {
        match src[i] {
            b'"' => return Ok(i + 1),
            b'\\' => match src.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = src.get(i + 2..i + 6).ok_or(err(i, JsonErrorKind::Syntax))?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(err(i, JsonErrorKind::Syntax));
                    }
                    i += 6;
                }
                _ => return Err(err(i, JsonErrorKind::Syntax)),
            },
            0..=0x1f => return Err(err(i, JsonErrorKind::Syntax)),
            _ => i += 1,
        }
    }
    Err(err(p, JsonErrorKind::Syntax))
}

/// The position after the number that starts at `p` (JSON grammar).
fn number_end(src: &[u8], p: usize) -> Result<usize, JsonError> {
    let digits = |mut i: usize| {
        let s = i;
        while src.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i, i > s)
    };
    let mut i = p;
    if src.get(i) == Some(&b'-') {
        i += 1;
    }
    let (j, any) = digits(i);
    if !any || (src[i] == b'0' && j > i + 1) {
        return Err(err(p, JsonErrorKind::Syntax));
    }
    i = j;
    if src.get(i) == Some(&b'.') {
        let (j, any) = digits(i + 1);
        if !any {
            return Err(err(i, JsonErrorKind::Syntax));
        }
        i = j;
    }
    if matches!(src.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(src.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let (j, any) = digits(i);
        if !any {
            return Err(err(i, JsonErrorKind::Syntax));
        }
        i = j;
    }
    Ok(i)
}

/// Navigation over JSON text that [`validate`] accepted. Positions are byte
/// offsets of values; nothing here allocates or recurses.
#[derive(Clone, Copy)]
pub struct Json<'a> {
    src: &'a [u8],
}

impl<'a> Json<'a> {
    /// Wraps text that [`validate`] accepted.
    pub fn new(src: &'a [u8]) -> Self {
        Json { src }
    }

    /// The text.
    pub fn src(&self) -> &'a [u8] {
        self.src
    }

    /// The position of the top-level value.
    pub fn root(&self) -> usize {
        skip_ws(self.src, 0)
    }

    fn byte(&self, p: usize) -> u8 {
        self.src.get(p).copied().unwrap_or(0)
    }

    /// The position just after the value at `p`.
    pub fn value_end(&self, p: usize) -> usize {
        match self.byte(p) {
            b'"' => string_end(self.src, p).unwrap_or(self.src.len()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut i = p;
                while i < self.src.len() {
                    match self.src[i] {
                        b'"' => {
                            i = string_end(self.src, i).unwrap_or(self.src.len());
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return i + 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                self.src.len()
            }
            _ => {
                let mut i = p;
                while i < self.src.len()
                    && !matches!(self.src[i], b',' | b'}' | b']')
                    && !is_ws(self.src[i])
                {
                    i += 1;
                }
                i
            }
        }
    }

    /// Whether the value at `p` is an object.
    pub fn is_object(&self, p: usize) -> bool {
        self.byte(p) == b'{'
    }

    /// Whether the value at `p` is an array.
    pub fn is_array(&self, p: usize) -> bool {
        self.byte(p) == b'['
    }

    /// The members of the object at `p` (nothing if it is not an object).
    pub fn members(&self, p: usize) -> Members<'a> {
        let next = if self.is_object(p) {
            Some(skip_ws(self.src, p + 1))
        } else {
            None
        };
        Members { json: *self, next }
    }

    /// The items of the array at `p` (nothing if it is not an array).
    pub fn items(&self, p: usize) -> Items<'a> {
        let next = if self.is_array(p) {
            Some(skip_ws(self.src, p + 1))
        } else {
            None
        };
        Items { json: *self, next }
    }

    /// The value of `key` in the object at `p`.
    pub fn get(&self, p: usize, key: &str) -> Option<usize> {
        self.members(p).find(|(k, _)| k.eq_str(key)).map(|(_, v)| v)
    }

    /// The string at `p`.
    pub fn str_at(&self, p: usize) -> Option<JsonStr<'a>> {
        if self.byte(p) != b'"' {
            return None;
        }
        let end = string_end(self.src, p).ok()?;
        Some(JsonStr {
            raw: &self.src[p + 1..end - 1],
        })
    }

    /// The non-negative integer at `p` (no fraction, no exponent).
    pub fn u64_at(&self, p: usize) -> Option<u64> {
        let text = &self.src[p..self.value_end(p)];
        if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        text.iter().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add((d - b'0') as u64)
        })
    }
}

/// Iterator over an object's members: (key, value position).
pub struct Members<'a> {
    json: Json<'a>,
    next: Option<usize>,
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, usize);
    fn next(&mut self) -> Option<Self::Item> {
        let p = self.next?;
        let key = self.json.str_at(p);
        let Some(key) = key else {
            self.next = None;
            return None;
        };
        let colon = skip_ws(self.json.src, self.json.value_end(p));
        let v = skip_ws(self.json.src, colon + 1);
        let after = skip_ws(self.json.src, self.json.value_end(v));
        self.next = if self.json.byte(after) == b',' {
            Some(skip_ws(self.json.src, after + 1))
        } else {
            None
        };
        Some((key, v))
    }
}

/// Iterator over an array's item positions.
#[derive(Clone)]
pub struct Items<'a> {
    json: Json<'a>,
    next: Option<usize>,
}

impl Iterator for Items<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        let p = self.next?;
        if self.json.byte(p) == b']' || p >= self.json.src.len() {
            self.next = None;
            return None;
        }
        let after = skip_ws(self.json.src, self.json.value_end(p));
        self.next = if self.json.byte(after) == b',' {
            Some(skip_ws(self.json.src, after + 1))
        } else {
            None
        };
        Some(p)
    }
}

/// A JSON string as it stands in the text (between the quotes, escapes
/// not yet decoded). Compare and print it without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    raw: &'a [u8],
}

impl JsonStr<'static> {
    /// The empty string.
    pub const EMPTY: Self = JsonStr { raw: b"" };
}

impl Default for JsonStr<'_> {
    fn default() -> Self {
        JsonStr::EMPTY
    }
}

impl<'a> JsonStr<'a> {
    /// The raw text between the quotes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The decoded characters.
    pub fn chars(&self) -> Chars<'a> {
        Chars {
            raw: self.raw,
            pos: 0,
        }
    }

    /// Whether the decoded string equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        if !self.raw.contains(&b'\\') {
            return self.raw == s.as_bytes();
        }
        self.chars().eq(s.chars())
    }

    /// Whether the decoded string equals the UTF-8 bytes `b`.
    pub fn eq_bytes(&self, b: &[u8]) -> bool {
        match core::str::from_utf8(b) {
            Ok(s) => self.eq_str(s),
            Err(_) => false,
        }
    }
}

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.raw.contains(&b'\\') {
            // validated as UTF-8 with the whole document
            return f.write_str(core::str::from_utf8(self.raw).unwrap_or("\u{fffd}"));
        }
        for c in self.chars() {
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Decoded characters of a [`JsonStr`].
pub struct Chars<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl Chars<'_> {
    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.raw.get(at..at + 4)?;
        let s = core::str::from_utf8(h).ok()?;
        u32::from_str_radix(s, 16).ok()
    }
}

impl Iterator for Chars<'_> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        let rest = self.raw.get(self.pos..)?;
        let first = *rest.first()?;
        if first != b'\\' {
            let len = match first {
                0..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let s = core::str::from_utf8(rest.get(..len)?).ok();
            self.pos += len;
            return Some(s.and_then(|s| s.chars().next()).unwrap_or('\u{fffd}'));
        }
        let esc = *rest.get(1)?;
        self.pos += 2;
        Some(match esc {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4(self.pos)?;
                self.pos += 4;
                if (0xd800..0xdc00).contains(&hi)
                    && self.raw.get(self.pos..self.pos + 2) == Some(b"\\u")
                {
                    if let Some(lo) = self
                        .hex4(self.pos + 2)
                        .filter(|lo| (0xdc00..0xe000).contains(lo))
                    {
                        self.pos += 6;
                        let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                        return Some(char::from_u32(c).unwrap_or('\u{fffd}'));
                    }
                }
                char::from_u32(hi).unwrap_or('\u{fffd}')
            }
            other => other as char,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_navigates() {
        let src = br#" {"a": [1, {"b": "x\u0041\n"}], "c": 18446744073709551615, "d": {}} "#;
        validate(src).unwrap();
        let j = Json::new(src);
        let a = j.get(j.root(), "a").unwrap();
        let items: heapless::Vec<usize, 4> = j.items(a).collect();
        assert_eq!(items.len(), 2);
        let b = j.str_at(j.get(items[1], "b").unwrap()).unwrap();
        assert!(b.eq_str("xA\n"));
        assert_eq!(j.u64_at(j.get(j.root(), "c").unwrap()), Some(u64::MAX));
        assert_eq!(j.members(j.get(j.root(), "d").unwrap()).count(), 0);
    }

    #[test]
    fn rejects_bad_json() {
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"a\" 1}",
            b"01",
            b"\"\x01\"",
            b"[] x",
            b"{\"a\":1,}",
            b"\xff",
        ] {
            assert!(validate(bad).is_err(), "{:?}", bad);
        }
        let mut deep = [b'['; 200];
        deep[199] = b']';
        assert_eq!(validate(&deep).unwrap_err().kind, JsonErrorKind::TooDeep);
    }
}
