//! Property tests standing in for a fuzzer: the request-line parser, the URL parser, the
//! rules parser and the list loader never panic and never take long, whatever they are fed.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use undersign_filter::RuleSet;
use undersign_filter::category::CategoryId;
use undersign_filter::helper::{Clock, Loaded, Shared, serve};
use undersign_filter::lists::{ListSource, Lists};
use undersign_filter::protocol::{Scratch, parse_request};
use undersign_filter::target::Target;

const SLOW: Duration = Duration::from_secs(2);

fn example() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/filter.toml"),
    )
    .unwrap()
}

/// Request lines: mostly well-formed with odd values, sometimes raw bytes.
fn request_line() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        "[0-9]{1,3}",
        "[a-zA-Z0-9%:./@\\[\\]_-]{0,40}",
        Just("-".to_owned()),
        "(http|https|ftp)://[a-zA-Z0-9.%@:/?&=_-]{0,60}",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "::[0-9a-f:]{0,10}",
    ];
    prop_oneof![
        4 => prop::collection::vec(token, 0..8).prop_map(|t| t.join(" ").into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn request_lines_never_panic(line in request_line()) {
        let mut scratch = Scratch::default();
        let _ = parse_request(&line, &mut scratch);
        let _ = Target::parse(&line);
    }

    #[test]
    fn every_line_with_a_channel_gets_exactly_one_reply_on_its_channel(
        lines in prop::collection::vec(request_line(), 1..20)
    ) {
        let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/filter.toml");
        let shared = Shared::new(Some(Loaded::load(&rules_dir).unwrap()));
        let lines: Vec<Vec<u8>> = lines
            .into_iter()
            .map(|l| l.into_iter().map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }).collect())
            .collect();
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.push(b'\n');
        }
        let started = Instant::now();
        let mut out = Vec::new();
        serve(&input[..], &mut out, &shared, Clock::System).unwrap();
        prop_assert!(started.elapsed() < SLOW);
        let replies: Vec<&[u8]> = out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        let expected: Vec<&[u8]> = lines
            .iter()
            .filter_map(|l| l.split(|b| *b == b' ' || *b == b'\t').find(|t| !t.is_empty()))
            .collect();
        prop_assert_eq!(replies.len(), expected.len());
        for (reply, channel) in replies.iter().zip(&expected) {
            prop_assert!(reply.starts_with(channel));
            let rest = &reply[channel.len()..];
            prop_assert!(rest.starts_with(b" OK") || rest.starts_with(b" ERR") || rest.starts_with(b" BH"));
        }
    }

    #[test]
    fn mangled_rules_files_are_refused_or_accepted_but_never_panic(
        cut in 0usize..6000, len in 0usize..40, insert in "[ -~\\n]{0,12}"
    ) {
        let text = example();
        let start = cut.min(text.len());
        let end = (start + len).min(text.len());
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return Ok(());
        }
        let mangled = format!("{}{}{}", &text[..start], insert, &text[end..]);
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let started = Instant::now();
        let _ = RuleSet::from_toml(&mangled, &base.join("filter.toml"), &base);
        prop_assert!(started.elapsed() < SLOW);
    }

    #[test]
    fn arbitrary_rules_text_never_panics(text in "[ -~\\n\\[\\]=\"]{0,400}") {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let _ = RuleSet::from_toml(&text, &base.join("filter.toml"), &base);
    }

    #[test]
    fn arbitrary_list_files_load_and_answer_lookups(
        domains in prop::collection::vec(any::<u8>(), 0..2000),
        urls in prop::collection::vec(any::<u8>(), 0..2000),
        hosts in prop::collection::vec("[a-zA-Z0-9.:/@%-]{0,40}", 0..20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("c");
        std::fs::create_dir(&cat).unwrap();
        std::fs::write(cat.join("domains"), &domains).unwrap();
        std::fs::write(cat.join("urls"), &urls).unwrap();
        let started = Instant::now();
        let lists = Lists::load(&[ListSource {
            id: CategoryId::new(0).unwrap(),
            name: "c".into(),
            dir: cat,
            must_not_be_empty: false,
        }])
        .unwrap();
        for h in hosts {
            if let Ok(t) = Target::parse(h.as_bytes()) {
                let _ = lists.categories(&t);
            }
        }
        prop_assert!(started.elapsed() < SLOW);
    }

    #[test]
    fn every_listed_domain_matches_itself_and_its_subdomains_only(
        entries in prop::collection::vec("[a-z]{1,6}(\\.[a-z]{1,6}){0,2}\\.(com|org|uk)", 1..40),
        probe in "[a-z]{1,6}(\\.[a-z]{1,6}){0,3}\\.(com|org|uk)",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("c");
        std::fs::create_dir(&cat).unwrap();
        std::fs::write(cat.join("domains"), entries.join("\n")).unwrap();
        let lists = Lists::load(&[ListSource {
            id: CategoryId::new(0).unwrap(),
            name: "c".into(),
            dir: cat,
            must_not_be_empty: false,
        }])
        .unwrap();
        let expected = entries.iter().any(|e| probe == *e || probe.ends_with(&format!(".{e}")));
        let target = Target::parse(probe.as_bytes()).unwrap();
        prop_assert_eq!(!lists.categories(&target).is_empty(), expected);
    }
}
