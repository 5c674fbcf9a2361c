//! Compact sets for the values seedsnap must remember per row: the export's chosen rows and
//! key tuples ([`crate::selection`]), and the referenced tuples the offline foreign-key check
//! holds ([`crate::snapshot`]'s key check).
//!
//! - [`Bitmap64`]: a set of `u64`s as compressed (roaring) bitmaps — about two bytes per value,
//!   a few bytes per run of consecutive values.
//! - [`ByteSet`]: a set of byte strings in one sorted arena, searched by bisection — the bytes
//!   themselves plus one offset each, instead of a heap allocation (and a hash-table slot) per
//!   value.

use roaring::RoaringBitmap;

/// A set of `u64`s as compressed bitmaps, one per high half in use, kept in a sorted `Vec`:
/// what `RoaringTreemap` does with a `BTreeMap`, whose first node alone costs about 300 bytes,
/// and there is a set per table and two per referenced key.
#[derive(Debug, Default, Clone)]
pub struct Bitmap64(Vec<(u32, RoaringBitmap)>);

impl Bitmap64 {
    fn split(value: u64) -> (u32, u32) {
        ((value >> 32) as u32, value as u32)
    }

    /// Adds a value; false when it was there already.
    pub fn insert(&mut self, value: u64) -> bool {
        let (high, low) = Self::split(value);
        match self.0.binary_search_by_key(&high, |(h, _)| *h) {
            Ok(i) => self.0[i].1.insert(low),
            Err(i) => {
                self.0.reserve_exact(1);
                self.0.insert(i, (high, RoaringBitmap::from_iter([low])));
                true
            }
        }
    }

    pub fn contains(&self, value: u64) -> bool {
        let (high, low) = Self::split(value);
        match self.0.binary_search_by_key(&high, |(h, _)| *h) {
            Ok(i) => self.0[i].1.contains(low),
            Err(_) => false,
        }
    }

    /// Stores runs of consecutive values as runs (interned keys and the rows of a page are
    /// such runs): a few bytes per run instead of two per value.
    pub fn optimize(&mut self) {
        for (_, lows) in &mut self.0 {
            lows.optimize();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, lows)| lows.is_empty())
    }

    /// Removes every value `other` holds.
    pub fn remove_all(&mut self, other: &Bitmap64) {
        for (high, lows) in &mut self.0 {
            if let Ok(i) = other.0.binary_search_by_key(high, |(h, _)| *h) {
                *lows -= &other.0[i].1;
            }
        }
        self.0.retain(|(_, lows)| !lows.is_empty());
    }

    pub fn len(&self) -> u64 {
        self.0.iter().map(|(_, lows)| lows.len()).sum()
    }

    /// The values in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().flat_map(|(high, lows)| {
            lows.iter()
                .map(move |low| ((*high as u64) << 32) | low as u64)
        })
    }
}

/// A set of byte strings: built by [`ByteSet::push`] in any order, then [`ByteSet::seal`]ed
/// (sorted, duplicates dropped) before [`ByteSet::contains`] is asked. The strings sit end to
/// end in one buffer; a string costs its bytes plus one offset.
#[derive(Debug, Default, Clone)]
pub struct ByteSet {
    bytes: Vec<u8>,
    /// Where each string ends in `bytes` (it starts where the one before ends).
    ends: Vec<usize>,
    sealed: bool,
}

impl ByteSet {
    /// Appends a string (the set must be sealed again before it is searched).
    pub fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len());
        self.sealed = false;
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Sorts the strings and drops duplicates, rebuilding the buffer in that order.
    pub fn seal(&mut self) {
        if self.sealed {
            return;
        }
        let mut order: Vec<usize> = (0..self.ends.len()).collect();
        order.sort_unstable_by(|&a, &b| self.get(a).cmp(self.get(b)));
        order.dedup_by(|a, b| self.get(*a) == self.get(*b));
        let mut bytes = Vec::with_capacity(order.iter().map(|&i| self.get(i).len()).sum());
        let mut ends = Vec::with_capacity(order.len());
        for i in order {
            bytes.extend_from_slice(self.get(i));
            ends.push(bytes.len());
        }
        self.bytes = bytes;
        self.ends = ends;
        self.sealed = true;
    }

    /// Whether `value` is in the set. Panics when strings were pushed since the last seal.
    pub fn contains(&self, value: &[u8]) -> bool {
        assert!(
            self.sealed || self.ends.is_empty(),
            "ByteSet searched before it was sealed"
        );
        let (mut low, mut high) = (0, self.ends.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.get(middle).cmp(value) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_hold_values_across_high_halves_in_order() {
        let mut set = Bitmap64::default();
        assert!(set.is_empty());
        for value in [7, u64::MAX, 1 << 40, 3, (1 << 40) + 1] {
            assert!(set.insert(value));
        }
        assert!(!set.insert(3));
        set.optimize();
        assert!(set.contains(1 << 40) && set.contains(u64::MAX) && !set.contains(4));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![3, 7, 1 << 40, (1 << 40) + 1, u64::MAX]
        );
        assert_eq!(set.len(), 5);
        let mut other = Bitmap64::default();
        for value in [7, 1 << 40, (1 << 40) + 1, 99] {
            other.insert(value);
        }
        set.remove_all(&other);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![3, u64::MAX]);
    }

    #[test]
    fn byte_sets_find_exactly_the_strings_pushed() {
        let mut set = ByteSet::default();
        assert!(!set.contains(b"a"));
        for value in [&b"b\tc"[..], b"", b"abc", b"ab", b"b\tc", b"\\N"] {
            set.push(value);
        }
        set.seal();
        assert_eq!(set.len(), 5);
        for value in [&b"b\tc"[..], b"", b"abc", b"ab", b"\\N"] {
            assert!(set.contains(value), "{value:?}");
        }
        for value in [&b"a"[..], b"abcd", b"b", b"b\t", b"c"] {
            assert!(!set.contains(value), "{value:?}");
        }
        // Pushing after a seal needs another seal.
        set.push(b"a");
        set.seal();
        assert!(set.contains(b"a") && set.contains(b"abc"));
    }

    #[test]
    #[should_panic(expected = "before it was sealed")]
    fn byte_sets_refuse_a_search_before_the_seal() {
        let mut set = ByteSet::default();
        set.push(b"x");
        set.contains(b"x");
    }
}
