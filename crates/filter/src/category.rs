//! Categories (`adult`, `socialnetworking` …) as small integer ids, and fixed-size bit sets of
//! them, so that "is this host in any of these categories" is a couple of AND instructions.

use std::fmt;

use crate::error::NameError;

/// The most categories one rules file may declare (UT1 has about a hundred).
pub const MAX_CATEGORIES: usize = 256;

/// A category's position in its rule set, below [`MAX_CATEGORIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CategoryId(u8);

impl CategoryId {
    /// The id at `index`, or `None` past [`MAX_CATEGORIES`].
    pub fn new(index: usize) -> Option<Self> {
        u8::try_from(index).ok().map(Self)
    }

    /// The position in the rule set's category table.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A set of categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CategorySet([u64; 4]);

impl CategorySet {
    /// No category.
    pub const EMPTY: Self = Self([0; 4]);

    /// A set holding one category.
    pub fn single(id: CategoryId) -> Self {
        let mut s = Self::EMPTY;
        s.insert(id);
        s
    }

    /// Adds a category.
    pub fn insert(&mut self, id: CategoryId) {
        let i = id.index();
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// Whether the set holds `id`.
    pub fn contains(self, id: CategoryId) -> bool {
        let i = id.index();
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    /// Both sets together.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        out
    }

    /// The categories in both sets.
    #[must_use]
    pub fn intersection(self, other: Self) -> Self {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a &= b;
        }
        out
    }

    /// Whether the sets share a category.
    pub fn intersects(self, other: Self) -> bool {
        self.0.iter().zip(other.0).any(|(a, b)| a & b != 0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The categories, lowest id first.
    pub fn iter(self) -> impl Iterator<Item = CategoryId> {
        (0..MAX_CATEGORIES)
            .filter_map(CategoryId::new)
            .filter(move |id| self.contains(*id))
    }
}

/// A category's name: the folder name in the list tree (`adult`, `social_networks`),
/// ASCII letters, digits, `_`, `-` and `.`, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CategoryName(String);

impl CategoryName {
    /// Checks the characters and length.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        parse_name(s, "category").map(Self)
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CategoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shared check behind every name in a rules file (categories, networks, groups,
/// periods, rules): they travel in Squid's log and notes, so they must stay a plain token.
pub(crate) fn parse_name(s: &str, what: &'static str) -> Result<String, NameError> {
    if s.is_empty() || s.len() > 64 {
        return Err(NameError::Length {
            what,
            name: s.to_owned(),
        });
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(NameError::Character {
            what,
            name: s.to_owned(),
            found: c,
        });
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_ids_across_all_four_words() {
        let mut s = CategorySet::EMPTY;
        for i in [0, 63, 64, 200, 255] {
            s.insert(CategoryId::new(i).unwrap());
        }
        let got: Vec<usize> = s.iter().map(CategoryId::index).collect();
        assert_eq!(got, vec![0, 63, 64, 200, 255]);
        assert!(!s.contains(CategoryId::new(1).unwrap()));
        assert!(CategoryId::new(256).is_none());
    }

    #[test]
    fn names_are_plain_tokens() {
        assert!(CategoryName::parse("social_networks").is_ok());
        assert!(CategoryName::parse("adult stuff").is_err());
        assert!(CategoryName::parse("").is_err());
    }
}
