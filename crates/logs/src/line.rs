//! One line of Squid's access log, read in place. Two layouts are understood, told apart
//! line by line:
//!
//! - Squid's native `squid` format:
//!   `time elapsed client code/status bytes method URL user hierarchy/peer type`
//!   (`%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`);
//! - the `undersign` format of `deploy/squid/undersign.conf`:
//!   `time elapsed client user code/status bytes method URL type rule=… category=…
//!   statement=…`, whose notes are the helper's decision as it was made.
//!
//! Fields are separated by one or more spaces (Squid pads the elapsed time). Squid
//! escapes spaces inside URLs and user names, so no field contains one.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

/// A parsed line, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub at: DateTime<Utc>,
    pub elapsed_ms: u32,
    pub client: IpAddr,
    /// The proxy user name, if Squid had one (`-` otherwise).
    pub user: Option<&'a str>,
    /// Squid's result code, e.g. `TCP_MISS` or `TCP_DENIED`.
    pub squid_code: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub method: &'a str,
    /// As Squid logged it: still percent-encoded.
    pub url: &'a str,
    pub content_type: Option<&'a str>,
    /// The helper's decision, in the `undersign` format.
    pub notes: Option<Notes<'a>>,
}

impl Line<'_> {
    /// Whether Squid refused the request (the helper's ERR, or any other denial).
    pub fn denied(&self) -> bool {
        self.squid_code.contains("DENIED")
    }
}

/// The helper's notes on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notes<'a> {
    pub rule: Option<&'a str>,
    pub category: Option<&'a str>,
    pub statement: Option<i32>,
}

/// What is wrong with a line: the field, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct LineError {
    pub field: &'static str,
    pub problem: String,
}

fn bad(field: &'static str, problem: impl Into<String>) -> LineError {
    LineError {
        field,
        problem: problem.into(),
    }
}

/// At most this much of a bad value is quoted in an error.
const QUOTED: usize = 60;

fn quoted(s: &str) -> String {
    let mut end = s.len().min(QUOTED);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end < s.len() {
        format!("{:?}…", &s[..end])
    } else {
        format!("{s:?}")
    }
}

const MAX_FIELDS: usize = 16;

/// Parses one line (without its line ending).
pub fn parse(raw: &[u8]) -> Result<Line<'_>, LineError> {
    let text = std::str::from_utf8(raw)
        .map_err(|e| bad("line", format!("not UTF-8 at byte {}", e.valid_up_to() + 1)))?;
    parse_str(text)
}

/// Parses one line (without its line ending) already known to be text.
pub fn parse_str(text: &str) -> Result<Line<'_>, LineError> {
    let raw = text.as_bytes();
    let mut fields = [""; MAX_FIELDS];
    let mut n = 0;
    let mut start = 0;
    for end in memchr::memchr_iter(b' ', raw).chain([raw.len()]) {
        if end > start {
            if n == MAX_FIELDS {
                return Err(bad("line", format!("more than {MAX_FIELDS} fields")));
            }
            // A space is one byte, so both ends are character boundaries.
            fields[n] = text.get(start..end).unwrap_or_default();
            n += 1;
        }
        start = end + 1;
    }
    let fields = &fields[..n];
    if n < 4 {
        return Err(bad(
            "line",
            format!("{n} fields; a Squid access log line has at least 10"),
        ));
    }
    // The native format has the result code fourth; the undersign format has the user there.
    if is_result(fields[3]) {
        native(fields)
    } else {
        undersign(fields)
    }
}

fn is_result(f: &str) -> bool {
    f.split_once('/').is_some_and(|(code, status)| {
        !code.is_empty()
            && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            && status.bytes().all(|b| b.is_ascii_digit())
    })
}

fn native<'a>(f: &[&'a str]) -> Result<Line<'a>, LineError> {
    if f.len() != 10 {
        return Err(bad(
            "line",
            format!("{} fields; Squid's native format has 10", f.len()),
        ));
    }
    let (squid_code, status) = result(f[3])?;
    Ok(Line {
        at: time(f[0])?,
        elapsed_ms: number(f[1], "elapsed")?,
        client: client(f[2])?,
        user: dash(f[7]),
        squid_code,
        status,
        bytes: number(f[4], "bytes")?,
        method: method(f[5])?,
        url: f[6],
        content_type: dash(f[9]),
        notes: None,
    })
}

fn undersign<'a>(f: &[&'a str]) -> Result<Line<'a>, LineError> {
    if f.len() != 12 {
        return Err(bad(
            "line",
            format!(
                "{} fields; the native format has 10 (result fourth) and the undersign format 12",
                f.len()
            ),
        ));
    }
    let (squid_code, status) = result(f[4])?;
    let note =
        |field: &'static str, key: &str, value: &'a str| -> Result<Option<&'a str>, LineError> {
            let v = value
                .strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .ok_or_else(|| bad(field, format!("expected {key}=…, found {}", quoted(value))))?;
            Ok(dash(v))
        };
    let statement = match note("statement", "statement", f[11])? {
        None => None,
        Some(s) => Some(s.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            bad(
                "statement",
                format!("not a statement number: {}", quoted(s)),
            )
        })?),
    };
    Ok(Line {
        at: time(f[0])?,
        elapsed_ms: number(f[1], "elapsed")?,
        client: client(f[2])?,
        user: dash(f[3]),
        squid_code,
        status,
        bytes: number(f[5], "bytes")?,
        method: method(f[6])?,
        url: f[7],
        content_type: dash(f[8]),
        notes: Some(Notes {
            rule: note("rule", "rule", f[9])?,
            category: note("category", "category", f[10])?,
            statement,
        }),
    })
}

fn dash(f: &str) -> Option<&str> {
    (f != "-" && !f.is_empty()).then_some(f)
}

/// `1764500000.123`: seconds since the epoch, with milliseconds.
fn time(f: &str) -> Result<DateTime<Utc>, LineError> {
    let err = || bad("time", format!("not seconds.milliseconds: {}", quoted(f)));
    let (secs, frac) = f.split_once('.').unwrap_or((f, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 6 {
        return Err(err());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let secs: i64 = secs.parse().map_err(|_| err())?;
    let mut micros: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        micros += u32::from(b - b'0') * 10u32.pow(5 - u32::try_from(i).unwrap_or(5));
    }
    DateTime::from_timestamp(secs, micros * 1000).ok_or_else(err)
}

fn number<T: std::str::FromStr>(f: &str, field: &'static str) -> Result<T, LineError> {
    f.parse()
        .map_err(|_| bad(field, format!("not a number: {}", quoted(f))))
}

fn client(f: &str) -> Result<IpAddr, LineError> {
    f.parse()
        .map_err(|_| bad("client", format!("not an IP address: {}", quoted(f))))
}

fn result(f: &str) -> Result<(&str, u16), LineError> {
    if !is_result(f) {
        return Err(bad(
            "result",
            format!(
                "expected CODE/STATUS such as TCP_MISS/200, found {}",
                quoted(f)
            ),
        ));
    }
    let (code, status) = f.split_once('/').unwrap_or((f, ""));
    let status = status
        .parse::<u16>()
        .ok()
        .filter(|s| *s < 1000)
        .ok_or_else(|| bad("result", format!("not an HTTP status: {}", quoted(status))))?;
    Ok((code, status))
}

fn method(f: &str) -> Result<&str, LineError> {
    if f.bytes()
        .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
    {
        Ok(f)
    } else {
        Err(bad("method", format!("not an HTTP method: {}", quoted(f))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_native_format_with_padding() {
        let l = parse(b"1764500000.123    218 10.0.0.5 TCP_MISS/200 5120 GET http://www.example.org/a - HIER_DIRECT/93.184.216.34 text/html").unwrap();
        assert_eq!(l.at.timestamp_millis(), 1_764_500_000_123);
        assert_eq!(l.elapsed_ms, 218);
        assert_eq!(l.client.to_string(), "10.0.0.5");
        assert_eq!(l.user, None);
        assert_eq!((l.squid_code, l.status, l.bytes), ("TCP_MISS", 200, 5120));
        assert_eq!((l.method, l.url), ("GET", "http://www.example.org/a"));
        assert_eq!(l.content_type, Some("text/html"));
        assert!(!l.denied());
        assert_eq!(l.notes, None);
    }

    #[test]
    fn reads_the_undersign_format_and_its_notes() {
        let l = parse(b"1764500000.001 3 10.0.0.6 jsmith TCP_DENIED/403 3900 CONNECT www.facebook.com:443 text/html rule=social-in-lessons category=socialnetworking statement=7").unwrap();
        assert_eq!(l.user, Some("jsmith"));
        assert!(l.denied());
        assert_eq!(
            l.notes,
            Some(Notes {
                rule: Some("social-in-lessons"),
                category: Some("socialnetworking"),
                statement: Some(7),
            })
        );
        let none = parse(b"1764500000.001 3 10.0.0.6 - TCP_MISS/200 1 GET http://a.test/ - rule=- category=- statement=-").unwrap();
        assert_eq!(none.notes, Some(Notes::default()));
    }

    #[test]
    fn a_bad_line_names_its_field() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "line"),
            (b"garbage", "line"),
            (b"17645x.1 1 10.0.0.5 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -", "time"),
            (b"1764500000.1 1 10.0.0.999 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -", "client"),
            (b"1764500000.1 1 10.0.0.5 TCP_MISS/200 lots GET http://a/ - HIER_NONE/- -", "bytes"),
            (b"1764500000.1 -1 10.0.0.5 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -", "elapsed"),
            (b"1764500000.1 1 10.0.0.5 TCP_MISS/200 1 GET http://a/ - HIER_NONE/-", "line"),
            (b"1764500000.1 1 10.0.0.5 u TCP_MISS/2000 1 GET http://a/ - rule=a category=b statement=1", "result"),
            (b"1764500000.1 1 10.0.0.5 u TCP_MISS/200 1 GET http://a/ - rule=a category=b statement=x", "statement"),
            (b"1764500000.1 1 10.0.0.5 u TCP_MISS/200 1 GET http://a/ - rule=a cat=b statement=1", "category"),
            (b"1764500000.1 1 10.0.0.5 TCP_MISS/200 1 G\"T http://a/ - HIER_NONE/- -", "method"),
            (b"1764500000.1 1 10.0.0.5 TCP_MISS/200 1 GET http://a/\xff - HIER_NONE/- -", "line"),
        ];
        for (line, field) in cases {
            let e = parse(line).unwrap_err();
            assert_eq!(e.field, *field, "{} -> {e}", String::from_utf8_lossy(line));
        }
    }
}
