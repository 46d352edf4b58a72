//! Runtime limits for untrusted input. Each is at most the compile-time
//! capacity of the table it guards (a `heapless` size or const generic), so
//! lowering one never costs memory and raising one past it has no effect.

use crate::json::MAX_DEPTH;
use crate::state::{MAX_EMPTY_ELEMENTS, MAX_PATH};

/// Limits applied while decoding; [`Limits::default`] is the most lenient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of JSON objects and arrays in a vmdesc
    /// (at most [`MAX_DEPTH`]).
    pub json_depth: usize,
    /// Deepest field path: section, fields, indices, subsections
    /// (at most [`MAX_PATH`]).
    pub path_depth: usize,
    /// Array elements that consume no stream bytes, per section (they cost
    /// time without input, so a hostile `array_len` is bounded by this).
    pub empty_elements: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json_depth: MAX_DEPTH,
            path_depth: MAX_PATH,
            empty_elements: MAX_EMPTY_ELEMENTS,
        }
    }
}
