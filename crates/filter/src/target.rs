//! The requested URL turned into the keys that are looked up, exactly as squidGuard derives
//! them, so that the same lists block the same requests.
//!
//! Steps (squidGuard 1.6 `parseLine`): percent-decode, lower-case, drop `scheme://`, collapse
//! `//` to `/` and drop the first `.` before a `/` (both only before any `?`), drop `user@`,
//! cut the host at `:` or `/`. The domain lists see the host; the URL lists see the URL
//! without scheme, credentials and port, with a leading `www`/`web`/`ftp` (plus digits) label
//! removed — and also the URL with that label kept.

use std::ops::Range;

use crate::error::RequestError;

/// A parsed request target. Reuse one value with [`Target::parse_into`] to avoid allocating.
#[derive(Debug, Clone, Default)]
pub struct Target {
    norm: Vec<u8>,
    /// The host without port: what domain lists see.
    host: Range<usize>,
    /// The host after `www.`-style stripping, without port.
    stripped_host: Range<usize>,
    /// Host and port as written (after credentials): the host part of the unstripped URL.
    full_host: Range<usize>,
    /// From the first `/` (path and query), if any.
    path: Option<usize>,
    port: Option<u16>,
}

impl Target {
    /// Parses `url` (as Squid sends it, already unescaped once from the helper protocol).
    pub fn parse(url: &[u8]) -> Result<Self, RequestError> {
        let mut t = Self::default();
        t.parse_into(url)?;
        Ok(t)
    }

    /// Parses `url` into `self`, reusing its buffer.
    pub fn parse_into(&mut self, url: &[u8]) -> Result<(), RequestError> {
        let norm = &mut self.norm;
        norm.clear();
        percent_decode_into(url, norm);
        // A NUL ends the string for squidGuard's C code; it ends ours too.
        if let Some(nul) = norm.iter().position(|b| *b == 0) {
            norm.truncate(nul);
        }
        norm.make_ascii_lowercase();

        let mut p = 0;
        if let Some(s) = find(norm, b"://") {
            p = s + 3;
            clean_path(norm, p);
        }
        let rest = &norm[p..];
        let slash = rest.iter().position(|b| *b == b'/').map(|i| p + i);
        let mut o = p;
        if let Some(at) = norm[p..].iter().position(|b| *b == b'@').map(|i| p + i)
            && slash.is_none_or(|d| at < d)
        {
            o = at + 1;
        }
        let host_limit = slash.unwrap_or(norm.len());
        let (host_end, port) = if norm.get(o) == Some(&b'[') {
            // An IPv6 literal: the host runs to the closing bracket.
            let close = norm[o..host_limit]
                .iter()
                .position(|b| *b == b']')
                .map(|i| o + i + 1);
            let end = close.unwrap_or(host_limit);
            (end, parse_port(norm, end, host_limit))
        } else {
            match norm[o..].iter().position(|b| *b == b':').map(|i| o + i) {
                Some(colon) if slash.is_none_or(|d| colon < d) => {
                    (colon, parse_port(norm, colon, host_limit))
                }
                _ => (host_limit, None),
            }
        };
        // A trailing dot names the same host (`facebook.com.:443`); squidGuard only drops it
        // before a `/`, which would let `CONNECT facebook.com.:443` through.
        let host_end = if host_end > o + 1 && norm[host_end - 1] == b'.' {
            host_end - 1
        } else {
            host_end
        };
        if host_end <= o {
            return Err(RequestError::NoHost(
                String::from_utf8_lossy(url).into_owned(),
            ));
        }
        let mut s = o;
        let h = &norm[o..];
        if h.starts_with(b"www") || h.starts_with(b"web") || h.starts_with(b"ftp") {
            let mut q = o + 3;
            while norm.get(q).is_some_and(u8::is_ascii_digit) {
                q += 1;
            }
            if norm.get(q) == Some(&b'.') {
                s = q + 1;
            }
        }
        self.host = o..host_end;
        self.stripped_host = s.min(host_end)..host_end;
        self.full_host = o..host_limit;
        self.path = slash;
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

    /// The `(host, path)` pairs looked up in URL lists: the stripped URL, then — when it
    /// differs — the URL with its `www`-style label and port kept.
    pub fn url_keys(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let stripped = (&self.norm[self.stripped_host.clone()], self.path());
        let full = (&self.norm[self.full_host.clone()], self.path());
        let second = (self.full_host != self.stripped_host).then_some(full);
        std::iter::once(stripped).chain(second)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_port(norm: &[u8], colon: usize, limit: usize) -> Option<u16> {
    if norm.get(colon) != Some(&b':') {
        return None;
    }
    let digits = &norm[colon + 1..limit];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
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
        assert_eq!(
            keys("http://foo.com:81/bar?x").1,
            vec!["foo.com/bar?x", "foo.com:81/bar?x"]
        );
        assert_eq!(keys("http://foo.com//bar").1, vec!["foo.com/bar"]);
    }

    #[test]
    fn a_url_without_host_is_refused() {
        assert!(Target::parse(b"http:///path").is_err());
        assert!(Target::parse(b"").is_err());
    }

    #[test]
    fn ipv6_literals_keep_their_colons() {
        assert_eq!(keys("http://[::1]:8080/x").0, "[::1]");
        assert_eq!(keys("[2001:db8::1]:443").0, "[2001:db8::1]");
    }
}
