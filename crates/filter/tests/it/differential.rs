//! Differential test against squidGuard (Debian's `squidguard` package): the same generated
//! lists, an equivalent rule set, and well over 100,000 generated requests (listed domains,
//! subdomains, near-misses, URL entries, mixed case, ports, credentials, escapes, CONNECT),
//! each answered by squidGuard through its redirector protocol and by the helper through
//! Squid's external ACL protocol. Decisions and the deciding category must agree.
//!
//! The intended differences that occur here (docs/rules.md, "Differences from squidGuard"):
//! squidGuard 1.6 misses a listed parent such as `amex.com` for `www.amex.com` once the same
//! category also lists a subdomain of it such as `aaa.amex.com` (and likewise for URL entries
//! that are prefixes of other entries), which UT1's lists do all the time; its lookup takes
//! some look-alike hosts for listed ones (`amex.com.a`); and it misses a URL entry with a
//! `www.` label when the request names a port. The helper gives the plain meaning of the
//! lists in each case. The test models squidGuard's lookup and requires the model to
//! reproduce squidGuard's answer for *every* request, and accepts a disagreement only when the
//! helper's answer is the plain meaning of the lists.
//!
//! The requests include escaped escapes (`%2576`, `%252f` in paths), which squidGuard
//! unescapes once: a helper that unescaped Squid's value and then the URL again would block
//! them where squidGuard does not. The helper lines are escaped the way Squid 5.7 escapes
//! them (`%` left alone), as the real-Squid test sees.
//!
//! Needs `squidGuard`; without it the test fails when `CI` is set and is skipped otherwise.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use undersign_filter::helper::{Clock, Loaded, Shared, serve};
use undersign_filter::lists;
use undersign_filter::synth;
use undersign_filter::target::Target;

const CATEGORIES: usize = 24;
const REQUESTS: usize = 120_000;
const SCHOOL: &str = "10.10.0.5";
const OTHER: &str = "10.99.0.7";

fn squidguard() -> Option<PathBuf> {
    [
        "/usr/bin/squidGuard",
        "/usr/sbin/squidGuard",
        "/usr/local/bin/squidGuard",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// squidGuard's reading of a request: the configured acl, then `pass !catNN …` in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Blocked(usize),
}

/// squidGuard's domain-list order: strings compared from their last character backwards,
/// with `.` sorting first, a suffix before the longer string.
fn domain_order(a: &[u8], b: &[u8]) -> Ordering {
    let map = |c: u8| if c == b'.' { 1 } else { c };
    a.iter()
        .rev()
        .map(|c| map(*c))
        .cmp(b.iter().rev().map(|c| map(*c)))
}

/// squidGuard 1.6's observed lookup, per category: it finds the deepest listed entry that is
/// the host or a parent of it, and reports a hit only if the host *is* that entry or no other
/// entry of the category is nested below it (so `amex.com` is missed for `www.amex.com` once
/// `aaa.amex.com` is listed too). URL entries behave the same way with string prefixes.
/// Established by probing the Debian binary; the test checks the model against every answer.
struct Model {
    domains: Vec<HashSet<Vec<u8>>>,
    nested_domains: Vec<HashSet<Vec<u8>>>,
    urls: Vec<HashSet<Vec<u8>>>,
    nested_urls: Vec<HashSet<Vec<u8>>>,
    /// `.domain` keys in squidGuard's domain order (compared from the last character, `.`
    /// first), for its second defect: the key the cursor lands on is also taken as a hit when
    /// it is a plain string prefix of `.host` (so `amex.com` blocks `amex.com.evil.net`).
    sorted_domains: Vec<Vec<Vec<u8>>>,
    /// Plain per-category entry lists, for the brute-force meaning.
    domain_list: Vec<Vec<Vec<u8>>>,
    url_list: Vec<Vec<Vec<u8>>>,
}

impl Model {
    fn new(lists: &synth::Lists) -> Self {
        let domain_list: Vec<Vec<Vec<u8>>> = lists
            .domains
            .iter()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| e.to_ascii_lowercase().into_bytes())
                    .collect()
            })
            .collect();
        let url_list: Vec<Vec<Vec<u8>>> = lists
            .urls
            .iter()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| lists::strip_url_entry(e.to_ascii_lowercase().as_bytes()))
                    .collect()
            })
            .collect();
        let domains: Vec<HashSet<Vec<u8>>> = domain_list
            .iter()
            .map(|l| l.iter().cloned().collect())
            .collect();
        let urls: Vec<HashSet<Vec<u8>>> = url_list
            .iter()
            .map(|l| l.iter().cloned().collect())
            .collect();
        let nested_domains = domains
            .iter()
            .map(|set| {
                let mut nested = HashSet::new();
                for e in set {
                    for (i, b) in e.iter().enumerate() {
                        if *b == b'.' && set.contains(&e[i + 1..]) {
                            nested.insert(e[i + 1..].to_vec());
                        }
                    }
                }
                nested
            })
            .collect();
        let nested_urls = urls
            .iter()
            .map(|set| {
                let mut nested = HashSet::new();
                for e in set {
                    for n in 1..e.len() {
                        if set.contains(&e[..n]) {
                            nested.insert(e[..n].to_vec());
                        }
                    }
                }
                nested
            })
            .collect();
        let sorted_domains = domain_list
            .iter()
            .map(|l| {
                let mut keys: Vec<Vec<u8>> =
                    l.iter().map(|e| [b".", e.as_slice()].concat()).collect();
                keys.sort_by(|a, b| domain_order(a, b));
                keys.dedup();
                keys
            })
            .collect();
        Self {
            domains,
            nested_domains,
            urls,
            nested_urls,
            sorted_domains,
            domain_list,
            url_list,
        }
    }

    fn domain_hit(&self, c: usize, host: &[u8]) -> bool {
        let req = [b".", host].concat();
        let keys = &self.sorted_domains[c];
        let pos = keys.partition_point(|k| domain_order(k, &req) == Ordering::Less);
        if keys.get(pos).is_some_and(|k| req.starts_with(k)) {
            return true;
        }
        let deepest = std::iter::once(0)
            .chain(
                host.iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'.')
                    .map(|(i, _)| i + 1),
            )
            .map(|i| &host[i..])
            .find(|suffix| self.domains[c].contains(*suffix));
        deepest.is_some_and(|d| d == host || !self.nested_domains[c].contains(d))
    }

    fn url_hit(&self, c: usize, url: &[u8]) -> bool {
        let deepest = (1..=url.len())
            .rev()
            .map(|n| &url[..n])
            .find(|p| self.urls[c].contains(*p));
        deepest.is_some_and(|d| d == url || !self.nested_urls[c].contains(d))
    }

    /// The plain meaning, by brute force over every entry: a domain entry matches itself and
    /// its subdomains, a URL entry matches URLs it is a prefix of (on the same host).
    fn truth(&self, target: &Target, pass: &[usize]) -> Outcome {
        let host = target.host();
        for &c in pass {
            let url_hit = target.url_keys().any(|(h, p)| {
                self.url_list[c].iter().any(|k| {
                    let (kh, kp) = k.split_at(k.iter().position(|b| *b == b'/').unwrap_or(k.len()));
                    h == kh && p.starts_with(kp)
                })
            });
            let domain_hit = self.domain_list[c].iter().any(|k| {
                host == k.as_slice()
                    || host.ends_with(k) && host[..host.len() - k.len()].ends_with(b".")
            });
            if domain_hit || url_hit {
                return Outcome::Blocked(c);
            }
        }
        Outcome::Pass
    }

    fn decide(&self, target: &Target, pass: &[usize]) -> Outcome {
        let keys = squidguard_url_keys(target);
        for &c in pass {
            let url_hit = keys.iter().any(|k| self.url_hit(c, k));
            if self.domain_hit(c, target.host()) || url_hit {
                return Outcome::Blocked(c);
            }
        }
        Outcome::Pass
    }
}

/// squidGuard's URL keys: the URL without its `www`-style label and port, then (when it
/// differs) the URL with the label *and the port* kept, so a `www.` entry is missed when the
/// request names a port.
fn squidguard_url_keys(target: &Target) -> Vec<Vec<u8>> {
    let stripped = target
        .url_keys()
        .next()
        .map(|(h, p)| [h, p].concat())
        .unwrap_or_default();
    let mut full = target.host().to_vec();
    if let Some(port) = target.port() {
        full.extend_from_slice(format!(":{port}").as_bytes());
    }
    full.extend_from_slice(target.path());
    if full == stripped {
        vec![stripped]
    } else {
        vec![stripped, full]
    }
}

fn run_squidguard(
    bin: &Path,
    dir: &Path,
    requests: &[synth::Request],
    names: &[String],
) -> Vec<Outcome> {
    let input_path = dir.join("sg-input");
    let mut input = std::io::BufWriter::new(std::fs::File::create(&input_path).unwrap());
    for r in requests {
        input.write_all(r.squidguard_line().as_bytes()).unwrap();
    }
    input.flush().unwrap();
    drop(input);
    let out = Command::new(bin)
        .arg("-c")
        .arg(dir.join("squidGuard.conf"))
        .stdin(std::fs::File::open(&input_path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "squidGuard failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .map(|l| {
            if l.starts_with("ERR") {
                Outcome::Pass
            } else {
                let c = l
                    .split("?c=")
                    .nth(1)
                    .and_then(|r| r.split('&').next())
                    .unwrap_or_else(|| panic!("{l}"));
                let c = c.trim_end_matches('"');
                Outcome::Blocked(
                    names
                        .iter()
                        .position(|n| n == c)
                        .unwrap_or_else(|| panic!("category {c} in {l}")),
                )
            }
        })
        .collect()
}

fn run_helper(dir: &Path, requests: &[synth::Request], names: &[String]) -> Vec<Outcome> {
    let shared = Shared::new(Some(Loaded::load(&dir.join("filter.toml")).unwrap()));
    let mut input = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        input.extend_from_slice(r.helper_line(i).as_bytes());
    }
    let mut out = Vec::new();
    serve(&input[..], &mut out, &shared, Clock::System).unwrap();
    let text = String::from_utf8(out).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let (channel, rest) = l.split_once(' ').unwrap();
            assert_eq!(channel, i.to_string(), "replies out of step at {l}");
            if rest.starts_with("OK") {
                Outcome::Pass
            } else {
                assert!(rest.starts_with("ERR"), "{l}");
                let c = l.rsplit("category_=").next().unwrap();
                Outcome::Blocked(
                    names
                        .iter()
                        .position(|n| n == c)
                        .unwrap_or_else(|| panic!("{l}")),
                )
            }
        })
        .collect()
}

#[test]
fn decisions_agree_with_squidguard_on_generated_lists_and_requests() {
    let Some(bin) = squidguard() else {
        if std::env::var_os("CI").is_some() {
            panic!("squidGuard is not installed but CI is set: apt-get install -y squidguard");
        }
        eprintln!(
            "\n*** SKIPPED: squidGuard is not installed (apt-get install -y squidguard); no differential test ran ***\n"
        );
        return;
    };
    // UNDERSIGN_DIFF_DIR keeps the lists, configurations and inputs for investigation.
    let tmp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("UNDERSIGN_DIFF_DIR").map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(tmp.path());
    std::fs::create_dir_all(dir).unwrap();
    let lists = synth::Lists::generate(CATEGORIES, 40_000, 4_000, 20261123);
    lists.write_configs(dir).unwrap();
    let requests = synth::requests(&lists, REQUESTS, &[SCHOOL, OTHER], 42);
    let names = &lists.categories;
    let escaped_escapes = requests.iter().filter(|r| r.url.contains("%25")).count();
    assert!(
        escaped_escapes > REQUESTS / 100,
        "the requests must exercise escaped escapes ({escaped_escapes} do)"
    );

    let sg = run_squidguard(&bin, dir, &requests, names);
    let ours = run_helper(dir, &requests, names);
    assert_eq!(
        sg.len(),
        REQUESTS,
        "squidGuard answered {} of {REQUESTS}",
        sg.len()
    );
    assert_eq!(ours.len(), REQUESTS);

    let model = Model::new(&lists);
    let all: Vec<usize> = (0..CATEGORIES).collect();
    let (mut agree, mut intended, mut blocked) = (0, 0, 0);
    let mut unexplained = Vec::new();
    let mut target = Target::default();
    for (i, r) in requests.iter().enumerate() {
        if matches!(ours[i], Outcome::Blocked(_)) {
            blocked += 1;
        }
        target.parse_into(r.url.as_bytes()).unwrap();
        let pass = if r.src == SCHOOL {
            &all[..]
        } else {
            &all[..CATEGORIES - 1]
        };
        let modelled = model.decide(&target, pass);
        if modelled != sg[i] {
            unexplained.push(format!(
                "model of squidGuard is wrong: {r:?}: squidGuard {:?}, model {modelled:?}",
                sg[i]
            ));
            continue;
        }
        if sg[i] == ours[i] {
            agree += 1;
            if i % 60 == 0 {
                let truth = model.truth(&target, pass);
                if truth != ours[i] {
                    unexplained.push(format!(
                        "helper is wrong: {r:?}: helper {:?}, plain meaning {truth:?}",
                        ours[i]
                    ));
                }
            }
        } else {
            // squidGuard's answer is reproduced by its one-key lookup; the difference is
            // accepted only if the helper's answer is the plain meaning of the lists.
            let truth = model.truth(&target, pass);
            if truth == ours[i] {
                intended += 1;
            } else {
                unexplained.push(format!(
                    "{r:?}: squidGuard {:?}, helper {:?}, plain meaning {truth:?}",
                    sg[i], ours[i]
                ));
            }
        }
    }
    eprintln!(
        "differential: {REQUESTS} requests, {agree} agree, {intended} intended differences (squidGuard lookup defects), {blocked} blocked by the helper"
    );
    assert!(
        unexplained.is_empty(),
        "{} unexplained:\n{}",
        unexplained.len(),
        unexplained[..unexplained.len().min(20)].join("\n")
    );
    assert!(
        blocked > REQUESTS / 5,
        "the generated requests must exercise the lists ({blocked} blocked)"
    );
    assert!(
        intended < REQUESTS / 50,
        "too many differences to call them an edge case: {intended}"
    );
}
