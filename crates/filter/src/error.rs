//! The filter's error types. The rule: every error that comes from a file names the file, the
//! line and the field (or list entry) at fault, so a network manager can fix it without
//! reading code; errors are `thiserror` enums here and only become `anyhow` in [`crate::cli`].

use std::path::PathBuf;

use thiserror::Error;

/// A name (category, network, group, period, rule) that is not a plain token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Empty or longer than 64 characters.
    #[error("{what} name {name:?} must be 1 to 64 characters long")]
    Length {
        /// What kind of name.
        what: &'static str,
        /// The name as written.
        name: String,
    },
    /// A character other than ASCII letters, digits, `_`, `-`, `.`.
    #[error("{what} name {name:?} may only hold letters, digits, '_', '-' and '.', not {found:?}")]
    Character {
        /// What kind of name.
        what: &'static str,
        /// The name as written.
        name: String,
        /// The first character that is not allowed.
        found: char,
    },
}

/// Building an index went past one of its fixed limits.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IndexError {
    /// More than 4 GiB of list text.
    #[error("the lists hold more than 4 GiB of entries")]
    TooLarge,
    /// More distinct combinations of categories than the index can number.
    #[error("more than 65,535 distinct combinations of categories")]
    TooManyCombinations,
}

/// A category list could not be loaded.
#[derive(Debug, Error)]
pub enum ListError {
    /// Neither `domains` nor `urls` exists in the category's folder.
    #[error("category {category}: no 'domains' or 'urls' file in {dir}")]
    Missing {
        /// The category.
        category: String,
        /// The folder looked in.
        dir: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("category {category}: cannot read {path}: {source}")]
    Read {
        /// The category.
        category: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The index is full.
    #[error("category {category}: {path}: {source}")]
    Index {
        /// The category.
        category: String,
        /// The file being loaded.
        path: PathBuf,
        /// Which limit.
        source: IndexError,
    },
    /// An illegal-content category loaded no entries: it would block nothing, so it is
    /// refused rather than silently failing open.
    #[error(
        "category {category} is marked illegal-content but its lists in {dir} hold no entries; refusing to load (illegal-content categories fail closed)"
    )]
    EmptyIllegal {
        /// The category.
        category: String,
        /// Its folder.
        dir: PathBuf,
    },
}

/// A CIDR block that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{input:?} is not an address or CIDR block ({why})")]
pub struct CidrError {
    /// The text as written.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// A timetable value (date, time window, weekday) that does not parse or does not fit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct TimetableError(pub String);

/// A rules file that cannot be used. `Display` names the file, the line and the field.
#[derive(Debug, Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The rules file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A value at a known place is wrong.
    #[error("{path}:{line}: {field}: {message}")]
    Invalid {
        /// The rules file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field, as a path such as `rules[2].during` or `networks.guest.cidrs`.
        field: String,
        /// What is wrong and, where it helps, what would be right.
        message: String,
    },
    /// A category list named by the file could not be loaded.
    #[error("{path}:{line}: categories.{category}: {source}")]
    List {
        /// The rules file.
        path: PathBuf,
        /// The line declaring the category.
        line: usize,
        /// The category.
        category: String,
        /// Why its list failed.
        source: ListError,
    },
}

/// A request line from Squid that cannot be decided; the helper answers it with `BH`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// No channel ID before the values.
    #[error("empty request line")]
    Empty,
    /// Fewer values than the configured FORMAT.
    #[error("missing {0} field (expected: channel-ID client-IP user method URL)")]
    Missing(&'static str),
    /// The client address is not an IP address.
    #[error("client address {0:?} is not an IP address")]
    Address(String),
    /// The URL cannot be read: no host, a bad port, a character no host name has.
    #[error("URL {url:?} cannot be read: {why}")]
    Url {
        /// The start of the URL as Squid sent it.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The line is longer than the helper reads.
    #[error("request line longer than {0} bytes")]
    TooLong(usize),
    /// A value is not valid UTF-8 where text is needed.
    #[error("{0} is not valid UTF-8")]
    Encoding(&'static str),
}
