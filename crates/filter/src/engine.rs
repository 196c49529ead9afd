//! One decision: which categories a request falls in, then illegal content (always denied),
//! then the ordered rules (first match wins), then the default. [`RuleSet::decide`] is the
//! hot path the helper runs; [`RuleSet::explain`] says the same thing in words for
//! `undersign filter check` and the block page.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::category::{CategoryId, CategorySet};
use crate::rules::{Action, RuleSet, Schedule, Statement};
use crate::target::Target;
use crate::timetable::{DayKind, PeriodSet};

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Let it through.
    Allow,
    /// Refuse it.
    Deny,
}

impl From<Action> for Verdict {
    fn from(a: Action) -> Self {
        match a {
            Action::Allow => Self::Allow,
            Action::Deny => Self::Deny,
        }
    }
}

impl Verdict {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// What decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// An illegal-content category: denied before any rule.
    Illegal(CategoryId),
    /// The rule at this index.
    Rule(usize),
    /// No rule matched.
    Default,
}

/// One request, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The client's address.
    pub src: IpAddr,
    /// The proxy user name, if Squid knows one.
    pub user: Option<&'a str>,
    /// The requested URL, parsed.
    pub target: &'a Target,
}

/// A decision, cheap to compute and to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub verdict: Verdict,
    /// What decided it.
    pub basis: Basis,
    /// Every category the request falls in.
    pub categories: CategorySet,
    /// The category that made the deciding rule match (or the first listed one).
    pub category: Option<CategoryId>,
}

/// Remembers the periods in force for the current second, so a busy helper converts the
/// clock to local time once a second rather than once a request.
#[derive(Debug, Default, Clone)]
pub struct PeriodCache {
    second: Option<i64>,
    active: PeriodSet,
}

impl PeriodCache {
    fn get(&mut self, rules: &RuleSet, at: DateTime<Utc>) -> PeriodSet {
        let s = at.timestamp();
        if self.second != Some(s) {
            self.active = rules.timetable.active_periods(at);
            self.second = Some(s);
        }
        self.active
    }
}

impl RuleSet {
    /// Decides `req` at `at`.
    #[inline]
    pub fn decide(
        &self,
        req: &Request<'_>,
        at: DateTime<Utc>,
        cache: &mut PeriodCache,
    ) -> Decision {
        let categories = self.lists.categories(req.target);
        let illegal = categories.intersection(self.illegal);
        if let Some(id) = illegal.iter().next() {
            return Decision {
                verdict: Verdict::Deny,
                basis: Basis::Illegal(id),
                categories,
                category: Some(id),
            };
        }
        let mut networks = None;
        let mut groups = None;
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(want) = rule.categories
                && !want.intersects(categories)
            {
                continue;
            }
            if let Some(want) = rule.networks
                && want & *networks.get_or_insert_with(|| self.networks_of(req.src)) == 0
            {
                continue;
            }
            if let Some(want) = rule.groups
                && want & *groups.get_or_insert_with(|| self.groups_of(req.user)) == 0
            {
                continue;
            }
            if let Some(schedule) = rule.schedule {
                let active = cache.get(self, at);
                let applies = match schedule {
                    Schedule::During(p) => p.intersects(active),
                    Schedule::Outside(p) => !p.intersects(active),
                };
                if !applies {
                    continue;
                }
            }
            let category = rule
                .categories
                .map_or(categories, |want| want.intersection(categories))
                .iter()
                .next();
            return Decision {
                verdict: rule.action.into(),
                basis: Basis::Rule(i),
                categories,
                category,
            };
        }
        Decision {
            verdict: self.default_action.into(),
            basis: Basis::Default,
            categories,
            category: categories.iter().next(),
        }
    }

    /// The name shown in logs for what decided: a rule's name, `illegal-content` or `default`.
    pub fn basis_name(&self, basis: Basis) -> &str {
        match basis {
            Basis::Illegal(_) => "illegal-content",
            Basis::Rule(i) => self.rules.get(i).map_or("default", |r| r.name.as_str()),
            Basis::Default => "default",
        }
    }

    /// The statement a decision cites.
    pub fn cited(&self, d: &Decision) -> Option<&Statement> {
        let n = match d.basis {
            Basis::Illegal(id) => self.categories.get(id.index()).and_then(|c| c.illegal)?,
            Basis::Rule(i) => self.rules.get(i)?.statement,
            Basis::Default => self.default_statement,
        };
        self.statement(n)
    }

    /// A category's name.
    pub fn category_name(&self, id: CategoryId) -> &str {
        self.categories
            .get(id.index())
            .map_or("?", |c| c.name.as_str())
    }

    /// The decision for `req` at `at`, with the reasons spelled out.
    pub fn explain(&self, req: &Request<'_>, url: &str, at: DateTime<Utc>) -> Explanation {
        let d = self.decide(req, at, &mut PeriodCache::default());
        let moment = self.timetable.moment(at);
        let mut matched = Vec::new();
        self.lists
            .domains
            .for_each_match(req.target.host(), |entry, set| {
                for id in set.iter() {
                    matched.push(Match {
                        category: self.category_name(id).to_owned(),
                        list: "domains",
                        entry: String::from_utf8_lossy(entry).into_owned(),
                    });
                }
            });
        for (host, path) in req.target.url_keys() {
            self.lists.urls.for_each_match(host, path, |entry, set| {
                for id in set.iter() {
                    let text = format!(
                        "{}{}",
                        String::from_utf8_lossy(host),
                        String::from_utf8_lossy(entry)
                    );
                    if !matched.iter().any(|m| {
                        m.list == "urls" && m.entry == text && m.category == self.category_name(id)
                    }) {
                        matched.push(Match {
                            category: self.category_name(id).to_owned(),
                            list: "urls",
                            entry: text,
                        });
                    }
                }
            });
        }
        let nets = self.networks_of(req.src);
        let networks: Vec<String> = self
            .networks
            .iter()
            .enumerate()
            .filter(|(i, _)| nets & 1 << i != 0)
            .map(|(_, n)| n.name.clone())
            .collect();
        let grp = self.groups_of(req.user);
        let groups: Vec<String> = self
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| grp & 1 << i != 0)
            .map(|(_, g)| g.name.clone())
            .collect();
        let periods: Vec<String> = self
            .timetable
            .periods
            .iter()
            .enumerate()
            .filter(|(i, _)| moment.active.0 & 1 << i != 0)
            .map(|(_, p)| p.name.clone())
            .collect();
        let day = match &moment.day {
            DayKind::SchoolDay { term: Some(t) } => format!("a school day ({t})"),
            DayKind::SchoolDay { term: None } => String::from("a school day"),
            DayKind::Weekend => String::from("not a school weekday"),
            DayKind::Holiday => String::from("a holiday (outside term)"),
            DayKind::Closed { reason } => format!("a closure day ({reason})"),
        };
        let host = String::from_utf8_lossy(req.target.host()).into_owned();

        let mut why = Vec::new();
        if matched.is_empty() {
            why.push(format!("{host} is not in any category list"));
        } else {
            for m in &matched {
                why.push(format!(
                    "{host} matches {:?} in {}/{}",
                    m.entry, m.category, m.list
                ));
            }
        }
        why.push(if networks.is_empty() {
            format!("{} is in no declared network", req.src)
        } else {
            format!("{} is in network {}", req.src, networks.join(", "))
        });
        if let Some(u) = req.user {
            why.push(if groups.is_empty() {
                format!("user {u} is in no declared group")
            } else {
                format!("user {u} is in group {}", groups.join(", "))
            });
        }
        why.push(format!(
            "the time is {}, {}; periods in force: {}",
            moment.local,
            day,
            if periods.is_empty() {
                String::from("none")
            } else {
                periods.join(", ")
            }
        ));

        let rule = match d.basis {
            Basis::Rule(i) => self.rules.get(i).map(|r| {
                let mut conditions = Vec::new();
                if r.networks.is_some() {
                    conditions.push(format!(
                        "network {}",
                        names_of(r.networks, &self.networks, |n| &n.name)
                    ));
                }
                if r.groups.is_some() {
                    conditions.push(format!(
                        "group {}",
                        names_of(r.groups, &self.groups, |g| &g.name)
                    ));
                }
                if let Some(c) = r.categories {
                    let names: Vec<&str> = c.iter().map(|id| self.category_name(id)).collect();
                    conditions.push(format!("category {}", names.join(" or ")));
                }
                match r.schedule {
                    Some(Schedule::During(p)) => {
                        conditions.push(format!("during {}", self.period_names(p)))
                    }
                    Some(Schedule::Outside(p)) => {
                        conditions.push(format!("outside {}", self.period_names(p)))
                    }
                    None => {}
                }
                let when = if conditions.is_empty() {
                    String::from("every request")
                } else {
                    conditions.join(", ")
                };
                why.push(format!(
                    "rule {:?} applies to {when}: {}",
                    r.name,
                    r.action.as_str()
                ));
                if let Some(b) = &r.because {
                    why.push(b.clone());
                }
                RuleRef {
                    name: r.name.clone(),
                    index: i + 1,
                    line: r.line,
                }
            }),
            Basis::Illegal(id) => {
                why.push(format!(
                    "{} is an illegal-content category: always denied, before any rule",
                    self.category_name(id)
                ));
                None
            }
            Basis::Default => {
                why.push(format!(
                    "no rule applies; the default is {}",
                    self.default_action.as_str()
                ));
                None
            }
        };
        let statement = self.cited(&d).cloned();
        Explanation {
            decision: d.verdict,
            basis: self.basis_name(d.basis).to_owned(),
            rule,
            message: statement.as_ref().map(message),
            statement,
            category: d.category.map(|c| self.category_name(c).to_owned()),
            request: RequestView {
                src: req.src.to_string(),
                user: req.user.map(str::to_owned),
                url: url.to_owned(),
                host,
                at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                local_time: moment.local.clone(),
            },
            matched,
            networks,
            groups,
            day,
            periods,
            why,
            rules_file: self.path.display().to_string(),
        }
    }

    fn period_names(&self, p: PeriodSet) -> String {
        let names: Vec<String> = self
            .timetable
            .periods
            .iter()
            .enumerate()
            .filter(|(i, _)| p.0 & 1 << i != 0)
            .map(|(_, per)| {
                let ws: Vec<&str> = per.windows.iter().map(|w| w.as_str()).collect();
                format!("{} ({})", per.name, ws.join(", "))
            })
            .collect();
        names.join(" or ")
    }
}

fn names_of<T>(bits: Option<u64>, items: &[T], name: impl Fn(&T) -> &String) -> String {
    let bits = bits.unwrap_or(0);
    let names: Vec<&str> = items
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & 1 << i != 0)
        .map(|(_, t)| name(t).as_str())
        .collect();
    names.join(" or ")
}

/// The `message=` text for a statement: `AUP statement N: <text>`. The block page receives
/// it as `%o` and may split it at the first `": "`.
pub fn message(s: &Statement) -> String {
    format!("AUP statement {}: {}", s.number, s.text)
}

/// A category list entry that matched.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Match {
    /// The category.
    pub category: String,
    /// `domains` or `urls`.
    pub list: &'static str,
    /// The entry.
    pub entry: String,
}

/// A rule, by name, position (from 1) and line.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRef {
    /// Its name.
    pub name: String,
    /// Its position in the file, from 1.
    pub index: usize,
    /// Its line.
    pub line: usize,
}

/// The request as explained.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    /// Client address.
    pub src: String,
    /// Proxy user.
    pub user: Option<String>,
    /// URL as given.
    pub url: String,
    /// Host looked up.
    pub host: String,
    /// The instant, UTC.
    pub at: String,
    /// The school's local time.
    pub local_time: String,
}

/// A decision in words.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Allow or deny.
    pub decision: Verdict,
    /// Rule name, `illegal-content` or `default`.
    pub basis: String,
    /// The deciding rule.
    pub rule: Option<RuleRef>,
    /// The statement cited.
    pub statement: Option<Statement>,
    /// The `message=` Squid would receive.
    pub message: Option<String>,
    /// The deciding category.
    pub category: Option<String>,
    /// The request.
    pub request: RequestView,
    /// Matching list entries.
    pub matched: Vec<Match>,
    /// The client's networks.
    pub networks: Vec<String>,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The kind of day.
    pub day: String,
    /// Periods in force.
    pub periods: Vec<String>,
    /// The reasons, in order.
    pub why: Vec<String>,
    /// The rules file.
    pub rules_file: String,
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.decision.as_str())?;
        match &self.rule {
            Some(r) => writeln!(
                f,
                "rule: {} (rule {} in {}, line {})",
                r.name, r.index, self.rules_file, r.line
            )?,
            None => writeln!(f, "rule: {}", self.basis)?,
        }
        if let Some(s) = &self.statement {
            writeln!(f, "statement {}: \"{}\"", s.number, s.text)?;
        }
        writeln!(f, "why:")?;
        for w in &self.why {
            writeln!(f, "  - {w}")?;
        }
        Ok(())
    }
}
