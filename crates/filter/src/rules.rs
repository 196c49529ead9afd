//! The rules file, `filter.toml`: statements quoted from the AUP, categories (list folders),
//! networks, user groups, the timetable, and ordered rules that each cite a statement.
//! [`RuleSet::load`] reads, checks and compiles it (lists included) or names the line and
//! field at fault. The format is documented in `docs/rules.md`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::category::{CategoryId, CategoryName, CategorySet, MAX_CATEGORIES, parse_name};
use crate::error::RulesError;
use crate::lists::{ListSource, Lists};
use crate::net::Cidr;
use crate::timetable::{DateSpan, Period, PeriodSet, Timetable, Weekdays, Window, parse_date};

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
    /// Categories; index = [`CategoryId`].
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
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            RulesError::Invalid {
                path: path.to_owned(),
                line: line_of(text, span.start),
                field: field_at(text, span.start, e.message()),
                message: e.message().trim().to_owned(),
            }
        })?;
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

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    school: Option<String>,
    lists: Spanned<String>,
    #[serde(default)]
    statements: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    categories: BTreeMap<String, RawCategory>,
    #[serde(default)]
    networks: BTreeMap<String, RawNetwork>,
    #[serde(default)]
    groups: BTreeMap<String, RawGroup>,
    timetable: Option<RawTimetable>,
    #[serde(default)]
    rules: Vec<RawRule>,
    default: RawDefault,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    title: Option<String>,
    list: Option<Spanned<String>>,
    #[serde(default)]
    illegal: bool,
    statement: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    title: Option<String>,
    cidrs: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    title: Option<String>,
    users: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimetable {
    timezone: Option<Spanned<String>>,
    school_days: Option<Spanned<String>>,
    #[serde(default)]
    terms: Vec<RawSpan>,
    #[serde(default)]
    closures: Vec<RawSpan>,
    #[serde(default)]
    periods: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpan {
    name: Option<String>,
    reason: Option<String>,
    date: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
}

/// A name or a list of names (`categories = "adult"` or `categories = ["adult", "hate"]`).
type OneOrMany = toml::Value;

fn names_in(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(vec![s.clone()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    networks: Option<Spanned<OneOrMany>>,
    groups: Option<Spanned<OneOrMany>>,
    categories: Option<Spanned<OneOrMany>>,
    during: Option<Spanned<OneOrMany>>,
    outside: Option<Spanned<OneOrMany>>,
    action: Spanned<String>,
    statement: Spanned<u32>,
    because: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefault {
    action: Spanned<String>,
    statement: Spanned<u32>,
}

// ---- checking and compiling ----

struct Compiler<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Compiler<'_> {
    fn err(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> RulesError {
        RulesError::Invalid {
            path: self.path.to_owned(),
            line: line_of(self.text, span.start),
            field: field.into(),
            message: message.into(),
        }
    }

    fn compile(&self, raw: RawFile, base: &Path) -> Result<RuleSet, RulesError> {
        let lists_dir = base.join(raw.lists.get_ref());
        if raw.lists.get_ref().trim().is_empty() {
            return Err(self.err(
                raw.lists.span(),
                "lists",
                "must name the folder holding the category lists",
            ));
        }

        let mut statements = BTreeMap::new();
        for (key, text) in raw.statements {
            let field = format!("statements.{key}");
            let number = StatementNumber::parse(&key).ok_or_else(|| {
                self.err(
                    text.span(),
                    &field,
                    "statement keys are the statement's number, e.g. 3 = \"…\"",
                )
            })?;
            let body = text.get_ref().trim();
            if body.is_empty() {
                return Err(self.err(text.span(), &field, "the statement's text is empty"));
            }
            statements.insert(
                number,
                Statement {
                    number,
                    text: body.to_owned(),
                },
            );
        }
        let cite = |c: &Self,
                    n: &Spanned<u32>,
                    field: &str|
         -> Result<StatementNumber, RulesError> {
            let number = StatementNumber::parse(&n.get_ref().to_string())
                .ok_or_else(|| c.err(n.span(), field, "statement numbers start at 1"))?;
            if !statements.contains_key(&number) {
                return Err(c.err(
                    n.span(),
                    field,
                    format!("statement {number} is not quoted in [statements]; add `{number} = \"…\"` with its text"),
                ));
            }
            Ok(number)
        };

        if raw.categories.len() > MAX_CATEGORIES {
            return Err(self.err(
                0..0,
                "categories",
                format!("at most {MAX_CATEGORIES} categories"),
            ));
        }
        let mut categories = Vec::new();
        let mut category_ids = HashMap::new();
        let mut illegal = CategorySet::EMPTY;
        let mut sources = Vec::new();
        // Declaration order, so ids (and the order of `category_` notes) follow the file.
        let mut raw_categories: Vec<_> = raw.categories.into_iter().collect();
        raw_categories.sort_by_key(|(k, _)| header_offset(self.text, "categories", k));
        for (i, (key, cat)) in raw_categories.into_iter().enumerate() {
            let span = header_span(self.text, "categories", &key);
            let field = format!("categories.{key}");
            let name = CategoryName::parse(&key)
                .map_err(|e| self.err(span.clone(), &field, e.to_string()))?;
            let folder = cat
                .list
                .as_ref()
                .map_or(key.as_str(), |l| l.get_ref().as_str());
            let statement = match (&cat.statement, cat.illegal) {
                (Some(n), _) => Some(cite(self, n, &format!("{field}.statement"))?),
                (None, true) => {
                    return Err(self.err(
                        span,
                        format!("{field}.statement"),
                        "an illegal-content category must cite the statement it enforces",
                    ));
                }
                (None, false) => None,
            };
            let id = CategoryId::new(i)
                .ok_or_else(|| self.err(span.clone(), &field, "too many categories"))?;
            if cat.illegal {
                illegal.insert(id);
            }
            let dir = lists_dir.join(folder);
            sources.push(ListSource {
                id,
                name: key.clone(),
                dir: dir.clone(),
                must_not_be_empty: cat.illegal,
            });
            category_ids.insert(key.clone(), id);
            categories.push(Category {
                title: cat.title.unwrap_or_else(|| key.clone()),
                name,
                dir,
                illegal: if cat.illegal { statement } else { None },
                line: line_of(self.text, span.start),
            });
        }

        let mut networks = Vec::new();
        let mut network_ids = HashMap::new();
        let mut raw_networks: Vec<_> = raw.networks.into_iter().collect();
        raw_networks.sort_by_key(|(k, _)| header_offset(self.text, "networks", k));
        for (key, net) in raw_networks {
            let field = format!("networks.{key}");
            let span = header_span(self.text, "networks", &key);
            parse_name(&key, "network")
                .map_err(|e| self.err(span.clone(), &field, e.to_string()))?;
            if networks.len() == 64 {
                return Err(self.err(span, &field, "at most 64 networks"));
            }
            if net.cidrs.get_ref().is_empty() {
                return Err(self.err(
                    net.cidrs.span(),
                    format!("{field}.cidrs"),
                    "list at least one address block",
                ));
            }
            let mut cidrs = Vec::new();
            for (j, c) in net.cidrs.get_ref().iter().enumerate() {
                cidrs.push(Cidr::parse(c.get_ref()).map_err(|e| {
                    self.err(c.span(), format!("{field}.cidrs[{j}]"), e.to_string())
                })?);
            }
            network_ids.insert(key.clone(), networks.len());
            networks.push(Network {
                title: net.title.unwrap_or_else(|| key.clone()),
                name: key,
                cidrs,
            });
        }

        let mut groups = Vec::new();
        let mut group_ids = HashMap::new();
        let mut members: HashMap<String, u64> = HashMap::new();
        let mut raw_groups: Vec<_> = raw.groups.into_iter().collect();
        raw_groups.sort_by_key(|(k, _)| header_offset(self.text, "groups", k));
        for (key, group) in raw_groups {
            let field = format!("groups.{key}");
            let span = header_span(self.text, "groups", &key);
            parse_name(&key, "group").map_err(|e| self.err(span.clone(), &field, e.to_string()))?;
            if groups.len() == 64 {
                return Err(self.err(span, &field, "at most 64 groups"));
            }
            let bit = 1u64 << groups.len();
            for (j, u) in group.users.iter().enumerate() {
                let user = u.get_ref().trim();
                if user.is_empty() || user.chars().any(char::is_whitespace) {
                    return Err(self.err(
                        u.span(),
                        format!("{field}.users[{j}]"),
                        "a user name is one word",
                    ));
                }
                *members.entry(user.to_ascii_lowercase()).or_default() |= bit;
            }
            group_ids.insert(key.clone(), groups.len());
            groups.push(Group {
                title: group.title.unwrap_or_else(|| key.clone()),
                name: key,
            });
        }

        let timetable = match raw.timetable {
            None => Timetable::default(),
            Some(t) => self.timetable(t)?,
        };

        let mut rules = Vec::new();
        let mut names = HashSet::new();
        for (i, rule) in raw.rules.into_iter().enumerate() {
            let span = rule_header_span(self.text, rule.name.span().start);
            let field = |f: &str| format!("rules[{i}].{f}");
            let name = rule.name.get_ref().clone();
            parse_name(&name, "rule")
                .map_err(|e| self.err(rule.name.span(), field("name"), e.to_string()))?;
            if name == "default" || name == "illegal-content" {
                return Err(self.err(
                    rule.name.span(),
                    field("name"),
                    format!("{name:?} is reserved"),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(self.err(
                    rule.name.span(),
                    field("name"),
                    format!("another rule is already called {name:?}"),
                ));
            }
            let action = Action::parse(rule.action.get_ref()).ok_or_else(|| {
                self.err(
                    rule.action.span(),
                    field("action"),
                    "must be \"allow\" or \"deny\"",
                )
            })?;
            let statement = cite(self, &rule.statement, &field("statement"))?;
            let pick = |list: Option<Spanned<OneOrMany>>,
                        what: &str,
                        ids: &dyn Fn(&str) -> Option<usize>|
             -> Result<Option<Vec<usize>>, RulesError> {
                let Some(list) = list else { return Ok(None) };
                let span = list.span();
                let items = names_in(list.get_ref()).ok_or_else(|| {
                    self.err(
                        span.clone(),
                        field(what),
                        "must be a name or a list of names",
                    )
                })?;
                if items.is_empty() {
                    return Err(self.err(
                        span,
                        field(what),
                        "an empty list matches nothing; leave the field out to match everything",
                    ));
                }
                let mut out = Vec::new();
                for item in items {
                    match ids(&item) {
                        Some(id) => out.push(id),
                        None => {
                            let section = if what == "during" || what == "outside" {
                                "timetable.periods"
                            } else {
                                what
                            };
                            return Err(self.err(
                                span.clone(),
                                field(what),
                                format!("{item:?} is not declared in [{section}]"),
                            ));
                        }
                    }
                }
                Ok(Some(out))
            };
            let bits =
                |v: Option<Vec<usize>>| v.map(|v| v.into_iter().fold(0u64, |b, i| b | 1 << i));
            let networks_sel = bits(pick(rule.networks, "networks", &|n| {
                network_ids.get(n).copied()
            })?);
            let groups_sel = bits(pick(rule.groups, "groups", &|n| group_ids.get(n).copied())?);
            let cat_span = rule.categories.as_ref().map(Spanned::span);
            let categories_sel = pick(rule.categories, "categories", &|n| {
                category_ids.get(n).map(|c| c.index())
            })?
            .map(|v| {
                v.into_iter()
                    .filter_map(CategoryId::new)
                    .fold(CategorySet::EMPTY, |mut s, c| {
                        s.insert(c);
                        s
                    })
            });
            if action == Action::Allow
                && let Some(c) = categories_sel
                && c.intersects(illegal)
            {
                return Err(self.err(
                    cat_span.unwrap_or(span.clone()),
                    field("categories"),
                    "an allow rule cannot name an illegal-content category: those are always denied",
                ));
            }
            let period_ids = |n: &str| timetable.periods.iter().position(|p| p.name == n);
            let during = pick(rule.during, "during", &period_ids)?;
            let outside = pick(rule.outside, "outside", &period_ids)?;
            let schedule = match (during, outside) {
                (Some(_), Some(_)) => {
                    return Err(self.err(
                        span,
                        field("during"),
                        "use either `during` or `outside`, not both",
                    ));
                }
                (Some(d), None) => Some(Schedule::During(PeriodSet(bits(Some(d)).unwrap_or(0)))),
                (None, Some(o)) => Some(Schedule::Outside(PeriodSet(bits(Some(o)).unwrap_or(0)))),
                (None, None) => None,
            };
            rules.push(Rule {
                name,
                line: line_of(self.text, span.start),
                networks: networks_sel,
                groups: groups_sel,
                categories: categories_sel,
                schedule,
                action,
                statement,
                because: rule.because,
            });
        }

        let default = raw.default;
        let default_action = Action::parse(default.action.get_ref()).ok_or_else(|| {
            self.err(
                default.action.span(),
                "default.action",
                "must be \"allow\" or \"deny\"",
            )
        })?;
        let default_statement = cite(self, &default.statement, "default.statement")?;

        let lists = Lists::load(&sources).map_err(|source| {
            let (category, line) = match &source {
                crate::error::ListError::Missing { category, .. }
                | crate::error::ListError::Read { category, .. }
                | crate::error::ListError::Index { category, .. }
                | crate::error::ListError::EmptyIllegal { category, .. } => {
                    let line = categories
                        .iter()
                        .find(|c| c.name.as_str() == category)
                        .map_or(1, |c| c.line);
                    (category.clone(), line)
                }
            };
            RulesError::List {
                path: self.path.to_owned(),
                line,
                category,
                source,
            }
        })?;

        Ok(RuleSet {
            path: self.path.to_owned(),
            school: raw.school,
            statements,
            categories,
            illegal,
            networks,
            groups,
            members,
            timetable,
            rules,
            default_action,
            default_statement,
            lists,
        })
    }

    fn timetable(&self, t: RawTimetable) -> Result<Timetable, RulesError> {
        let mut out = Timetable::default();
        if let Some(z) = &t.timezone {
            out.zone = z.get_ref().parse::<Tz>().map_err(|_| {
                self.err(
                    z.span(),
                    "timetable.timezone",
                    format!(
                        "{:?} is not an IANA time zone such as Europe/London",
                        z.get_ref()
                    ),
                )
            })?;
        }
        if let Some(d) = &t.school_days {
            out.school_days = Weekdays::parse(d.get_ref())
                .map_err(|e| self.err(d.span(), "timetable.school_days", e.to_string()))?;
        }
        for (what, spans, target) in [
            ("terms", t.terms, &mut out.terms),
            ("closures", t.closures, &mut out.closures),
        ] {
            for (i, s) in spans.into_iter().enumerate() {
                let field = format!("timetable.{what}[{i}]");
                let span = [&s.date, &s.from, &s.to]
                    .into_iter()
                    .flatten()
                    .next()
                    .map_or(0..0, Spanned::span);
                let date = |d: &Spanned<String>, f: &str| {
                    parse_date(d.get_ref())
                        .map_err(|e| self.err(d.span(), format!("{field}.{f}"), e.to_string()))
                };
                let (first, last) = match (&s.date, &s.from, &s.to) {
                    (Some(d), None, None) => {
                        let d = date(d, "date")?;
                        (d, d)
                    }
                    (None, Some(f), Some(t)) => (date(f, "from")?, date(t, "to")?),
                    _ => {
                        return Err(self.err(
                            span,
                            field,
                            "give either `date = \"YYYY-MM-DD\"` or both `from` and `to`",
                        ));
                    }
                };
                if last < first {
                    return Err(self.err(span, format!("{field}.to"), "ends before it starts"));
                }
                let name = s
                    .name
                    .or(s.reason)
                    .unwrap_or_else(|| what.trim_end_matches('s').to_owned());
                target.push(DateSpan { name, first, last });
            }
        }
        let mut periods: Vec<_> = t.periods.into_iter().collect();
        periods.sort_by_key(|(_, p)| p.span().start);
        for (name, windows) in periods {
            let field = format!("timetable.periods.{name}");
            parse_name(&name, "period")
                .map_err(|e| self.err(windows.span(), &field, e.to_string()))?;
            if out.periods.len() == 64 {
                return Err(self.err(windows.span(), &field, "at most 64 periods"));
            }
            if windows.get_ref().is_empty() {
                return Err(self.err(
                    windows.span(),
                    &field,
                    "a period needs at least one window, e.g. \"10:30-10:45\"",
                ));
            }
            let mut ws = Vec::new();
            for (j, w) in windows.get_ref().iter().enumerate() {
                ws.push(
                    Window::parse(w.get_ref())
                        .map_err(|e| self.err(w.span(), format!("{field}[{j}]"), e.to_string()))?,
                );
            }
            out.periods.push(Period { name, windows: ws });
        }
        Ok(out)
    }
}

/// Where the table `[section.key]` (or `[section."key"]`) starts, or the end of the text.
fn header_offset(text: &str, section: &str, key: &str) -> usize {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|h| h.split(']').next()) {
            let h: String = h
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '"')
                .collect();
            if h == format!("{section}.{key}") {
                return offset;
            }
        }
        offset += line.len();
    }
    // Declared inline (`section = { key = … }`): order by where the key first appears.
    text.find(&format!("{key} "))
        .or_else(|| text.find(key))
        .unwrap_or(text.len())
}

fn header_span(text: &str, section: &str, key: &str) -> Range<usize> {
    let o = header_offset(text, section, key);
    o..o
}

/// The `[[rules]]` header before `offset` (a rule's `name`), for the rule's line.
fn rule_header_span(text: &str, offset: usize) -> Range<usize> {
    let o = text[..offset.min(text.len())]
        .rfind("[[rules]]")
        .unwrap_or(offset);
    o..o
}

/// 1-based line of byte `offset`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Names the field at `offset` for a parse error: the enclosing table header plus the key on
/// that line (`rules[2].action`), or a key quoted in the message (`unknown field \`x\``).
fn field_at(text: &str, offset: usize, message: &str) -> String {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim();
    let mut table = String::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for l in text[..line_start].lines() {
        let l = l.trim();
        if let Some(h) = l.strip_prefix("[[").and_then(|h| h.split("]]").next()) {
            let h = h.trim().to_owned();
            let n = counts.entry(h.clone()).or_insert(0);
            table = format!("{h}[{n}]");
            *n += 1;
        } else if let Some(h) = l.strip_prefix('[').and_then(|h| h.split(']').next()) {
            table = h.trim().to_owned();
        }
    }
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field `"));
    let key = if line.starts_with('[') {
        None
    } else {
        line.split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_owned())
    };
    let key = quoted.map(str::to_owned).or(key);
    match (table.is_empty(), key) {
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{table}.{k}"),
        (false, None) => table,
        (true, None) => String::from("(file)"),
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
