//! Checking the raw rules file and compiling it into a [`RuleSet`]: names resolved to bit
//! sets, lists loaded, the timetable built, and every mistake named by its line and field.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use chrono_tz::Tz;
use toml::Spanned;

use crate::category::{CategoryId, CategoryName, CategorySet, MAX_CATEGORIES, parse_name};
use crate::error::RulesError;
use crate::lists::{ListSource, Lists};
use crate::net::Cidr;
use crate::timetable::{DateSpan, Period, PeriodSet, Timetable, Weekdays, Window, parse_date};

use super::raw::{OneOrMany, RawFile, RawTimetable, line_of, names_in};
use super::{
    Action, Category, Group, Network, Rule, RuleSet, Schedule, Statement, StatementNumber,
};

pub(super) struct Compiler<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
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

    pub(super) fn compile(&self, raw: RawFile, base: &Path) -> Result<RuleSet, RulesError> {
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
            let folder = cat.folder(&key);
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
