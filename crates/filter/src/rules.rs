//! The rules file, `filter.toml`: statements quoted from the AUP, categories (list folders),
//! networks, user groups, the timetable, and ordered rules that each cite a statement.
//! [`RuleSet::load`] reads, checks and compiles it (lists included) or names the line and
//! field at fault. The format is documented in `docs/rules.md`.
//!
//! The public shapes live here; `raw` reads the file as written and `compile` checks it
//! and builds them.

mod compile;
mod raw;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::category::{CategoryName, CategorySet};
use crate::error::RulesError;
use crate::lists::Lists;
use crate::net::Cidr;
use crate::timetable::{PeriodSet, Timetable};

use compile::Compiler;

/// A statement's number in the published policy (statements are numbered from 1 in document
/// order, as the policy page shows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct StatementNumber(u32);

impl StatementNumber {
    /// Parses a positive number.
    pub fn parse(s: &str) -> Option<Self> {
        s.trim().parse::<u32>().ok().filter(|n| *n > 0).map(Self)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for StatementNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A statement the rules cite, with its text as published.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Statement {
    /// Its number.
    pub number: StatementNumber,
    /// Its text.
    pub text: String,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Squid lets the request through (`OK`).
    Allow,
    /// Squid refuses it and shows the block page (`ERR`).
    Deny,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }

    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// A declared category.
#[derive(Debug, Clone)]
pub struct Category {
    /// Its name.
    pub name: CategoryName,
    /// A human title (`Social networking`).
    pub title: String,
    /// The folder its lists are read from.
    pub dir: PathBuf,
    /// Illegal content: always denied, before any rule, citing `statement`.
    pub illegal: Option<StatementNumber>,
    /// Line of its declaration.
    pub line: usize,
}

/// A device network.
#[derive(Debug, Clone)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// A human title.
    pub title: String,
    /// Its address blocks.
    pub cidrs: Vec<Cidr>,
}

/// A user group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// A human title.
    pub title: String,
}

/// When a rule applies in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Only while one of these periods is in force.
    During(PeriodSet),
    /// Only while none of these periods is in force.
    Outside(PeriodSet),
}

/// One compiled rule. A condition left out matches everything.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name, unique in the file (shown in Squid's log as `rule_`).
    pub name: String,
    /// Line where it starts.
    pub line: usize,
    /// Networks (bit set over [`RuleSet::networks`]).
    pub networks: Option<u64>,
    /// Groups (bit set over [`RuleSet::groups`]).
    pub groups: Option<u64>,
    /// Categories.
    pub categories: Option<CategorySet>,
    /// Time condition.
    pub schedule: Option<Schedule>,
    /// What happens when it matches.
    pub action: Action,
    /// The statement it enforces.
    pub statement: StatementNumber,
    /// Free-text reason shown by `filter check`.
    pub because: Option<String>,
}

/// A whole rules file, compiled, with its lists loaded.
#[derive(Debug)]
pub struct RuleSet {
    /// The file it came from.
    pub path: PathBuf,
    /// The school's name, if given.
    pub school: Option<String>,
    /// Cited statements by number.
    pub statements: BTreeMap<StatementNumber, Statement>,
    /// Categories; index = [`CategoryId`](crate::category::CategoryId).
    pub categories: Vec<Category>,
    /// The illegal-content categories.
    pub illegal: CategorySet,
    /// Networks; index = bit.
    pub networks: Vec<Network>,
    /// Groups; index = bit.
    pub groups: Vec<Group>,
    /// Lower-case user name → groups bit set.
    pub members: HashMap<String, u64>,
    /// The calendar and periods.
    pub timetable: Timetable,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// Used when no rule matches.
    pub default_action: Action,
    /// Cited when no rule matches.
    pub default_statement: StatementNumber,
    /// The loaded lists.
    pub lists: Lists,
}

/// The list files (`domains` and `urls` of every declared category) that the rules file at
/// `path` names as it reads now, even when it would not load (a list missing, a rule wrong),
/// so that the helper can watch them; empty when the file cannot be read or parsed.
pub fn list_files(path: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(raw) = raw::parse(&text, path) else {
        return Vec::new();
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let lists_dir = base.join(raw.lists.get_ref());
    raw.categories
        .iter()
        .flat_map(|(key, cat)| {
            let dir = lists_dir.join(cat.folder(key));
            [dir.join("domains"), dir.join("urls")]
        })
        .collect()
}

impl RuleSet {
    /// Reads, checks and compiles `path`, loading the lists it names.
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_toml(&text, path, &base)
    }

    /// Compiles rules text; `path` is used in messages and `base` resolves the lists folder.
    pub fn from_toml(text: &str, path: &Path, base: &Path) -> Result<Self, RulesError> {
        let raw = raw::parse(text, path)?;
        Compiler { text, path }.compile(raw, base)
    }

    /// The statement with this number (every cited number exists: checked at load).
    pub fn statement(&self, n: StatementNumber) -> Option<&Statement> {
        self.statements.get(&n)
    }

    /// The networks `ip` belongs to, as a bit set.
    #[inline]
    pub fn networks_of(&self, ip: IpAddr) -> u64 {
        let mut bits = 0;
        for (i, n) in self.networks.iter().enumerate() {
            if n.cidrs.iter().any(|c| c.contains(ip)) {
                bits |= 1 << i;
            }
        }
        bits
    }

    /// The groups `user` belongs to, as a bit set (names compare case-insensitively).
    #[inline]
    pub fn groups_of(&self, user: Option<&str>) -> u64 {
        let Some(user) = user else { return 0 };
        if user.bytes().any(|b| b.is_ascii_uppercase()) {
            self.members
                .get(&user.to_ascii_lowercase())
                .copied()
                .unwrap_or(0)
        } else {
            self.members.get(user).copied().unwrap_or(0)
        }
    }

    /// Number of domain and URL entries loaded.
    pub fn entry_counts(&self) -> (usize, usize) {
        (self.lists.domains.len(), self.lists.urls.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(rules: &str) -> (tempfile::TempDir, Result<RuleSet, RulesError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lists/social")).unwrap();
        std::fs::write(dir.path().join("lists/social/domains"), "facebook.com\n").unwrap();
        std::fs::create_dir_all(dir.path().join("lists/iwf")).unwrap();
        std::fs::write(dir.path().join("lists/iwf/domains"), "abuse.invalid\n").unwrap();
        let path = dir.path().join("filter.toml");
        std::fs::write(&path, rules).unwrap();
        let r = RuleSet::load(&path);
        (dir, r)
    }

    const GOOD: &str = r#"
lists = "lists"
[statements]
3 = "I will not access facebook."
11 = "Nothing illegal."
[categories.social]
[categories.iwf]
illegal = true
statement = 11
[networks.school]
cidrs = ["10.10.0.0/16"]
[timetable.periods]
break = ["10:30-10:45"]
[[rules]]
name = "no-social"
networks = ["school"]
categories = "social"
action = "deny"
statement = 3
[default]
action = "allow"
statement = 3
"#;

    #[test]
    fn a_good_file_compiles() {
        let (_d, r) = setup(GOOD);
        let r = r.unwrap();
        assert_eq!(r.rules.len(), 1);
        assert_eq!(r.rules[0].line, 14);
        assert_eq!(r.entry_counts(), (2, 0));
    }

    fn error(rules: &str) -> String {
        let (_d, r) = setup(rules);
        r.unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let e = error(&GOOD.replace("action = \"deny\"", "action = \"block\""));
        assert!(
            e.contains("filter.toml:18: rules[0].action: must be \"allow\" or \"deny\""),
            "{e}"
        );
        let e = error(&GOOD.replace("networks = [\"school\"]", "networks = [\"staff\"]"));
        assert!(
            e.contains(":16: rules[0].networks: \"staff\" is not declared"),
            "{e}"
        );
        let e = error(&GOOD.replace("10.10.0.0/16", "10.10.0.0/33"));
        assert!(e.contains(":11: networks.school.cidrs[0]:"), "{e}");
        let e = error(&GOOD.replace("statement = 3\n[default]", "statement = 4\n[default]"));
        assert!(
            e.contains(":19: rules[0].statement: statement 4 is not quoted"),
            "{e}"
        );
        let e = error(&GOOD.replace("break = [\"10:30-10:45\"]", "break = [\"10:45-10:30\"]"));
        assert!(e.contains(":13: timetable.periods.break[0]:"), "{e}");
    }

    #[test]
    fn syntax_and_type_errors_name_the_line_and_the_field() {
        let e = error(&GOOD.replace(
            "statement = 3\n[default]",
            "statement = \"three\"\n[default]",
        ));
        assert!(e.contains(":19: rules[0].statement:"), "{e}");
        let e = error(&GOOD.replace("action = \"deny\"", "actoin = \"deny\""));
        assert!(
            e.contains(":18: rules[0].actoin:") && e.contains("unknown field"),
            "{e}"
        );
        let e = error(&GOOD.replace("[statements]", "[statements"));
        assert!(e.contains(":3:"), "{e}");
    }

    #[test]
    fn an_allow_rule_cannot_open_an_illegal_category() {
        let e = error(&GOOD.replace(
            "categories = \"social\"\naction = \"deny\"",
            "categories = [\"iwf\"]\naction = \"allow\"",
        ));
        assert!(
            e.contains(
                "rules[0].categories: an allow rule cannot name an illegal-content category"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_missing_list_names_the_category_line() {
        let e = error(&GOOD.replace(
            "[categories.social]",
            "[categories.social]\nlist = \"gambling\"",
        ));
        assert!(
            e.contains(":6: categories.social:") && e.contains("no 'domains' or 'urls'"),
            "{e}"
        );
    }
}
