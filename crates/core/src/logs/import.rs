//! The device register's files: the school's CSV, and ISC dhcpd's lease file. Each is read
//! whole or refused, every error naming its line.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::DateTime;

/// One row of a device register CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub line: usize,
    pub device: String,
    pub address: Option<IpAddr>,
    /// The holder's sign-in email; `None` for a device nobody holds.
    pub holder: Option<String>,
}

/// What is wrong with a device register CSV: the line, the column, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, {field}: {message}")]
pub struct DeviceCsvError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// Reads a device register CSV with a header row naming the columns `device` (required),
/// `address` and `holder` (an email, empty for nobody), in any order. Every error is
/// returned, each with its line and column; nothing is returned from a file with any.
pub fn parse_device_csv(text: &str) -> Result<Vec<DeviceRow>, Vec<DeviceCsvError>> {
    let err = |line: usize, field: &str, message: String| DeviceCsvError {
        line,
        field: field.to_owned(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![err(1, "header", e.to_string())]),
    };
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let Some(device_col) = column("device") else {
        return Err(vec![err(1, "header", "no `device` column".into())]);
    };
    let (address_col, holder_col) = (column("address"), column("holder"));
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(err(line, "row", e.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("");
        let device = get(Some(device_col)).to_owned();
        if device.is_empty() {
            errors.push(err(line, "device", "empty".into()));
            continue;
        }
        if let Some(first) = seen.insert(device.to_lowercase(), line) {
            errors.push(err(
                line,
                "device",
                format!("{device:?} is also on line {first}"),
            ));
        }
        let address = match get(address_col) {
            "" => None,
            a => match a.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    errors.push(err(line, "address", format!("not an IP address: {a:?}")));
                    continue;
                }
            },
        };
        let holder = match get(holder_col) {
            "" => None,
            h if h.contains('@') => Some(h.to_lowercase()),
            h => {
                errors.push(err(line, "holder", format!("not an email address: {h:?}")));
                continue;
            }
        };
        rows.push(DeviceRow {
            line,
            device,
            address,
            holder,
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn a_device_csv_is_read_whole_or_refused_with_every_error_named() {
        let ok =
            parse_device_csv("Device,Address,Holder\nLT-01,10.0.0.5,Ann@School.test\nPC-02,,\n")
                .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].holder.as_deref(), Some("ann@school.test"));
        assert_eq!((ok[1].address, ok[1].holder.as_deref()), (None, None));
        let errors =
            parse_device_csv("device,address,holder\nLT-01,10.0.0.999,\n,10.0.0.1,\nlt-01,,bob\n")
                .unwrap_err();
        let named: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            named,
            [(2, "address"), (3, "device"), (4, "device"), (4, "holder")]
        );
    }
}

/// Reads ISC dhcpd's lease file (`/var/lib/dhcp/dhcpd.leases`): every `lease ADDRESS { … }`
/// block with its `starts` and `ends` (UTC, as dhcpd writes them) becomes a lease of the
/// device named by its `client-hostname`, else its `hardware ethernet` address. Blocks
/// without both times are skipped (`abandoned`, `free` with `ends never` …); a block that
/// cannot be read is an error naming its line.
pub fn parse_isc_leases(text: &str) -> Result<Vec<crate::store::Lease>, Vec<DeviceCsvError>> {
    let err = |line: usize, field: &str, message: String| DeviceCsvError {
        line,
        field: field.to_owned(),
        message,
    };
    let time = |words: &[&str]| -> Option<DateTime<chrono::Utc>> {
        // `starts 1 2026/11/23 07:30:00;`
        let date = words.get(2)?;
        let clock = words.get(3)?.trim_end_matches(';');
        chrono::NaiveDateTime::parse_from_str(&format!("{date} {clock}"), "%Y/%m/%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    };
    let mut leases = Vec::new();
    let mut errors = Vec::new();
    let mut open: Option<(usize, IpAddr)> = None;
    let (mut starts, mut ends, mut host, mut mac) = (None, None, None, None);
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match (open, words.first().copied()) {
            (None, Some("lease")) => {
                match words.get(1).and_then(|a| a.parse::<IpAddr>().ok()) {
                    Some(ip) if words.get(2) == Some(&"{") => open = Some((number, ip)),
                    _ => errors.push(err(
                        number,
                        "lease",
                        format!("expected `lease ADDRESS {{`, found {line:?}"),
                    )),
                }
                (starts, ends, host, mac) = (None, None, None, None);
            }
            (None, _) => {}
            (Some(_), Some("starts")) => starts = time(&words),
            (Some(_), Some("ends")) => ends = time(&words),
            (Some(_), Some("client-hostname")) => {
                host = words
                    .get(1)
                    .map(|h| h.trim_end_matches(';').trim_matches('"').to_owned())
            }
            (Some(_), Some("hardware")) => {
                mac = words.get(2).map(|m| m.trim_end_matches(';').to_lowercase())
            }
            (Some((start_line, ip)), Some("}")) => {
                open = None;
                let device = host.take().filter(|h| !h.is_empty()).or(mac.take());
                match (starts, ends, device) {
                    (Some(from), Some(until), Some(device)) if from < until => {
                        leases.push(crate::store::Lease {
                            device,
                            address: ip,
                            from,
                            until,
                        })
                    }
                    (Some(_), Some(_), None) => errors.push(err(
                        start_line,
                        "lease",
                        "the lease names no host name and no hardware address".into(),
                    )),
                    _ => {}
                }
            }
            (Some(_), _) => {}
        }
    }
    if let Some((line, _)) = open {
        errors.push(err(
            line,
            "lease",
            "the lease block is never closed with `}`".into(),
        ));
    }
    if errors.is_empty() {
        Ok(leases)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod lease_tests {
    use super::*;

    #[test]
    fn isc_leases_name_the_device_by_host_name_else_hardware_address() {
        let text = "# dhcpd.leases\nlease 10.0.0.5 {\n  starts 1 2026/11/23 07:30:00;\n  ends 1 2026/11/23 19:30:00;\n  hardware ethernet AA:BB:CC:00:11:22;\n  client-hostname \"LT-07\";\n}\nlease 10.0.0.6 {\n  starts 1 2026/11/23 08:00:00;\n  ends 1 2026/11/23 20:00:00;\n  hardware ethernet aa:bb:cc:00:11:33;\n}\nlease 10.0.0.7 {\n  starts 1 2026/11/23 08:00:00;\n  ends never;\n  binding state free;\n}\n";
        let leases = parse_isc_leases(text).unwrap();
        let names: Vec<(&str, String)> = leases
            .iter()
            .map(|l| (l.device.as_str(), l.address.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("LT-07", "10.0.0.5".into()),
                ("aa:bb:cc:00:11:33", "10.0.0.6".into())
            ]
        );
        assert_eq!(leases[0].from.to_rfc3339(), "2026-11-23T07:30:00+00:00");
        let bad = parse_isc_leases(
            "lease 10.0.0.999 {\n}\nlease 10.0.0.8 {\n starts 1 2026/11/23 08:00:00;\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = bad.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3]);
    }
}
