//! Finding a page's RAM block among a command's per-block records.

/// The index of the record of block `name` in `items` (`key` gives a
/// record's block name). Pages mostly come block after block, so the
/// previous answer, `*last`, is tried first and then updated.
pub fn find<T>(
    items: &[T],
    last: &mut usize,
    name: &[u8],
    key: impl Fn(&T) -> &[u8],
) -> Option<usize> {
    if items.get(*last).is_none_or(|x| key(x) != name) {
        *last = items.iter().position(|x| key(x) == name)?;
    }
    Some(*last)
}
