//! A parsed line made into a stored request: attributed with the school's register and
//! classified with the same web rules as the helper, at the request's own time.
//!
//! A line in the `undersign` format carries the helper's decision as it was made (rule,
//! category, statement); that is kept as logged. A native line is decided again with the
//! rules loaded now (the lists as they are today, the timetable at the request's time).
//! Either way the request's categories are looked up in the lists, so that a hit in a
//! safeguarding category is found even when another category decided.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use undersign_core::logs::{LogClass, LoggedRequest, Outcome, Register};
use undersign_filter::engine::{Basis, PeriodCache, Request};
use undersign_filter::rules::RuleSet;
use undersign_filter::target::Target;

use crate::line::Line;

/// Classifies lines: the web rules (if the school has them here) and the categories the
/// school counts as safeguarding.
pub struct Classifier {
    rules: Option<RuleSet>,
    /// Lower-case category names.
    safeguarding: HashSet<String>,
    target: Target,
    periods: PeriodCache,
    /// Keep search terms (the school's choice, off by default).
    search_terms: bool,
}

impl Classifier {
    /// `safeguarding` adds to the rules' illegal-content categories, which always count.
    pub fn new(rules: Option<RuleSet>, safeguarding: &[String]) -> Self {
        let mut set: HashSet<String> = safeguarding.iter().map(|c| c.to_lowercase()).collect();
        if let Some(r) = &rules {
            for id in r.illegal.iter() {
                set.insert(r.category_name(id).to_lowercase());
            }
        }
        Self {
            rules,
            safeguarding: set,
            target: Target::default(),
            periods: PeriodCache::default(),
            search_terms: false,
        }
    }

    /// Keeps the search terms of search engines' results pages.
    pub fn with_search_terms(mut self, on: bool) -> Self {
        self.search_terms = on;
        self
    }

    fn is_safeguarding(&self, category: &str) -> bool {
        self.safeguarding.contains(category) || self.safeguarding.contains(&category.to_lowercase())
    }

    /// The request `line` (line `number` of its source) as stored.
    pub fn request(&mut self, number: u64, line: &Line<'_>, register: &Register) -> LoggedRequest {
        let who = register.attribute(line.client, line.user, line.at);
        let parsed = self.target.parse_into(line.url.as_bytes()).is_ok();
        let host = if parsed {
            String::from_utf8_lossy(self.target.host()).into_owned()
        } else {
            String::new()
        };
        let mut rule = line.notes.and_then(|n| n.rule).map(str::to_owned);
        let mut category = line.notes.and_then(|n| n.category).map(str::to_owned);
        let mut statement = line.notes.and_then(|n| n.statement);
        let mut safeguarding_hit = None;
        if let (Some(rules), true) = (&self.rules, parsed) {
            let req = Request {
                src: line.client,
                user: line.user,
                target: &self.target,
            };
            let d = rules.decide(&req, line.at, &mut self.periods);
            if line.notes.is_none() {
                rule = Some(rules.basis_name(d.basis).to_owned());
                category = d.category.map(|c| rules.category_name(c).to_owned());
                statement = rules
                    .cited(&d)
                    .and_then(|s| i32::try_from(s.number.get()).ok());
                if let Basis::Illegal(c) = d.basis {
                    category = Some(rules.category_name(c).to_owned());
                }
            }
            safeguarding_hit = d
                .categories
                .iter()
                .map(|c| rules.category_name(c))
                .find(|c| self.is_safeguarding(c))
                .map(str::to_owned);
        }
        if safeguarding_hit.is_none()
            && let Some(c) = category.as_deref()
            && self.is_safeguarding(c)
        {
            safeguarding_hit = Some(c.to_owned());
        }
        let outcome = if line.denied() {
            Outcome::Denied
        } else {
            Outcome::Allowed
        };
        let class = match (&safeguarding_hit, outcome) {
            (Some(_), _) => LogClass::Safeguarding,
            (None, Outcome::Denied) => LogClass::Blocked,
            (None, Outcome::Allowed) => LogClass::Routine,
        };
        if let Some(hit) = safeguarding_hit {
            // The safeguarding category is the one reports and alerts name.
            category = Some(hit);
        }
        LoggedRequest {
            line: number,
            at: micros(line.at),
            client: line.client,
            proxy_user: line.user.map(str::to_owned),
            method: line.method.to_owned(),
            url: line.url.to_owned(),
            host,
            squid_code: line.squid_code.to_owned(),
            status: line.status,
            bytes: line.bytes,
            elapsed_ms: line.elapsed_ms,
            content_type: line.content_type.map(str::to_owned),
            outcome,
            rule,
            category,
            statement,
            class,
            person: who.person,
            device: who.device,
            via: who.via,
            search: if self.search_terms {
                undersign_core::logs::search_term(line.url)
            } else {
                None
            },
        }
    }
}

fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}
