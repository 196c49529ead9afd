//! Loading category lists in the squidGuard/UT1 layout: a folder per category holding a
//! `domains` file and/or a `urls` file, one entry per line.
//!
//! Lines are read the way squidGuard reads them, so the same lists mean the same thing: `#`
//! starts a comment line, a trailing CR is dropped, one leading `+`/`-` (diff files) is
//! dropped, only the first whitespace-separated word counts, entries are lower-cased, and a
//! URL entry loses its `user@` and `:port` before the first `/`.

use std::path::{Path, PathBuf};

use crate::category::{CategoryId, CategorySet};
use crate::error::ListError;
use crate::index::{DomainIndex, UrlIndex, UrlIndexBuilder};

/// One category to load: its id, its name (for messages) and its folder.
#[derive(Debug, Clone)]
pub struct ListSource {
    /// The category's id in the rule set.
    pub id: CategoryId,
    /// The category's name.
    pub name: String,
    /// The folder holding `domains` and/or `urls`.
    pub dir: PathBuf,
    /// Whether an empty list must be refused (illegal-content categories fail closed).
    pub must_not_be_empty: bool,
}

/// What was loaded for one category.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ListStats {
    /// Domain entries read (duplicates included).
    pub domains: usize,
    /// URL entries read (duplicates included).
    pub urls: usize,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// Every category's entries, indexed.
#[derive(Debug, Default)]
pub struct Lists {
    /// Domain entries.
    pub domains: DomainIndex,
    /// URL entries.
    pub urls: UrlIndex,
    /// Per category, in id order.
    pub stats: Vec<ListStats>,
}

impl Lists {
    /// Loads every source. Fails on the first unreadable or missing list.
    pub fn load(sources: &[ListSource]) -> Result<Self, ListError> {
        let mut domains = DomainIndex::new();
        let mut urls = UrlIndexBuilder::new();
        let mut stats = Vec::with_capacity(sources.len());
        // Size the table once from the files' sizes (about 15 bytes a line) to avoid rehashing.
        let total: u64 = sources
            .iter()
            .filter_map(|s| std::fs::metadata(s.dir.join("domains")).ok())
            .map(|m| m.len())
            .sum();
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        domains.reserve(total / 15, total);
        for source in sources {
            let mut st = ListStats::default();
            let domain_path = source.dir.join("domains");
            let url_path = source.dir.join("urls");
            let mut found = false;
            if let Some(text) = read_optional(&domain_path, &source.name)? {
                found = true;
                st.files.push(domain_path.clone());
                let mut lower = Vec::new();
                for key in entries(&text) {
                    lower.clear();
                    lower.extend(key.iter().map(u8::to_ascii_lowercase));
                    domains
                        .insert(&lower, source.id)
                        .map_err(|e| ListError::Index {
                            category: source.name.clone(),
                            path: domain_path.clone(),
                            source: e,
                        })?;
                    st.domains += 1;
                }
            }
            if let Some(text) = read_optional(&url_path, &source.name)? {
                found = true;
                st.files.push(url_path.clone());
                let mut lower = Vec::new();
                for key in entries(&text) {
                    lower.clear();
                    lower.extend(key.iter().map(u8::to_ascii_lowercase));
                    urls.insert(&strip_url_entry(&lower), source.id);
                    st.urls += 1;
                }
            }
            if !found {
                return Err(ListError::Missing {
                    category: source.name.clone(),
                    dir: source.dir.clone(),
                });
            }
            if source.must_not_be_empty && st.domains + st.urls == 0 {
                return Err(ListError::EmptyIllegal {
                    category: source.name.clone(),
                    dir: source.dir.clone(),
                });
            }
            stats.push(st);
        }
        let urls = urls.build().map_err(|e| ListError::Index {
            category: String::from("(url lists)"),
            path: PathBuf::new(),
            source: e,
        })?;
        Ok(Self {
            domains,
            urls,
            stats,
        })
    }

    /// The categories whose domain or URL entries match a request.
    #[inline]
    pub fn categories(&self, target: &crate::target::Target) -> CategorySet {
        let mut set = self.domains.categories(target.host());
        if !self.urls.is_empty() {
            for (host, path) in target.url_keys() {
                set = set.union(self.urls.categories(host, path));
            }
        }
        set
    }

    /// Heap memory held by the indexes, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.domains.heap_bytes() + self.urls.heap_bytes()
    }
}

fn read_optional(path: &Path, category: &str) -> Result<Option<Vec<u8>>, ListError> {
    match std::fs::read(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ListError::Read {
            category: category.to_owned(),
            path: path.to_owned(),
            source: e,
        }),
    }
}

/// The entries of a list file, as written (not yet lower-cased), squidGuard's way.
pub fn entries(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n').filter_map(entry)
}

/// The entry on one line (without its newline), or `None` for comments and blank lines.
pub fn entry(line: &[u8]) -> Option<&[u8]> {
    if line.first() == Some(&b'#') {
        return None;
    }
    let mut line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(rest) = line.strip_prefix(b"+").or_else(|| line.strip_prefix(b"-")) {
        line = rest;
    }
    // squidGuard tokenises on space, tab and newline only.
    let start = line.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
    let rest = &line[start..];
    let end = rest
        .iter()
        .position(|b| matches!(b, b' ' | b'\t'))
        .unwrap_or(rest.len());
    let key = &rest[..end];
    (!key.is_empty()).then_some(key)
}

/// A URL entry as squidGuard stores it: `user@` and `:port` removed from the part before
/// the first `/`. Entries starting with `.` are kept as they are, as squidGuard does.
pub fn strip_url_entry(entry: &[u8]) -> Vec<u8> {
    if entry.first() == Some(&b'.') {
        return entry.to_vec();
    }
    let slash = entry.iter().position(|b| *b == b'/');
    let before = slash.unwrap_or(entry.len());
    let mut start = 0;
    if let Some(at) = entry[..before].iter().position(|b| *b == b'@') {
        start = at + 1;
    }
    let host_end = entry[start..before]
        .iter()
        .position(|b| *b == b':')
        .map_or(before, |c| start + c);
    let mut out = entry[start..host_end].to_vec();
    if let Some(s) = slash {
        out.extend_from_slice(&entry[s..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_the_squidguard_way() {
        assert_eq!(entry(b"example.com"), Some(&b"example.com"[..]));
        assert_eq!(entry(b"example.com\r"), Some(&b"example.com"[..]));
        assert_eq!(entry(b"#example.com"), None);
        assert_eq!(entry(b"+example.com"), Some(&b"example.com"[..]));
        assert_eq!(entry(b"-example.com"), Some(&b"example.com"[..]));
        assert_eq!(
            entry(b"  example.com http://redirect"),
            Some(&b"example.com"[..])
        );
        assert_eq!(entry(b""), None);
        assert_eq!(entry(b"   "), None);
    }

    #[test]
    fn url_entries_lose_credentials_and_port_before_the_path() {
        assert_eq!(
            strip_url_entry(b"user@foo.com:8080/a:b@c"),
            b"foo.com/a:b@c".to_vec()
        );
        assert_eq!(strip_url_entry(b"foo.com"), b"foo.com".to_vec());
        assert_eq!(strip_url_entry(b"foo.com:81"), b"foo.com".to_vec());
        assert_eq!(strip_url_entry(b".foo.com:81/x"), b".foo.com:81/x".to_vec());
    }

    #[test]
    fn a_category_folder_with_no_list_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let src = ListSource {
            id: CategoryId::new(0).unwrap(),
            name: "adult".into(),
            dir: dir.path().join("adult"),
            must_not_be_empty: false,
        };
        let err = Lists::load(&[src]).unwrap_err().to_string();
        assert!(
            err.contains("adult") && err.contains("no 'domains' or 'urls'"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_illegal_content_list_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("iwf")).unwrap();
        std::fs::write(dir.path().join("iwf/domains"), "# nothing yet\n").unwrap();
        let src = ListSource {
            id: CategoryId::new(0).unwrap(),
            name: "iwf".into(),
            dir: dir.path().join("iwf"),
            must_not_be_empty: true,
        };
        assert!(matches!(
            Lists::load(&[src]),
            Err(ListError::EmptyIllegal { .. })
        ));
    }
}
