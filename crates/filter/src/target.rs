//! The requested URL turned into the keys that are looked up, the way squidGuard derives
//! them, so that the same lists block the same requests.
//!
//! Steps (after squidGuard 1.6 `parseLine`): percent-decode once, lower-case, drop
//! `scheme://`, collapse `//` to `/` and drop the first `.` before a `/` (both only before any
//! `?`), drop `user@`, cut the host at `:port`. The domain lists see the host; the URL lists
//! see the URL without scheme, credentials and port, with a leading `www`/`web`/`ftp` (plus
//! digits) label removed — and also the URL with that label kept.
//!
//! [`Target::parse_into`] is the one place a URL is percent-decoded, for the helper and for
//! `filter check` alike: Squid passes the URL to the helper with the client's escapes as they
//! were (it escapes spaces, quotes and a few other characters, but never `%`), so the
//! protocol layer must hand the URL over undecoded and this single decode is the only one.
//! Where squidGuard reads a URL that no browser or Squid would send (no host, a bad port, a
//! character no host name has), this refuses it, and the helper answers `BH`.

use std::net::Ipv6Addr;
use std::ops::Range;

use crate::error::RequestError;

/// At most this much of a refused URL is quoted in the error.
const QUOTED_URL: usize = 200;

/// A parsed request target. Reuse one value with [`Target::parse_into`] to avoid allocating.
#[derive(Debug, Clone, Default)]
pub struct Target {
    norm: Vec<u8>,
    /// The host without port: what domain lists see.
    host: Range<usize>,
    /// The host after `www.`-style stripping, without port.
    stripped_host: Range<usize>,
    /// From the first `/` (path and query), if any.
    path: Option<usize>,
    port: Option<u16>,
}

impl Target {
    /// Parses `url` as the client sent it (still percent-encoded): `http://…`, or `host:port`
    /// as for CONNECT.
    pub fn parse(url: &[u8]) -> Result<Self, RequestError> {
        let mut t = Self::default();
        t.parse_into(url)?;
        Ok(t)
    }

    /// Parses `url` into `self`, reusing its buffer. The URL is percent-decoded here, once.
    pub fn parse_into(&mut self, url: &[u8]) -> Result<(), RequestError> {
        let refuse = |why| RequestError::Url {
            url: quoted(url),
            why,
        };
        let norm = &mut self.norm;
        norm.clear();
        percent_decode_into(url, norm);
        norm.make_ascii_lowercase();

        let p = match find(norm, b"://") {
            Some(s) if is_scheme(&norm[..s]) => s + 3,
            _ => 0,
        };
        // A NUL ends the string for squidGuard's C code, so it ends the path here too; in the
        // host it could only hide what the host really is.
        if let Some(nul) = norm.iter().position(|b| *b == 0) {
            if !norm[p..nul].iter().any(|b| matches!(b, b'/' | b'?' | b'#')) {
                return Err(refuse("the host holds a control character"));
            }
            norm.truncate(nul);
        }
        if p > 0 {
            clean_path(norm, p);
        }
        // The authority ends at the path, the query or the fragment. A query or fragment
        // right after the authority gets the `/` Squid adds before it asks a helper, so
        // `http://www.facebook.com?x=1` is read as `www.facebook.com/?x=1`.
        let auth_end = norm[p..]
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .map(|i| p + i);
        if let Some(e) = auth_end
            && norm[e] != b'/'
        {
            norm.insert(e, b'/');
        }
        let auth_end = auth_end.unwrap_or(norm.len());
        // The host is after the last `@`: an `@` that was escaped in the credentials is one
        // of theirs after decoding.
        let o = norm[p..auth_end]
            .iter()
            .rposition(|b| *b == b'@')
            .map_or(p, |at| p + at + 1);
        let (host_end, port_at) = if norm.get(o) == Some(&b'[') {
            let close = norm[o..auth_end]
                .iter()
                .position(|b| *b == b']')
                .map(|i| o + i + 1)
                .ok_or_else(|| refuse("the IPv6 address has no closing ']'"))?;
            let literal = std::str::from_utf8(&norm[o + 1..close - 1]).ok();
            if literal.and_then(|l| l.parse::<Ipv6Addr>().ok()).is_none() {
                return Err(refuse("the address in [] is not an IPv6 address"));
            }
            match norm.get(close) {
                _ if close == auth_end => (close, None),
                Some(b':') => (close, Some(close)),
                _ => return Err(refuse("something follows the IPv6 address")),
            }
        } else {
            match norm[o..auth_end].iter().position(|b| *b == b':') {
                Some(c) => (o + c, Some(o + c)),
                None => (auth_end, None),
            }
        };
        let port = match port_at {
            Some(colon) => parse_port(&norm[colon + 1..auth_end])
                .ok_or_else(|| refuse("the port is not a number from 1 to 65535"))?,
            None => None,
        };
        // A trailing dot names the same host (`facebook.com.:443`).
        let host_end = if host_end > o + 1 && norm[host_end - 1] == b'.' {
            host_end - 1
        } else {
            host_end
        };
        if host_end <= o {
            return Err(refuse("it has no host"));
        }
        if norm[o] != b'[' {
            check_host_name(&norm[o..host_end]).map_err(refuse)?;
        }
        let mut s = o;
        let h = &norm[o..host_end];
        if h.starts_with(b"www") || h.starts_with(b"web") || h.starts_with(b"ftp") {
            let mut q = o + 3;
            while q < host_end && norm[q].is_ascii_digit() {
                q += 1;
            }
            if q + 1 < host_end && norm[q] == b'.' {
                s = q + 1;
            }
        }
        self.host = o..host_end;
        self.stripped_host = s..host_end;
        self.path = (auth_end < norm.len()).then_some(auth_end);
        self.port = port;
        Ok(())
    }

    /// The host, lower-case, without port or trailing dot: the key for domain lists.
    pub fn host(&self) -> &[u8] {
        &self.norm[self.host.clone()]
    }

    /// The port, when the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path and query from the first `/`, or empty.
    pub fn path(&self) -> &[u8] {
        self.path.map_or(&[][..], |p| &self.norm[p..])
    }

    /// The `(host, path)` pairs looked up in URL lists, both without port: the URL with its
    /// `www`-style label removed, then — when it has one — with the label kept.
    pub fn url_keys(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let stripped = (&self.norm[self.stripped_host.clone()], self.path());
        let full = (self.host(), self.path());
        let second = (self.host != self.stripped_host).then_some(full);
        std::iter::once(stripped).chain(second)
    }
}

/// The start of a URL, for an error message: bounded, and lossily UTF-8.
fn quoted(url: &[u8]) -> String {
    let mut end = url.len().min(QUOTED_URL);
    while end > 0 && end < url.len() && (url[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    let mut text = String::from_utf8_lossy(&url[..end]).into_owned();
    if end < url.len() {
        text.push('…');
    }
    text
}

/// `scheme` of `scheme://` (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`).
fn is_scheme(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// A host name, decoded and lower-cased: labels of letters, digits, `-` and `_` (which real
/// host names use), or bytes of an internationalised name, with no empty label.
fn check_host_name(host: &[u8]) -> Result<(), &'static str> {
    if let Some(b) = host
        .iter()
        .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') || **b >= 0x80))
    {
        return Err(if b.is_ascii_control() {
            "the host holds a control character"
        } else {
            "the host holds a character no host name has"
        });
    }
    if host.split(|b| *b == b'.').any(<[u8]>::is_empty) {
        return Err("the host has an empty label");
    }
    Ok(())
}

/// The digits after `:`: `None` for an empty port (the scheme's own), an error otherwise.
fn parse_port(digits: &[u8]) -> Option<Option<u16>> {
    if digits.is_empty() {
        return Some(None);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    let port = text.parse::<u16>().ok().filter(|p| *p > 0)?;
    Some(Some(port))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// squidGuard's clean-up after the scheme, up to the first `?`: `//` becomes `/` (an
/// embedded `://` is stepped over), and the first `./` becomes `/` (a trailing dot on the
/// host, or anywhere before the query).
fn clean_path(norm: &mut Vec<u8>, from: usize) {
    let mut i = from;
    let mut dot_done = false;
    while i < norm.len() && norm[i] != b'?' {
        if norm.len() - i > 3 && &norm[i..i + 3] == b"://" {
            i += 3;
        }
        if i + 1 < norm.len() && norm[i] == b'/' && norm[i + 1] == b'/' {
            norm.remove(i);
        } else if i + 1 < norm.len() && !dot_done && norm[i] == b'.' && norm[i + 1] == b'/' {
            dot_done = true;
            norm.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Decodes `%XX` escapes with two hex digits; anything else is copied as it is.
pub fn percent_decode_into(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%'
            && i + 2 < input.len()
            && let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(url: &str) -> (String, Vec<String>) {
        let t = Target::parse(url.as_bytes()).unwrap();
        let host = String::from_utf8(t.host().to_vec()).unwrap();
        let urls = t
            .url_keys()
            .map(|(h, p)| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(h),
                    String::from_utf8_lossy(p)
                )
            })
            .collect();
        (host, urls)
    }

    #[test]
    fn hosts_are_lower_cased_without_port_or_credentials() {
        assert_eq!(
            keys("http://User:pw@WWW.Example.COM:8080/A?b").0,
            "www.example.com"
        );
        assert_eq!(keys("example.com:443").0, "example.com");
        assert_eq!(keys("http://amex.com./").0, "amex.com");
        assert_eq!(keys("http://%61mex.com/").0, "amex.com");
    }

    #[test]
    fn url_keys_strip_www_like_labels_and_keep_the_original_too() {
        assert_eq!(
            keys("http://www.foo.com/bar").1,
            vec!["foo.com/bar", "www.foo.com/bar"]
        );
        assert_eq!(
            keys("http://web2.foo.com/x").1,
            vec!["foo.com/x", "web2.foo.com/x"]
        );
        assert_eq!(keys("http://wwwx.foo.com/x").1, vec!["wwwx.foo.com/x"]);
        assert_eq!(keys("http://foo.com:81/bar?x").1, vec!["foo.com/bar?x"]);
        assert_eq!(keys("http://foo.com//bar").1, vec!["foo.com/bar"]);
    }

    #[test]
    fn a_url_is_unescaped_once_so_an_escaped_escape_stays_an_escape() {
        assert_eq!(
            keys("http://www.reddit.com/r/%256esfw").1,
            vec!["reddit.com/r/%6esfw", "www.reddit.com/r/%6esfw"]
        );
        assert_eq!(
            keys("http://reddit.com/r/%6esfw").1,
            vec!["reddit.com/r/nsfw"]
        );
        assert_eq!(
            keys("http://reddit.com/a%252fb").1,
            vec!["reddit.com/a%2fb"]
        );
    }

    #[test]
    fn a_www_url_is_looked_up_without_its_port_too() {
        assert_eq!(
            keys("http://www.host.test:8080/www-entry/x").1,
            vec!["host.test/www-entry/x", "www.host.test/www-entry/x"]
        );
        assert_eq!(
            keys("http://user:pw@WWW.Host.Test:8080/www-entry/x").1,
            keys("http://www.host.test/www-entry/x").1
        );
    }

    #[test]
    fn a_query_or_fragment_right_after_the_host_is_not_part_of_it() {
        let (host, urls) = keys("http://www.facebook.com?x=1");
        assert_eq!(host, "www.facebook.com");
        assert_eq!(urls, vec!["facebook.com/?x=1", "www.facebook.com/?x=1"]);
        assert_eq!(keys("http://www.facebook.com#frag").0, "www.facebook.com");
        assert_eq!(keys("http://facebook.com:8080?x").0, "facebook.com");
        // An `@` in the query is not the end of credentials.
        assert_eq!(keys("http://evil.net?u=x@facebook.com").0, "evil.net");
        assert_eq!(keys("http://evil.net#@facebook.com").0, "evil.net");
        // An escaped `@` in the credentials is theirs.
        assert_eq!(keys("http://me%40x.com@evil.net/").0, "evil.net");
    }

    #[test]
    fn garbage_urls_are_refused_with_the_reason() {
        for (url, why) in [
            ("http:///path", "no host"),
            ("", "no host"),
            ("http://", "no host"),
            ("http://:80/", "no host"),
            ("http://user@/", "no host"),
            ("http://%", "character no host name has"),
            ("http://amex.com%/", "character no host name has"),
            ("http://am ex.com/", "character no host name has"),
            ("http://am%20ex.com/", "character no host name has"),
            ("http://am%01ex.com/", "control character"),
            ("http://amex.com%00.evil.net/", "control character"),
            ("http://a..b/", "empty label"),
            ("http://.amex.com/", "empty label"),
            ("http://[::1", "no closing"),
            ("http://[::1/x", "no closing"),
            ("http://[nonsense]/", "not an IPv6 address"),
            ("http://[::1]x/", "follows the IPv6 address"),
            ("http://a:b:c/", "port"),
            ("http://amex.com:b/", "port"),
            ("http://amex.com:99999/", "port"),
            ("http://amex.com:0/", "port"),
            ("http://amex.com:-1/", "port"),
            ("amex.com:443:1", "port"),
        ] {
            match Target::parse(url.as_bytes()) {
                Ok(t) => panic!(
                    "{url:?} was read as host {:?}",
                    String::from_utf8_lossy(t.host())
                ),
                Err(e) => assert!(e.to_string().contains(why), "{url:?}: {e}"),
            }
        }
    }

    #[test]
    fn odd_but_valid_urls_are_read() {
        assert_eq!(keys("http://amex.com:/x").0, "amex.com");
        assert_eq!(keys("http://under_score.example/").0, "under_score.example");
        assert_eq!(keys("http://b\u{fc}cher.de/").0, "b\u{fc}cher.de");
        assert_eq!(keys("http://amex.com/%00.evil.net").1, vec!["amex.com/"]);
        // `://` after the path is not a scheme.
        assert_eq!(keys("example.com/?u=http://evil.net").0, "example.com");
        let t = Target::parse(b"http://[2001:db8::1]:8443/").unwrap();
        assert_eq!(t.port(), Some(8443));
    }

    #[test]
    fn a_long_url_is_quoted_only_in_part() {
        let url = format!("http://{}/", "%".repeat(10_000));
        let e = Target::parse(url.as_bytes()).unwrap_err().to_string();
        assert!(e.len() < 400, "{e}");
    }

    #[test]
    fn ipv6_literals_keep_their_colons() {
        assert_eq!(keys("http://[::1]:8080/x").0, "[::1]");
        assert_eq!(keys("[2001:db8::1]:443").0, "[2001:db8::1]");
    }
}
