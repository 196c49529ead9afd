//! Squid's `external_acl_type` helper protocol with `concurrency`: request lines
//! `channel-ID client-IP user method URL [more…]`, and replies
//! `channel-ID OK|ERR|BH key=value …`.
//!
//! Squid (5.7, default `quote=url`) escapes spaces, control characters, `#`, quotes and the
//! other characters unsafe in URLs in each value as `%XX`, but leaves `%` itself alone, so a
//! URL arrives with the client's own escapes untouched (`/r/%256esfw` stays `/r/%256esfw`;
//! `/a"b` arrives as `/a%22b`). Squid's escapes in a URL are
//! therefore indistinguishable from the client's, and decoding the URL once as a URL (in
//! [`Target::parse_into`](crate::target::Target::parse_into)) undoes both: the URL is passed
//! on as it came. The client address, user and method are unescaped here.
//!
//! The channel ID is an opaque token echoed back as it came (Squid sends a number, but the
//! helper never interprets it). Reply values are double-quoted with `\` escapes, the form
//! Squid documents for values that may hold spaces. Keys ending in `_` are Squid
//! annotations (`category_`, `rule_`, `statement_`), loggable with `%note`.

use std::io::{self, Write};
use std::net::IpAddr;

use crate::engine::{Basis, Decision, Verdict, message};
use crate::error::RequestError;
use crate::rules::RuleSet;
use crate::target::percent_decode_into;

/// One request line, split and decoded.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The channel ID, as sent.
    pub channel: &'a [u8],
    /// The client address.
    pub src: IpAddr,
    /// The user, or `None` for `-`.
    pub user: Option<&'a str>,
    /// The method (`GET`, `CONNECT` …).
    pub method: &'a [u8],
    /// The URL exactly as Squid sent it, still percent-encoded: it is decoded once, as a URL,
    /// by [`Target::parse_into`](crate::target::Target::parse_into).
    pub url: &'a [u8],
}

/// Reusable buffers for decoding, so the helper does not allocate per request.
#[derive(Debug, Default)]
pub struct Scratch {
    src: Vec<u8>,
    user: Vec<u8>,
    method: Vec<u8>,
}

/// Splits a request line (without its newline). On error, returns the channel ID when there
/// was one, so the `BH` reply can carry it.
pub fn parse_request<'a>(
    line: &'a [u8],
    scratch: &'a mut Scratch,
) -> Result<Parsed<'a>, (Option<&'a [u8]>, RequestError)> {
    let mut fields = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|f| !f.is_empty());
    let channel = fields.next().ok_or((None, RequestError::Empty))?;
    let fail = |e| (Some(channel), e);
    let src = fields
        .next()
        .ok_or_else(|| fail(RequestError::Missing("client-IP")))?;
    let user = fields
        .next()
        .ok_or_else(|| fail(RequestError::Missing("user")))?;
    let method = fields
        .next()
        .ok_or_else(|| fail(RequestError::Missing("method")))?;
    let url = fields
        .next()
        .ok_or_else(|| fail(RequestError::Missing("URL")))?;

    let Scratch {
        src: s_src,
        user: s_user,
        method: s_method,
    } = scratch;
    s_src.clear();
    percent_decode_into(src, s_src);
    let src_text =
        std::str::from_utf8(s_src).map_err(|_| fail(RequestError::Encoding("client-IP")))?;
    let src: IpAddr = src_text.parse().map_err(|_| {
        fail(RequestError::Address(
            String::from_utf8_lossy(s_src).into_owned(),
        ))
    })?;

    s_user.clear();
    percent_decode_into(user, s_user);
    let user = if s_user.as_slice() == b"-" || s_user.is_empty() {
        None
    } else {
        Some(std::str::from_utf8(s_user).map_err(|_| fail(RequestError::Encoding("user")))?)
    };
    s_method.clear();
    percent_decode_into(method, s_method);
    if url == b"-" {
        return Err(fail(RequestError::Missing("URL")));
    }
    Ok(Parsed {
        channel,
        src,
        user,
        method: s_method,
        url,
    })
}

/// Appends `value` double-quoted, with `\` before `"` and `\`, and CR/LF as `\r`/`\n`.
pub fn quote_into(value: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in value.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Reply tails rendered once per rule set: per rule (and for the default and each
/// illegal-content category) the `OK …`/`ERR …` text up to the category notes.
#[derive(Debug)]
pub struct Replies {
    rules: Vec<Vec<u8>>,
    default: Vec<u8>,
    illegal: Vec<Vec<u8>>,
    categories: Vec<Vec<u8>>,
}

impl Replies {
    /// Renders the replies of `rules`.
    pub fn new(rules: &RuleSet) -> Self {
        let render = |verdict: Verdict, name: &str, statement: Option<&crate::rules::Statement>| {
            let mut out = Vec::new();
            match verdict {
                Verdict::Allow => out.extend_from_slice(b"OK"),
                Verdict::Deny => out.extend_from_slice(b"ERR"),
            }
            if verdict == Verdict::Deny
                && let Some(s) = statement
            {
                out.extend_from_slice(b" message=");
                quote_into(&message(s), &mut out);
            }
            out.extend_from_slice(b" rule_=");
            out.extend_from_slice(name.as_bytes());
            if let Some(s) = statement {
                out.extend_from_slice(format!(" statement_={}", s.number).as_bytes());
            }
            out.extend_from_slice(format!(" log=\"{} rule={name}", verdict.as_str()).as_bytes());
            if let Some(s) = statement {
                out.extend_from_slice(format!(" statement={}", s.number).as_bytes());
            }
            out
        };
        let rule_tails = rules
            .rules
            .iter()
            .map(|r| render(r.action.into(), &r.name, rules.statement(r.statement)))
            .collect();
        let default = render(
            rules.default_action.into(),
            "default",
            rules.statement(rules.default_statement),
        );
        let illegal = rules
            .categories
            .iter()
            .map(|c| {
                render(
                    Verdict::Deny,
                    "illegal-content",
                    c.illegal.and_then(|n| rules.statement(n)),
                )
            })
            .collect();
        let categories = rules
            .categories
            .iter()
            .map(|c| c.name.as_str().as_bytes().to_vec())
            .collect();
        Self {
            rules: rule_tails,
            default,
            illegal,
            categories,
        }
    }

    /// Writes the reply line for `d`.
    #[inline]
    pub fn write(&self, out: &mut impl Write, channel: &[u8], d: &Decision) -> io::Result<()> {
        let tail = match d.basis {
            Basis::Rule(i) => self.rules.get(i),
            Basis::Illegal(c) => self.illegal.get(c.index()),
            Basis::Default => Some(&self.default),
        }
        .unwrap_or(&self.default);
        out.write_all(channel)?;
        out.write_all(b" ")?;
        out.write_all(tail)?;
        match d.category.and_then(|c| self.categories.get(c.index())) {
            Some(name) => {
                out.write_all(b" category=")?;
                out.write_all(name)?;
                out.write_all(b"\" category_=")?;
                out.write_all(name)?;
                out.write_all(b"\n")
            }
            None => out.write_all(b"\"\n"),
        }
    }
}

/// Writes `BH` for a request that could not be read.
pub fn write_bh(out: &mut impl Write, channel: &[u8], why: &RequestError) -> io::Result<()> {
    let mut line = Vec::with_capacity(96);
    line.extend_from_slice(channel);
    line.extend_from_slice(b" BH message=");
    quote_into(&format!("undersign: malformed request: {why}"), &mut line);
    line.extend_from_slice(b" log=\"bh\"\n");
    out.write_all(&line)
}

/// Writes the fail-closed answer used while no rules are loaded.
pub fn write_unavailable(out: &mut impl Write, channel: &[u8]) -> io::Result<()> {
    out.write_all(channel)?;
    out.write_all(
        b" ERR message=\"Web filtering is unavailable: the web rules could not be loaded, so browsing is blocked until the network manager fixes them.\" rule_=unavailable log=\"deny rule=unavailable\"\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_split_and_unescaped() {
        let mut s = Scratch::default();
        let p = parse_request(
            b"7 10.10.1.5 J%20Smith GET http://www.facebook.com/ -",
            &mut s,
        )
        .unwrap();
        assert_eq!(p.channel, b"7");
        assert_eq!(p.src.to_string(), "10.10.1.5");
        assert_eq!(p.user, Some("J Smith"));
        assert_eq!(p.method, b"GET");
        assert_eq!(p.url, b"http://www.facebook.com/");
        let p = parse_request(b"ab-c ::1 - CONNECT facebook.com:443", &mut s).unwrap();
        assert_eq!(p.channel, b"ab-c");
        assert_eq!(p.user, None);
    }

    #[test]
    fn malformed_lines_keep_their_channel_for_bh() {
        let mut s = Scratch::default();
        assert_eq!(
            parse_request(b"", &mut s).unwrap_err(),
            (None, RequestError::Empty)
        );
        let (ch, e) = parse_request(b"3 10.0.0.1 -", &mut s).unwrap_err();
        assert_eq!((ch, e), (Some(&b"3"[..]), RequestError::Missing("method")));
        let (ch, e) = parse_request(b"4 not-an-ip - GET http://x/", &mut s).unwrap_err();
        assert_eq!(ch, Some(&b"4"[..]));
        assert!(matches!(e, RequestError::Address(_)));
        let mut out = Vec::new();
        write_bh(&mut out, b"4", &e).unwrap();
        assert!(out.starts_with(b"4 BH message=\"undersign: malformed request: client address"));
        assert!(out.ends_with(b"\n"));
    }

    #[test]
    fn quoted_values_escape_quotes_backslashes_and_newlines() {
        let mut out = Vec::new();
        quote_into("say \"hi\" \\ now\r\n", &mut out);
        assert_eq!(out, b"\"say \\\"hi\\\" \\\\ now\\r\\n\"".to_vec());
    }
}
