//! A parsed line made into a stored request: attributed with the school's register and
//! classified with the same web rules as the helper, at the request's own time.
//!
//! A line in the `undersign` format carries the helper's decision as it was made (rule,
//! category, statement); that is kept as logged. A native line is decided again with the
//! rules loaded now (the lists as they are today, the timetable at the request's time).
//! Either way the request's categories are looked up in the lists, so that a hit in a
//! safeguarding category is found even when another category decided.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use undersign_core::logs::{LogClass, LoggedRequest, NewRequest, Outcome, Register};
use undersign_filter::engine::{Basis, PeriodCache, Request};
use undersign_filter::rules::RuleSet;
use undersign_filter::target::Target;

use crate::line::Line;

/// Classifies lines: the web rules (if the school has them here) and the categories the
/// school counts as safeguarding.
pub struct Classifier {
    rules: Option<Arc<RuleSet>>,
    /// Lower-case category names.
    safeguarding: Arc<HashSet<String>>,
    target: Target,
    periods: PeriodCache,
    /// Keep search terms (the school's choice, off by default).
    search_terms: bool,
    /// The last request's search term, and its host when that is not UTF-8 (shown
    /// with replacement characters).
    search: Option<String>,
    host: String,
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
            rules: rules.map(Arc::new),
            safeguarding: Arc::new(set),
            target: Target::default(),
            periods: PeriodCache::default(),
            search_terms: false,
            search: None,
            host: String::new(),
        }
    }

    /// Another classifier with the same rules, for another thread.
    pub fn worker(&self) -> Self {
        Self {
            rules: self.rules.clone(),
            safeguarding: Arc::clone(&self.safeguarding),
            target: Target::default(),
            periods: PeriodCache::default(),
            search_terms: self.search_terms,
            search: None,
            host: String::new(),
        }
    }

    /// Keeps the search terms of search engines' results pages.
    pub fn with_search_terms(mut self, on: bool) -> Self {
        self.search_terms = on;
        self
    }

    /// The request `line` (line `number` of its source) as stored.
    pub fn request(&mut self, number: u64, line: &Line<'_>, register: &Register) -> LoggedRequest {
        self.classify(number, line, register).logged()
    }

    /// The request `line` (line `number` of its source) as stored, borrowing its text from
    /// the line and from the classifier.
    pub fn classify<'a>(
        &'a mut self,
        number: u64,
        line: &Line<'a>,
        register: &Register,
    ) -> NewRequest<'a> {
        let who = register.attribute(line.client, line.user, line.at);
        let parsed = self.target.parse_into(line.url.as_bytes()).is_ok();
        let mut rule = line.notes.and_then(|n| n.rule);
        let mut category = line.notes.and_then(|n| n.category);
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
                rule = Some(rules.basis_name(d.basis));
                category = d.category.map(|c| rules.category_name(c));
                statement = rules
                    .cited(&d)
                    .and_then(|s| i32::try_from(s.number.get()).ok());
                if let Basis::Illegal(c) = d.basis {
                    category = Some(rules.category_name(c));
                }
            }
            safeguarding_hit = d
                .categories
                .iter()
                .map(|c| rules.category_name(c))
                .find(|c| is_safeguarding(&self.safeguarding, c));
        }
        if safeguarding_hit.is_none()
            && let Some(c) = category
            && is_safeguarding(&self.safeguarding, c)
        {
            safeguarding_hit = Some(c);
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
        self.search = if self.search_terms {
            undersign_core::logs::search_term(line.url)
        } else {
            None
        };
        let host_is_text = std::str::from_utf8(self.target.host()).is_ok();
        if parsed && !host_is_text {
            self.host = String::from_utf8_lossy(self.target.host()).into_owned();
        }
        let host = match (parsed, host_is_text) {
            (false, _) => "",
            (true, true) => std::str::from_utf8(self.target.host()).unwrap_or_default(),
            (true, false) => &self.host,
        };
        NewRequest {
            line: number,
            at: micros(line.at),
            client: line.client,
            proxy_user: line.user,
            method: line.method,
            url: line.url,
            host,
            squid_code: line.squid_code,
            status: line.status,
            bytes: line.bytes,
            elapsed_ms: line.elapsed_ms,
            content_type: line.content_type,
            outcome,
            rule,
            category,
            statement,
            class,
            person: who.person,
            device: who.device,
            via: who.via,
            search: self.search.as_deref(),
        }
    }
}

fn is_safeguarding(set: &HashSet<String>, category: &str) -> bool {
    set.contains(category) || set.contains(&category.to_lowercase())
}

fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}
