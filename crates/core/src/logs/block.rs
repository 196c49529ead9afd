//! How detail is stored: in blocks. A block holds the requests of one batch that fall in
//! one partition, on one day, attributed to one person and device, in line order, encoded
//! compactly and compressed. A week of a school's log is tens of millions of requests; as
//! blocks it is tens of thousands of rows, written and hashed at the speed of the disk,
//! and a person's week is read back from a handful of rows.
//!
//! The block's key (day, person, device, its lines) is stored beside it in the clear, for
//! the store to find a person's blocks; the key and the stored bytes together are what a
//! block's digest covers, so that moving a block to another person, another day or other
//! lines is as visible to `verify` as changing a request inside it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::{LogClass, LoggedRequest, NewRequest, Outcome, Period, Via};
use crate::ids::{DeviceId, PersonId};

/// The most one request may take decoded: its line is at most 64 KiB, and the URL, host
/// and search term are parts of it. A block claiming more per row is refused unread.
const MAX_DECODED_PER_ROW: usize = 3 * 64 * 1024 + 1024;

/// The requests of one batch in one partition, on one day, for one person and device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBlock {
    pub class: LogClass,
    pub day: NaiveDate,
    pub person: Option<PersonId>,
    pub device: Option<DeviceId>,
    /// The first and last source lines it holds (a batch's lines, so one source's).
    pub first_line: u64,
    pub last_line: u64,
    /// Requests it holds.
    pub rows: u64,
    /// The encoded requests, LZ4-compressed, after their decoded length (4 bytes, little
    /// endian).
    pub data: Vec<u8>,
}

/// A stored block that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored log block of {day} (lines {first_line}–{last_line}) is unreadable: {problem}")]
pub struct BlockError {
    pub day: NaiveDate,
    pub first_line: u64,
    pub last_line: u64,
    pub problem: String,
}

impl LogBlock {
    /// The partition it belongs to.
    pub fn period(&self) -> Period {
        self.class.period(self.day)
    }

    /// SHA-256 of its key and stored bytes.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"undersign log block 1\n");
        h.update(self.class.as_str().as_bytes());
        h.update(b"\n");
        h.update(self.day.to_string().as_bytes());
        h.update(b"\n");
        for id in [self.person.map(|p| p.0), self.device.map(|d| d.0)] {
            match id {
                Some(id) => {
                    h.update([1]);
                    h.update(id.to_le_bytes());
                }
                None => h.update([0]),
            }
        }
        for n in [
            self.first_line,
            self.last_line,
            self.rows,
            self.data.len() as u64,
        ] {
            h.update(n.to_le_bytes());
        }
        h.update(&self.data);
        h.finalize().into()
    }

    /// The requests it holds, in line order.
    pub fn decode(&self) -> Result<Vec<LoggedRequest>, BlockError> {
        let fail = |problem: String| BlockError {
            day: self.day,
            first_line: self.first_line,
            last_line: self.last_line,
            problem,
        };
        let (len, compressed) = self
            .data
            .split_first_chunk::<4>()
            .ok_or_else(|| fail("it is shorter than its header".into()))?;
        let len = u32::from_le_bytes(*len) as usize;
        let rows = usize::try_from(self.rows).unwrap_or(usize::MAX);
        if len > rows.saturating_mul(MAX_DECODED_PER_ROW) {
            return Err(fail(format!("it claims {len} bytes for {rows} requests")));
        }
        let raw = lz4_flex::block::decompress(compressed, len)
            .map_err(|e| fail(format!("it does not decompress: {e}")))?;
        let mut r = Reader {
            raw: &raw,
            at: 0,
            line: self.first_line,
            time: midnight_micros(self.day),
        };
        let mut out = Vec::with_capacity(rows.min(1 << 20));
        for _ in 0..rows {
            out.push(
                r.request(self)
                    .map_err(|field| fail(format!("request {} field {field}", out.len() + 1)))?,
            );
        }
        if r.at != raw.len() {
            return Err(fail("it holds more than its requests".into()));
        }
        if out.last().map(|q| q.line) != Some(self.last_line) {
            return Err(fail("its last request is not its last line".into()));
        }
        Ok(out)
    }
}

pub(super) fn midnight_micros(day: NaiveDate) -> i64 {
    day.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_micros()
}

fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_varint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

fn put_opt_str(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => buf.push(0),
        Some(s) => {
            put_varint(buf, s.len() as u64 + 1);
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

fn via_code(v: Via) -> u8 {
    match v {
        Via::ProxyUser => 0,
        Via::DeviceHolder => 1,
        Via::DeviceOnly => 2,
        Via::Unattributed => 3,
    }
}

/// Appends `r` to a block's encoded requests; `prev_line` and `prev_at` are the previous
/// request's (for the first: the block's first line and the day's midnight).
pub(super) fn encode(buf: &mut Vec<u8>, r: &NewRequest<'_>, prev_line: u64, prev_at: i64) {
    put_varint(buf, r.line - prev_line);
    put_varint(buf, zigzag(r.at.timestamp_micros() - prev_at));
    match r.client {
        IpAddr::V4(a) => {
            buf.push(4);
            buf.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            buf.push(6);
            buf.extend_from_slice(&a.octets());
        }
    }
    put_opt_str(buf, r.proxy_user);
    put_str(buf, r.method);
    put_str(buf, r.url);
    put_str(buf, r.host);
    put_str(buf, r.squid_code);
    put_varint(buf, u64::from(r.status));
    put_varint(buf, r.bytes);
    put_varint(buf, u64::from(r.elapsed_ms));
    put_opt_str(buf, r.content_type);
    buf.push(u8::from(r.outcome == Outcome::Denied));
    put_opt_str(buf, r.rule);
    put_opt_str(buf, r.category);
    match r.statement {
        None => buf.push(0),
        Some(s) => put_varint(buf, zigzag(i64::from(s)) + 1),
    }
    buf.push(via_code(r.via));
    put_opt_str(buf, r.search);
}

/// Reads encoded requests; an error names the field that could not be read.
struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
    line: u64,
    time: i64,
}

type Field = &'static str;

impl Reader<'_> {
    fn byte(&mut self, field: Field) -> Result<u8, Field> {
        let b = *self.raw.get(self.at).ok_or(field)?;
        self.at += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize, field: Field) -> Result<&[u8], Field> {
        let end = self.at.checked_add(n).ok_or(field)?;
        let b = self.raw.get(self.at..end).ok_or(field)?;
        self.at = end;
        Ok(b)
    }

    fn varint(&mut self, field: Field) -> Result<u64, Field> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte(field)?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err(field)
    }

    fn string(&mut self, len: u64, field: Field) -> Result<String, Field> {
        let len = usize::try_from(len).map_err(|_| field)?;
        let b = self.bytes(len, field)?;
        String::from_utf8(b.to_vec()).map_err(|_| field)
    }

    fn str(&mut self, field: Field) -> Result<String, Field> {
        let len = self.varint(field)?;
        self.string(len, field)
    }

    fn opt_str(&mut self, field: Field) -> Result<Option<String>, Field> {
        match self.varint(field)? {
            0 => Ok(None),
            n => self.string(n - 1, field).map(Some),
        }
    }

    fn request(&mut self, block: &LogBlock) -> Result<LoggedRequest, Field> {
        self.line = self.line.checked_add(self.varint("line")?).ok_or("line")?;
        self.time = self
            .time
            .checked_add(unzigzag(self.varint("at")?))
            .ok_or("at")?;
        let at = DateTime::<Utc>::from_timestamp_micros(self.time).ok_or("at")?;
        if self.line > block.last_line {
            return Err("line");
        }
        if at.date_naive() != block.day {
            return Err("at");
        }
        let client = match self.byte("client")? {
            4 => {
                let b: [u8; 4] = self.bytes(4, "client")?.try_into().map_err(|_| "client")?;
                IpAddr::V4(Ipv4Addr::from(b))
            }
            6 => {
                let b: [u8; 16] = self.bytes(16, "client")?.try_into().map_err(|_| "client")?;
                IpAddr::V6(Ipv6Addr::from(b))
            }
            _ => return Err("client"),
        };
        Ok(LoggedRequest {
            line: self.line,
            at,
            client,
            proxy_user: self.opt_str("proxy_user")?,
            method: self.str("method")?,
            url: self.str("url")?,
            host: self.str("host")?,
            squid_code: self.str("squid_code")?,
            status: u16::try_from(self.varint("status")?).map_err(|_| "status")?,
            bytes: self.varint("bytes")?,
            elapsed_ms: u32::try_from(self.varint("elapsed_ms")?).map_err(|_| "elapsed_ms")?,
            content_type: self.opt_str("content_type")?,
            outcome: match self.byte("outcome")? {
                0 => Outcome::Allowed,
                1 => Outcome::Denied,
                _ => return Err("outcome"),
            },
            rule: self.opt_str("rule")?,
            category: self.opt_str("category")?,
            statement: match self.varint("statement")? {
                0 => None,
                n => Some(i32::try_from(unzigzag(n - 1)).map_err(|_| "statement")?),
            },
            class: block.class,
            person: block.person,
            device: block.device,
            via: match self.byte("via")? {
                0 => Via::ProxyUser,
                1 => Via::DeviceHolder,
                2 => Via::DeviceOnly,
                3 => Via::Unattributed,
                _ => return Err("via"),
            },
            search: self.opt_str("search")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogBatch;
    use chrono::TimeZone;

    fn request(line: u64, minute: u32, person: Option<i64>, class: LogClass) -> LoggedRequest {
        LoggedRequest {
            line,
            at: Utc.with_ymd_and_hms(2026, 11, 30, 9, minute, 0).unwrap()
                + chrono::Duration::microseconds(i64::from(minute) * 7),
            client: if line.is_multiple_of(2) {
                "10.0.0.5".parse().unwrap()
            } else {
                "2001:db8::7".parse().unwrap()
            },
            proxy_user: person.map(|p| format!("user{p}")),
            method: "GET".into(),
            url: format!("http://example.test/page/{line}?q=é"),
            host: "example.test".into(),
            squid_code: "TCP_MISS".into(),
            status: 200,
            bytes: 1234 * line,
            elapsed_ms: 17,
            content_type: line.is_multiple_of(3).then(|| "text/html".into()),
            outcome: if class == LogClass::Blocked {
                Outcome::Denied
            } else {
                Outcome::Allowed
            },
            rule: Some("default".into()),
            category: (class != LogClass::Routine).then(|| "selfharm".into()),
            statement: (!line.is_multiple_of(2)).then_some(-3),
            class,
            person: person.map(PersonId),
            device: None,
            via: if person.is_some() {
                Via::ProxyUser
            } else {
                Via::Unattributed
            },
            search: (line == 4).then(|| "how to".into()),
        }
    }

    fn batch() -> (Vec<LoggedRequest>, LogBatch) {
        let requests = vec![
            request(3, 1, Some(1), LogClass::Routine),
            request(4, 2, Some(2), LogClass::Routine),
            request(5, 2, Some(1), LogClass::Routine),
            request(6, 0, Some(1), LogClass::Routine),
            request(7, 3, None, LogClass::Blocked),
            request(9, 4, Some(1), LogClass::Safeguarding),
        ];
        (requests.clone(), LogBatch::of("file:x", 2, 9, requests))
    }

    #[test]
    fn blocks_give_back_every_request_as_it_was() {
        let (requests, batch) = batch();
        assert_eq!(batch.rows(), 6);
        // Person 1's routine requests share a block; the rest have one each.
        assert_eq!(batch.blocks.len(), 4);
        let mut back: Vec<LoggedRequest> = batch
            .blocks
            .iter()
            .flat_map(|b| b.decode().unwrap())
            .collect();
        back.sort_by_key(|r| r.line);
        assert_eq!(back, requests);
        assert_eq!(batch.alerts, vec![requests[5].clone()]);
        let p1 = &batch.blocks[0];
        assert_eq!((p1.first_line, p1.last_line, p1.rows), (3, 6, 3));
    }

    #[test]
    fn the_totals_count_each_request_once() {
        let (_, batch) = batch();
        let requests: u64 = batch.daily.iter().map(|d| d.totals.requests).sum();
        assert_eq!(requests, 6);
        let site = &batch.sites[0];
        assert_eq!(
            (site.host.as_str(), site.totals.requests),
            ("example.test", 6)
        );
        assert_eq!(site.totals.denied, 1);
        let p1 = batch
            .daily
            .iter()
            .find(|d| d.person == Some(PersonId(1)) && d.class == LogClass::Routine)
            .unwrap();
        assert_eq!(p1.totals.bytes, 1234 * (3 + 5 + 6));
    }

    #[test]
    fn the_digest_covers_the_key_as_well_as_the_bytes() {
        let (_, batch) = batch();
        let block = batch.blocks[0].clone();
        let digest = block.digest();
        let mut moved = block.clone();
        moved.person = Some(PersonId(2));
        assert_ne!(moved.digest(), digest);
        let mut lines = block.clone();
        lines.first_line = 2;
        assert_ne!(lines.digest(), digest);
        let mut bytes = block.clone();
        let last = bytes.data.len() - 1;
        bytes.data[last] ^= 1;
        assert_ne!(bytes.digest(), digest);
    }

    #[test]
    fn a_damaged_block_is_an_error_not_a_panic() {
        let (_, batch) = batch();
        let block = &batch.blocks[0];
        for cut in 0..block.data.len() {
            let mut short = block.clone();
            short.data.truncate(cut);
            assert!(short.decode().is_err(), "cut at {cut}");
        }
        let mut huge = block.clone();
        huge.data[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(huge.decode().unwrap_err().problem.contains("claims"));
        let mut more = block.clone();
        more.rows += 1;
        assert!(more.decode().is_err());
        // Times are kept from the block's midnight: a block moved to another day reads as
        // that day's, and only its digest tells (see above).
        let mut moved = block.clone();
        moved.day = moved.day.succ_opt().unwrap();
        let later = moved.decode().unwrap();
        assert_eq!(
            later[0].at,
            block.decode().unwrap()[0].at + chrono::Days::new(1)
        );
        assert_ne!(moved.digest(), block.digest());
    }
}
