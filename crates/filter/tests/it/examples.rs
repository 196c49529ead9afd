//! `examples/filter.toml` loads, decides the policy's cases, and quotes the policy word for
//! word under the statement numbers the published policy gives.

use std::path::{Path, PathBuf};

use undersign_filter::engine::{PeriodCache, Request};
use undersign_filter::target::Target;
use undersign_filter::{RuleSet, Verdict};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn decide(
    rules: &RuleSet,
    src: &str,
    user: Option<&str>,
    url: &str,
    at: &str,
) -> (Verdict, String, Option<u32>) {
    let target = Target::parse(url.as_bytes()).unwrap();
    let req = Request {
        src: src.parse().unwrap(),
        user,
        target: &target,
    };
    let at = undersign_filter::timetable::parse_instant(at, rules.timetable.zone).unwrap();
    let d = rules.decide(&req, at, &mut PeriodCache::default());
    (
        d.verdict,
        rules.basis_name(d.basis).to_owned(),
        rules.cited(&d).map(|s| s.number.get()),
    )
}

#[test]
fn the_example_rules_enforce_the_policy() {
    let rules = RuleSet::load(&root().join("examples/filter.toml")).unwrap();
    let monday_break = "2026-11-23 10:35";
    let monday_lesson = "2026-11-23 14:00";
    let school = "10.10.4.7";
    let personal = "10.20.1.9";
    let guest = "10.30.0.5";

    let d = decide(
        &rules,
        school,
        None,
        "https://www.facebook.com/",
        monday_break,
    );
    assert_eq!(
        d,
        (
            Verdict::Deny,
            "no-social-networking-on-school-computers".into(),
            Some(3)
        )
    );
    let d = decide(&rules, personal, None, "www.facebook.com:443", monday_break);
    assert_eq!(
        d,
        (
            Verdict::Allow,
            "social-networking-on-personal-devices-at-break".into(),
            Some(3)
        )
    );
    let d = decide(&rules, guest, None, "http://instagram.com/", monday_lesson);
    assert_eq!(
        d,
        (
            Verdict::Deny,
            "no-social-networking-on-personal-devices-outside-break".into(),
            Some(3)
        )
    );
    // An INSET day has no break times.
    let d = decide(
        &rules,
        personal,
        None,
        "http://facebook.com/",
        "2026-11-02 10:35",
    );
    assert_eq!(d.0, Verdict::Deny);
    // Summer time: 10:35 BST is break.
    let d = decide(
        &rules,
        personal,
        None,
        "http://facebook.com/",
        "2027-04-12T09:35:00Z",
    );
    assert_eq!(d.0, Verdict::Allow);
    // The comms team may run the school's accounts from school computers.
    let d = decide(
        &rules,
        school,
        Some("A.West"),
        "http://www.facebook.com/",
        monday_lesson,
    );
    assert_eq!(
        d,
        (
            Verdict::Allow,
            "agreed-school-social-media".into(),
            Some(30)
        )
    );
    // Offensive and illegal content is denied everywhere, whoever asks.
    let d = decide(&rules, personal, None, "http://pornhub.com/", monday_break);
    assert_eq!(
        d,
        (
            Verdict::Deny,
            "offensive-or-discriminatory".into(),
            Some(11)
        )
    );
    let d = decide(
        &rules,
        school,
        Some("a.west"),
        "http://www.reddit.com/r/nsfw/x",
        monday_break,
    );
    assert_eq!(
        d,
        (
            Verdict::Deny,
            "offensive-or-discriminatory".into(),
            Some(11)
        )
    );
    let d = decide(
        &rules,
        "192.168.1.1",
        None,
        "http://illegal-content-test.invalid/",
        monday_break,
    );
    assert_eq!(d, (Verdict::Deny, "illegal-content".into(), Some(11)));
    let d = decide(
        &rules,
        school,
        None,
        "http://example.invalid/illegal-content-test/1.jpg",
        monday_break,
    );
    assert_eq!(d, (Verdict::Deny, "illegal-content".into(), Some(11)));
    let d = decide(
        &rules,
        school,
        None,
        "https://thepiratebay.org/",
        monday_break,
    );
    assert_eq!(d, (Verdict::Deny, "pirated-material".into(), Some(15)));
    let d = decide(
        &rules,
        school,
        None,
        "https://www.bbc.co.uk/bitesize",
        monday_lesson,
    );
    assert_eq!(d, (Verdict::Allow, "default".into(), Some(4)));
}

/// The policy's statements, numbered as the published policy numbers them: every top-level
/// list item, in document order.
fn policy_statements() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("demo/acceptable-use-policy.md")).unwrap();
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(item) = line.strip_prefix("- ") {
            out.extend(current.take());
            current = Some(item.trim().to_owned());
        } else if line.trim().is_empty() || line.starts_with('#') || line.starts_with("**") {
            out.extend(current.take());
        } else if let Some(c) = current.as_mut() {
            c.push(' ');
            c.push_str(line.trim());
        }
    }
    out.extend(current);
    out
}

#[test]
fn the_example_quotes_the_policy_word_for_word_under_its_numbers() {
    let statements = policy_statements();
    assert_eq!(statements.len(), 32, "the AUP has 32 statements");
    let rules = RuleSet::load(&root().join("examples/filter.toml")).unwrap();
    assert!(!rules.statements.is_empty());
    for (n, s) in &rules.statements {
        let published = &statements[n.get() as usize - 1];
        let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            norm(&s.text),
            norm(published),
            "statement {n} differs from the policy"
        );
    }
}
