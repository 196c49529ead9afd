//! Compact, read-only indexes over category lists, with squidGuard's matching semantics:
//! a domain entry matches itself and its subdomains (never `aamex.com` for `amex.com`), a URL
//! entry matches any stripped URL it is a prefix of.
//!
//! One open-addressing table of keys in a single byte arena: no per-entry allocation, so a
//! million domains take about 40 MB and load in a fraction of a second. The hash is computed
//! from the *right*, so a single right-to-left pass over a host yields the hash of every
//! label-aligned suffix (`a.b.example.com`, `b.example.com`, `example.com`, `com`) and each is
//! one probe.

use std::collections::HashMap;

use crate::category::{CategoryId, CategorySet};
use crate::error::IndexError;

const SEED: u64 = 0x243F_6A88_85A3_08D3;
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn step(h: u64, b: u8) -> u64 {
    (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(MUL)
}

#[inline]
fn finish(h: u64) -> u64 {
    // murmur3's 64-bit finaliser: spreads every input bit over the slot index and the tag.
    let mut h = h ^ (h >> 33);
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// The hash of `key` read right to left, before finishing.
#[inline]
fn hash_rev(key: &[u8]) -> u64 {
    key.iter().rev().fold(SEED, |h, b| step(h, *b))
}

#[derive(Debug, Clone, Copy)]
struct KeyRef {
    offset: u32,
    len: u32,
}

/// Keys in one arena, found through an open-addressing table of `(tag, index + 1)` words.
#[derive(Debug, Default)]
struct KeyTable {
    bytes: Vec<u8>,
    keys: Vec<KeyRef>,
    values: Vec<u32>,
    slots: Vec<u64>,
}

impl KeyTable {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn key(&self, i: usize) -> &[u8] {
        let k = self.keys[i];
        let start = k.offset as usize;
        &self.bytes[start..start + k.len as usize]
    }

    /// Finds `key`, whose unfinished right-to-left hash is `raw`.
    #[inline]
    fn find(&self, raw: u64, key: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let h = finish(raw);
        let mask = self.slots.len() - 1;
        let tag = h >> 32;
        let mut i = (h as usize) & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == tag {
                let idx = (slot & 0xFFFF_FFFF) as usize - 1;
                if self.key(idx) == key {
                    return Some(idx);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts `key` with `value` unless present; returns its index and whether it was new.
    fn insert(&mut self, key: &[u8], value: u32) -> Result<(usize, bool), IndexError> {
        let raw = hash_rev(key);
        if let Some(i) = self.find(raw, key) {
            return Ok((i, false));
        }
        if (self.keys.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let offset = u32::try_from(self.bytes.len()).map_err(|_| IndexError::TooLarge)?;
        let len = u32::try_from(key.len()).map_err(|_| IndexError::TooLarge)?;
        if self.bytes.len() + key.len() > u32::MAX as usize
            || self.keys.len() >= u32::MAX as usize - 1
        {
            return Err(IndexError::TooLarge);
        }
        self.bytes.extend_from_slice(key);
        let idx = self.keys.len();
        self.keys.push(KeyRef { offset, len });
        self.values.push(value);
        self.place(finish(raw), idx);
        Ok((idx, true))
    }

    fn place(&mut self, h: u64, idx: usize) {
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = ((h >> 32) << 32) | (idx as u64 + 1);
    }

    fn grow(&mut self) {
        let new_len = (self.slots.len() * 2).max(64);
        self.slots = vec![0; new_len];
        for idx in 0..self.keys.len() {
            let h = finish(hash_rev(self.key(idx)));
            self.place(h, idx);
        }
    }

    fn reserve(&mut self, keys: usize, bytes: usize) {
        self.bytes.reserve(bytes);
        self.keys.reserve(keys);
        self.values.reserve(keys);
        let want = (keys * 2).next_power_of_two().max(64);
        if want > self.slots.len() && self.keys.is_empty() {
            self.slots = vec![0; want];
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.keys.capacity() * std::mem::size_of::<KeyRef>()
            + self.values.capacity() * 4
            + self.slots.capacity() * 8
    }
}

/// Interns category sets, so each key stores a 32-bit set number rather than 32 bytes.
#[derive(Debug, Default)]
struct SetTable {
    sets: Vec<CategorySet>,
    ids: HashMap<CategorySet, u32>,
}

impl SetTable {
    fn intern(&mut self, set: CategorySet) -> Result<u32, IndexError> {
        if let Some(id) = self.ids.get(&set) {
            return Ok(*id);
        }
        let id = u32::try_from(self.sets.len()).map_err(|_| IndexError::TooManyCombinations)?;
        if id > 0xFFFF {
            return Err(IndexError::TooManyCombinations);
        }
        self.sets.push(set);
        self.ids.insert(set, id);
        Ok(id)
    }

    fn get(&self, id: u32) -> CategorySet {
        self.sets
            .get(id as usize)
            .copied()
            .unwrap_or(CategorySet::EMPTY)
    }
}

/// Domain entries of every category: `example.com` in category `adult` matches `example.com`
/// and `*.example.com`.
#[derive(Debug, Default)]
pub struct DomainIndex {
    table: KeyTable,
    sets: SetTable,
}

impl DomainIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes room for about `entries` keys of `bytes` total length.
    pub fn reserve(&mut self, entries: usize, bytes: usize) {
        self.table.reserve(entries, bytes);
    }

    /// Adds `domain` (already lower-cased) to `category`.
    pub fn insert(&mut self, domain: &[u8], category: CategoryId) -> Result<(), IndexError> {
        let single = self.sets.intern(CategorySet::single(category))?;
        let (idx, new) = self.table.insert(domain, single)?;
        if !new {
            let merged = self
                .sets
                .get(self.table.values[idx])
                .union(CategorySet::single(category));
            self.table.values[idx] = self.sets.intern(merged)?;
        }
        Ok(())
    }

    /// Number of distinct domains.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Calls `found(entry, categories)` for every entry that matches `host` (lower-case, no
    /// port): the host itself and each parent domain, longest first.
    #[inline]
    pub fn for_each_match(&self, host: &[u8], mut found: impl FnMut(&[u8], CategorySet)) {
        if self.table.len() == 0 {
            return;
        }
        let mut h = SEED;
        let mut i = host.len();
        while i > 0 {
            i -= 1;
            let b = host[i];
            if b == b'.' && i + 1 < host.len() {
                let suffix = &host[i + 1..];
                if let Some(idx) = self.table.find(h, suffix) {
                    found(suffix, self.sets.get(self.table.values[idx]));
                }
            }
            h = step(h, b);
        }
        if let Some(idx) = self.table.find(h, host) {
            found(host, self.sets.get(self.table.values[idx]));
        }
    }

    /// The union of the categories of every entry matching `host`.
    #[inline]
    pub fn categories(&self, host: &[u8]) -> CategorySet {
        let mut all = CategorySet::EMPTY;
        self.for_each_match(host, |_, s| all = all.union(s));
        all
    }

    /// Heap memory held, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.sets.sets.capacity() * std::mem::size_of::<CategorySet>()
    }
}

/// URL entries of every category, grouped by host. squidGuard compares a URL entry as a plain
/// string prefix of the stripped request (`foo.com/bar` matches `foo.com/barista`); entries are
/// split at their first `/` so that the host is found by one exact probe and only that host's
/// few paths are compared.
#[derive(Debug, Default)]
pub struct UrlIndex {
    hosts: KeyTable,
    /// Per host, the range of its paths in `paths`.
    ranges: Vec<(u32, u32)>,
    path_bytes: Vec<u8>,
    /// Sorted per host: (offset, len, set id).
    paths: Vec<(u32, u32, u32)>,
    sets: SetTable,
}

/// Collects URL entries, then freezes them into a [`UrlIndex`].
#[derive(Debug, Default)]
pub struct UrlIndexBuilder {
    entries: Vec<(Vec<u8>, usize, CategoryId)>,
}

impl UrlIndexBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stripped, lower-cased URL entry (`host/path`, or a bare `host`) to `category`.
    pub fn insert(&mut self, entry: &[u8], category: CategoryId) {
        let split = entry.iter().position(|b| *b == b'/').unwrap_or(entry.len());
        self.entries.push((entry.to_vec(), split, category));
    }

    /// Number of entries added so far (duplicates included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorts, merges duplicates and builds the index.
    pub fn build(mut self) -> Result<UrlIndex, IndexError> {
        self.entries.sort_unstable_by(|a, b| {
            let (ha, pa) = a.0.split_at(a.1);
            let (hb, pb) = b.0.split_at(b.1);
            ha.cmp(hb).then(pa.cmp(pb))
        });
        let mut index = UrlIndex::default();
        let mut i = 0;
        while i < self.entries.len() {
            let host = self.entries[i].0[..self.entries[i].1].to_vec();
            let start = u32::try_from(index.paths.len()).map_err(|_| IndexError::TooLarge)?;
            while i < self.entries.len() && self.entries[i].0[..self.entries[i].1] == host[..] {
                let path = &self.entries[i].0[self.entries[i].1..];
                let mut set = CategorySet::single(self.entries[i].2);
                let mut j = i + 1;
                while j < self.entries.len()
                    && self.entries[j].0[..self.entries[j].1] == host[..]
                    && &self.entries[j].0[self.entries[j].1..] == path
                {
                    set.insert(self.entries[j].2);
                    j += 1;
                }
                let offset =
                    u32::try_from(index.path_bytes.len()).map_err(|_| IndexError::TooLarge)?;
                let len = u32::try_from(path.len()).map_err(|_| IndexError::TooLarge)?;
                index.path_bytes.extend_from_slice(path);
                let set_id = index.sets.intern(set)?;
                index.paths.push((offset, len, set_id));
                i = j;
            }
            let end = u32::try_from(index.paths.len()).map_err(|_| IndexError::TooLarge)?;
            let range = u32::try_from(index.ranges.len()).map_err(|_| IndexError::TooLarge)?;
            index.ranges.push((start, end));
            index.hosts.insert(&host, range)?;
        }
        Ok(index)
    }
}

impl UrlIndex {
    fn path(&self, i: usize) -> &[u8] {
        let (offset, len, _) = self.paths[i];
        &self.path_bytes[offset as usize..(offset + len) as usize]
    }

    /// Number of distinct URL entries.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Calls `found(path_entry, categories)` for each entry of `host` that is a prefix of
    /// `path` (which starts at the first `/`, or is empty).
    pub fn for_each_match(
        &self,
        host: &[u8],
        path: &[u8],
        mut found: impl FnMut(&[u8], CategorySet),
    ) {
        if self.paths.is_empty() {
            return;
        }
        let Some(h) = self.hosts.find(hash_rev(host), host) else {
            return;
        };
        let (start, end) = self.ranges[self.hosts.values[h] as usize];
        let (start, end) = (start as usize, end as usize);
        // Every entry that is a prefix of `path` sorts at or before it. Walk back from the
        // last entry <= the current probe; a non-prefix entry bounds how long any earlier
        // prefix can be (by its common prefix with `path`), so each step shortens the probe.
        let mut probe = path;
        let mut hi = end;
        loop {
            let slice = start..hi;
            let pos = slice.start
                + self.paths[slice.clone()].partition_point(|&(o, l, _)| {
                    &self.path_bytes[o as usize..(o + l) as usize] <= probe
                });
            if pos == start {
                return;
            }
            let candidate = self.path(pos - 1);
            if path.starts_with(candidate) {
                found(candidate, self.sets.get(self.paths[pos - 1].2));
                // Shorter prefixes may also exist; continue below this one.
                if candidate.is_empty() {
                    return;
                }
                probe = &path[..candidate.len() - 1];
                hi = pos - 1;
                // Any entry between start and pos-1 that is a prefix is also <= probe.
                continue;
            }
            let common = candidate
                .iter()
                .zip(probe)
                .take_while(|(a, b)| a == b)
                .count();
            probe = &probe[..common.min(probe.len())];
            hi = pos - 1;
        }
    }

    /// The union of the categories of every entry matching `host` + `path`.
    pub fn categories(&self, host: &[u8], path: &[u8]) -> CategorySet {
        let mut all = CategorySet::EMPTY;
        self.for_each_match(host, path, |_, s| all = all.union(s));
        all
    }

    /// Heap memory held, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.hosts.heap_bytes()
            + self.ranges.capacity() * 8
            + self.path_bytes.capacity()
            + self.paths.capacity() * 12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(i: usize) -> CategoryId {
        CategoryId::new(i).unwrap()
    }

    #[test]
    fn a_domain_entry_matches_itself_and_subdomains_but_not_lookalikes() {
        let mut d = DomainIndex::new();
        d.insert(b"amex.com", cat(0)).unwrap();
        d.insert(b"aaa.amex.com", cat(1)).unwrap();
        assert!(d.categories(b"amex.com").contains(cat(0)));
        assert!(d.categories(b"www.amex.com").contains(cat(0)));
        assert!(d.categories(b"zzz.amex.com").contains(cat(0)));
        assert_eq!(d.categories(b"x.aaa.amex.com").iter().count(), 2);
        assert!(d.categories(b"aamex.com").is_empty());
        assert!(d.categories(b"amex.com.evil.net").is_empty());
        assert!(d.categories(b"com").is_empty());
    }

    #[test]
    fn a_domain_in_two_categories_reports_both() {
        let mut d = DomainIndex::new();
        d.insert(b"x.org", cat(3)).unwrap();
        d.insert(b"x.org", cat(7)).unwrap();
        d.insert(b"x.org", cat(3)).unwrap();
        assert_eq!(d.len(), 1);
        let got: Vec<usize> = d
            .categories(b"a.x.org")
            .iter()
            .map(CategoryId::index)
            .collect();
        assert_eq!(got, vec![3, 7]);
    }

    #[test]
    fn the_table_grows_past_its_first_size() {
        let mut d = DomainIndex::new();
        for i in 0..10_000 {
            d.insert(format!("host{i}.example").as_bytes(), cat(i % 5))
                .unwrap();
        }
        assert_eq!(d.len(), 10_000);
        for i in (0..10_000).step_by(97) {
            assert!(
                d.categories(format!("www.host{i}.example").as_bytes())
                    .contains(cat(i % 5))
            );
        }
        assert!(d.categories(b"host10000.example").is_empty());
    }

    #[test]
    fn url_entries_match_as_string_prefixes_of_the_path_on_the_same_host() {
        let mut b = UrlIndexBuilder::new();
        b.insert(b"foo.com/bar", cat(0));
        b.insert(b"foo.com/bara", cat(1));
        b.insert(b"foo.com/x/y", cat(2));
        b.insert(b"whole.net", cat(3));
        let u = b.build().unwrap();
        assert!(u.categories(b"foo.com", b"/bar").contains(cat(0)));
        assert!(u.categories(b"foo.com", b"/barista").contains(cat(0)));
        assert!(!u.categories(b"foo.com", b"/barista").contains(cat(1)));
        assert_eq!(u.categories(b"foo.com", b"/barab").iter().count(), 2);
        assert!(u.categories(b"foo.com", b"/ba").is_empty());
        assert!(u.categories(b"foo.com", b"/x/z").is_empty());
        assert!(u.categories(b"foo.com", b"/x/y?q").contains(cat(2)));
        assert!(u.categories(b"whole.net", b"/anything").contains(cat(3)));
        assert!(u.categories(b"whole.net", b"").contains(cat(3)));
        assert!(u.categories(b"www.foo.com", b"/bar").is_empty());
    }

    #[test]
    fn a_sibling_entry_between_does_not_hide_a_prefix() {
        // squidGuard's B-tree lookup only checks the one key before the request, so
        // `a.com/x` is missed for `a.com/xb` when `a.com/xa` sorts between; we find it.
        let mut b = UrlIndexBuilder::new();
        b.insert(b"a.com/x", cat(0));
        b.insert(b"a.com/xa", cat(1));
        let u = b.build().unwrap();
        assert!(u.categories(b"a.com", b"/xb").contains(cat(0)));
    }
}
