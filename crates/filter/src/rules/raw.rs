//! The rules file as written: the serde shapes of `filter.toml`, read with the spans that
//! messages point at, and a syntax error located by its line and field.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::error::RulesError;

/// Reads the text into its raw shapes, or names the line and field a syntax error is at.
pub(super) fn parse(text: &str, path: &Path) -> Result<RawFile, RulesError> {
    toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        RulesError::Invalid {
            path: path.to_owned(),
            line: line_of(text, span.start),
            field: field_at(text, span.start, e.message()),
            message: e.message().trim().to_owned(),
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) school: Option<String>,
    pub(super) lists: Spanned<String>,
    #[serde(default)]
    pub(super) statements: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) categories: BTreeMap<String, RawCategory>,
    #[serde(default)]
    pub(super) networks: BTreeMap<String, RawNetwork>,
    #[serde(default)]
    pub(super) groups: BTreeMap<String, RawGroup>,
    pub(super) timetable: Option<RawTimetable>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    pub(super) default: RawDefault,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCategory {
    pub(super) title: Option<String>,
    pub(super) list: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) illegal: bool,
    pub(super) statement: Option<Spanned<u32>>,
}

impl RawCategory {
    /// The folder under `lists` holding this category's files (`list`, or its name `key`).
    pub(super) fn folder<'a>(&'a self, key: &'a str) -> &'a str {
        self.list.as_ref().map_or(key, |l| l.get_ref().as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub(super) title: Option<String>,
    pub(super) cidrs: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub(super) title: Option<String>,
    pub(super) users: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimetable {
    pub(super) timezone: Option<Spanned<String>>,
    pub(super) school_days: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) terms: Vec<RawSpan>,
    #[serde(default)]
    pub(super) closures: Vec<RawSpan>,
    #[serde(default)]
    pub(super) periods: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpan {
    pub(super) name: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) date: Option<Spanned<String>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) to: Option<Spanned<String>>,
}

/// A name or a list of names (`categories = "adult"` or `categories = ["adult", "hate"]`).
pub(super) type OneOrMany = toml::Value;

pub(super) fn names_in(value: &toml::Value) -> Option<Vec<String>> {
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
pub(super) struct RawRule {
    pub(super) name: Spanned<String>,
    pub(super) networks: Option<Spanned<OneOrMany>>,
    pub(super) groups: Option<Spanned<OneOrMany>>,
    pub(super) categories: Option<Spanned<OneOrMany>>,
    pub(super) during: Option<Spanned<OneOrMany>>,
    pub(super) outside: Option<Spanned<OneOrMany>>,
    pub(super) action: Spanned<String>,
    pub(super) statement: Spanned<u32>,
    pub(super) because: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefault {
    pub(super) action: Spanned<String>,
    pub(super) statement: Spanned<u32>,
}

/// 1-based line of byte `offset`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
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
