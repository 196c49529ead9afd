//! The device register and Squid's access log.
//!
//! Detail goes to one table per school, class and period (`log_<class>_s<school>_<tag>`,
//! created by the store's `db::create_log_partition` and listed in `log_partitions`), so
//! that retention drops a whole table. A table's rows are blocks of requests
//! (`logs::LogBlock`): one per batch, day, person and device. A batch's blocks, the daily
//! totals and the source's cursor are written in one transaction under the school's log
//! lock: a batch is stored once or not at all, and two loaders of one school take turns.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::QueryBuilder;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use undersign_core::access::{LogReportViewer, PolicyPublisher, WebRulesOwner};
use undersign_core::disclosure::{BlockedRequest, DayCount, PersonLog, SiteCount};
use undersign_core::ledger::Event;
use undersign_core::logs::{
    LogBatch, LogBlock, LogClass, LogReport, LogSettings, LoggedRequest, Outcome, PartDigest,
    Period, Register, Span, StoredPart, loaded_ranges, parts_of,
};
use undersign_core::store::{
    DeviceRecord, Holder, Lease, LogPartition, Logs, StoreError, StoreResult,
};
use undersign_core::time::rfc3339;
use undersign_core::{DeviceId, PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::{Conn, create_log_partition, lock_key, table_exists, ts};
use crate::errors::db;
use crate::ledger::append;

/// Rows per INSERT of the totals: 9 columns stay well under both databases'
/// bound-parameter limits.
const ROWS_PER_INSERT: usize = 1000;

/// Blocks per INSERT (each a few kilobytes; 9 columns).
const BLOCKS_PER_INSERT: usize = 200;

/// A partition table's columns (see `db::create_log_partition`).
const BLOCK_COLUMNS: &str =
    "school_id, source_id, day, person_id, device_id, first_line, last_line, requests, data";

fn table_name(school: SchoolId, class: LogClass, period: Period) -> String {
    format!("log_{}_s{}_{}", class.as_str(), school.0, period.tag())
}

fn log_lock(school: SchoolId) -> String {
    format!("logs:{school}")
}

/// The two kinds of span a device has.
#[derive(Clone, Copy)]
enum SpanKind {
    Address,
    Holder,
}

impl SpanKind {
    fn table(self) -> &'static str {
        match self {
            Self::Address => "device_addresses",
            Self::Holder => "device_holders",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Holder => "person_id",
        }
    }
}

/// Whether the device's open span of `kind` already holds `value`; if it holds another,
/// closes it at `at` (with its ledger entry) so that the caller can open the new one.
async fn close_unless_same(
    conn: &mut Conn,
    kind: SpanKind,
    school: SchoolId,
    device: i64,
    value: Option<&str>,
    at: DateTime<Utc>,
    by: Option<PersonId>,
) -> StoreResult<bool> {
    let (table, column) = (kind.table(), kind.column());
    let open: Option<(i64, Option<String>)> = sqlx::query_as(&format!(
        "SELECT id, CAST({column} AS TEXT) FROM {table}
         WHERE school_id = $1 AND device_id = $2 AND until_at IS NULL
         ORDER BY from_at DESC, id DESC LIMIT 1"
    ))
    .bind(school.0)
    .bind(device)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some((span, current)) = open else {
        return Ok(false);
    };
    if current.as_deref() == value {
        return Ok(true);
    }
    sqlx::query(&format!("UPDATE {table} SET until_at = $1 WHERE id = $2"))
        .bind(ts(at))
        .bind(span)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let until = rfc3339(at);
    let event = match kind {
        SpanKind::Address => Event::DeviceAddressEnded { span, until, by },
        SpanKind::Holder => Event::DeviceHolderEnded { span, until, by },
    };
    append(conn, school, &event, at).await?;
    Ok(false)
}

#[derive(sqlx::FromRow)]
struct BlockRow {
    day: NaiveDate,
    person_id: Option<i64>,
    device_id: Option<i64>,
    first_line: i64,
    last_line: i64,
    requests: i64,
    data: Vec<u8>,
}

impl BlockRow {
    fn into_block(self, class: LogClass) -> LogBlock {
        let count = |n: i64| u64::try_from(n).unwrap_or(u64::MAX);
        LogBlock {
            class,
            day: self.day,
            person: self.person_id.map(PersonId),
            device: self.device_id.map(DeviceId),
            first_line: count(self.first_line),
            last_line: count(self.last_line),
            rows: count(self.requests),
            data: self.data,
        }
    }
}

/// The requests of stored blocks.
fn decode(blocks: Vec<BlockRow>, class: LogClass) -> StoreResult<Vec<LoggedRequest>> {
    let mut out = Vec::new();
    for row in blocks {
        out.extend(
            row.into_block(class)
                .decode()
                .map_err(|e| StoreError::Backend(e.to_string()))?,
        );
    }
    Ok(out)
}

/// The requests of one partition's blocks of the days `from..=to`.
async fn requests_between(
    conn: &mut Conn,
    table: &str,
    school: SchoolId,
    class: LogClass,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<Vec<LoggedRequest>> {
    let blocks: Vec<BlockRow> = sqlx::query_as(&format!(
        "SELECT {BLOCK_COLUMNS} FROM {table} WHERE school_id = $1 AND day >= $2 AND day <= $3"
    ))
    .bind(school.0)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    decode(blocks, class)
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Logs for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %owner.school(), devices = devices.len()))]
    async fn record_devices(
        &self,
        owner: &WebRulesOwner,
        devices: &[DeviceRecord],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<DeviceId>> {
        let (school, by) = (owner.school(), owner.by());
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut ids = Vec::with_capacity(devices.len());
        for d in devices {
            let (id, name) = device_id(&mut tx, school, &d.name, at, by).await?;
            if let Some(address) = d.address {
                let address = address.to_string();
                let same = close_unless_same(
                    &mut tx,
                    SpanKind::Address,
                    school,
                    id,
                    Some(&address),
                    at,
                    by,
                )
                .await?;
                if !same {
                    let span: i64 = sqlx::query_scalar(
                        "INSERT INTO device_addresses (school_id, device_id, address, from_at, source)
                         VALUES ($1, $2, $3, $4, 'register') RETURNING id",
                    )
                    .bind(school.0)
                    .bind(id)
                    .bind(&address)
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    let event = Event::DeviceAddressed {
                        span,
                        device: DeviceId(id),
                        device_name: name.clone(),
                        address,
                        source: "register".into(),
                        from: rfc3339(at),
                        until: None,
                        by,
                    };
                    append(&mut tx, school, &event, at).await?;
                }
            }
            if let Some(holder) = d.holder {
                let person = match holder {
                    Holder::Person(p) => Some(p),
                    Holder::Nobody => None,
                };
                let value = person.map(|p| p.0.to_string());
                let same = close_unless_same(
                    &mut tx,
                    SpanKind::Holder,
                    school,
                    id,
                    value.as_deref(),
                    at,
                    by,
                )
                .await?;
                if !same {
                    let span: i64 = sqlx::query_scalar(
                        "INSERT INTO device_holders (school_id, device_id, person_id, from_at)
                         VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(school.0)
                    .bind(id)
                    .bind(person.map(|p| p.0))
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    let event = Event::DeviceHeld {
                        span,
                        device: DeviceId(id),
                        device_name: name,
                        person,
                        from: rfc3339(at),
                        by,
                    };
                    append(&mut tx, school, &event, at).await?;
                }
            }
            ids.push(DeviceId(id));
        }
        tx.commit().await.map_err(db)?;
        Ok(ids)
    }

    #[tracing::instrument(skip_all, fields(school = %owner.school(), leases = leases.len()))]
    async fn record_leases(&self, owner: &WebRulesOwner, leases: &[Lease]) -> StoreResult<usize> {
        let (school, by) = (owner.school(), owner.by());
        let now = micros(Utc::now());
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut added = 0;
        for l in leases {
            let (from, until) = (micros(l.from), micros(l.until));
            if until <= from {
                return Err(StoreError::Refused(format!(
                    "the lease of {} to {} ends before it starts",
                    l.address, l.device
                )));
            }
            let (id, name) = device_id(&mut tx, school, &l.device, from, by).await?;
            let span: Option<i64> = sqlx::query_scalar(
                "INSERT INTO device_addresses
                     (school_id, device_id, address, from_at, until_at, source)
                 VALUES ($1, $2, $3, $4, $5, 'dhcp')
                 ON CONFLICT (device_id, address, from_at) DO NOTHING
                 RETURNING id",
            )
            .bind(school.0)
            .bind(id)
            .bind(l.address.to_string())
            .bind(ts(from))
            .bind(ts(until))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let Some(span) = span else { continue };
            let event = Event::DeviceAddressed {
                span,
                device: DeviceId(id),
                device_name: name,
                address: l.address.to_string(),
                source: "dhcp".into(),
                from: rfc3339(from),
                until: Some(rfc3339(until)),
                by,
            };
            append(&mut tx, school, &event, now).await?;
            added += 1;
        }
        tx.commit().await.map_err(db)?;
        Ok(added)
    }

    #[tracing::instrument(skip_all, fields(school = %owner.school()))]
    async fn attribution_register(&self, owner: &WebRulesOwner) -> StoreResult<Register> {
        let school = owner.school();
        let mut conn = self.read.acquire().await.map_err(db)?;
        let mut register = Register::default();
        let people: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, email FROM people WHERE school_id = $1")
                .bind(school.0)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        register.add_emails(people.iter().map(|(id, e)| (PersonId(*id), e.as_str())));
        let addresses: Vec<(i64, String, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT device_id, address, from_at, until_at FROM device_addresses
             WHERE school_id = $1",
        )
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for (device, address, from, until) in addresses {
            let ip: IpAddr = address
                .parse()
                .map_err(|_| StoreError::Backend(format!("stored device address {address:?}")))?;
            register.add_address(
                ip,
                Span {
                    from,
                    until,
                    value: DeviceId(device),
                },
            );
        }
        let holders: Vec<(i64, Option<i64>, DateTime<Utc>, Option<DateTime<Utc>>)> =
            sqlx::query_as(
                "SELECT device_id, person_id, from_at, until_at FROM device_holders
                 WHERE school_id = $1",
            )
            .bind(school.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
        for (device, person, from, until) in holders {
            // A span held by nobody ends whoever held the device before.
            if let Some(person) = person {
                register.add_holder(
                    DeviceId(device),
                    Span {
                        from,
                        until,
                        value: PersonId(person),
                    },
                );
            }
        }
        Ok(register)
    }

    async fn log_cursor(&self, owner: &WebRulesOwner, source: &str) -> StoreResult<u64> {
        let lines: Option<i64> = sqlx::query_scalar(
            "SELECT lines FROM log_sources WHERE school_id = $1 AND source = $2",
        )
        .bind(owner.school().0)
        .bind(source)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(lines.and_then(|l| u64::try_from(l).ok()).unwrap_or(0))
    }

    #[tracing::instrument(skip_all, fields(school = %owner.school(), source = %batch.source, blocks = batch.blocks.len()))]
    async fn load_logs(&self, owner: &WebRulesOwner, batch: &LogBatch) -> StoreResult<()> {
        let school = owner.school();
        let now = micros(Utc::now());
        let count = |n: u64| {
            i64::try_from(n).map_err(|_| StoreError::Refused("line number out of range".into()))
        };
        let (from_line, to_line) = (count(batch.from_line)?, count(batch.to_line)?);
        if to_line < from_line {
            return Err(StoreError::Refused(
                "a batch cannot move its cursor back".into(),
            ));
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_key(&mut tx, &log_lock(school)).await?;
        let current: Option<(i64, i64)> = sqlx::query_as(
            "SELECT id, lines FROM log_sources WHERE school_id = $1 AND source = $2",
        )
        .bind(school.0)
        .bind(&batch.source)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let source_id = match current {
            Some((id, lines)) if lines == from_line => id,
            None if from_line == 0 => sqlx::query_scalar(
                "INSERT INTO log_sources (school_id, source, lines, updated_at)
                 VALUES ($1, $2, 0, $3) RETURNING id",
            )
            .bind(school.0)
            .bind(&batch.source)
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?,
            other => {
                return Err(StoreError::Conflict(format!(
                    "{} has {} lines stored, not {from_line}",
                    batch.source,
                    other.map_or(0, |(_, l)| l)
                )));
            }
        };

        // The batch's blocks by partition.
        let mut parts: BTreeMap<(LogClass, Period), Vec<&LogBlock>> = BTreeMap::new();
        for b in &batch.blocks {
            parts.entry((b.class, b.period())).or_default().push(b);
        }
        for ((class, period), blocks) in &parts {
            let table = table_name(school, *class, *period);
            let known: Option<String> = sqlx::query_scalar(
                "SELECT table_name FROM log_partitions
                 WHERE school_id = $1 AND class = $2 AND period_start = $3",
            )
            .bind(school.0)
            .bind(class.as_str())
            .bind(period.start)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if known.is_none() {
                create_log_partition(
                    &mut tx,
                    &table,
                    school,
                    class.as_str(),
                    (period.start, period.end),
                )
                .await?;
                sqlx::query(
                    "INSERT INTO log_partitions
                         (school_id, class, period_start, period_end, table_name, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(school.0)
                .bind(class.as_str())
                .bind(period.start)
                .bind(period.end)
                .bind(&table)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            for chunk in blocks.chunks(BLOCKS_PER_INSERT) {
                let mut q = QueryBuilder::new(format!("INSERT INTO {table} ({BLOCK_COLUMNS}) "));
                q.push_values(chunk, |mut row, b| {
                    row.push_bind(school.0)
                        .push_bind(source_id)
                        .push_bind(b.day)
                        .push_bind(b.person.map(|p| p.0))
                        .push_bind(b.device.map(|d| d.0))
                        .push_bind(big(b.first_line))
                        .push_bind(big(b.last_line))
                        .push_bind(big(b.rows))
                        .push_bind(b.data.as_slice());
                });
                q.build().execute(&mut *tx).await.map_err(db)?;
            }
            let rows: u64 = blocks.iter().map(|b| b.rows).sum();
            sqlx::query(
                "UPDATE log_partitions SET row_count = row_count + $1
                 WHERE school_id = $2 AND class = $3 AND period_start = $4",
            )
            .bind(big(rows))
            .bind(school.0)
            .bind(class.as_str())
            .bind(period.start)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }

        for chunk in batch.daily.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO log_daily (school_id, day, person_id, device_id, category, class, \
                 requests, denied, bytes) ",
            );
            q.push_values(chunk, |mut b, d| {
                b.push_bind(school.0)
                    .push_bind(d.day)
                    .push_bind(d.person.map_or(0, |p| p.0))
                    .push_bind(d.device.map_or(0, |d| d.0))
                    .push_bind(d.category.as_str())
                    .push_bind(d.class.as_str())
                    .push_bind(big(d.totals.requests))
                    .push_bind(big(d.totals.denied))
                    .push_bind(big(d.totals.bytes));
            });
            q.push(
                " ON CONFLICT (school_id, day, person_id, device_id, category, class) DO UPDATE SET \
                 requests = log_daily.requests + excluded.requests, \
                 denied = log_daily.denied + excluded.denied, \
                 bytes = log_daily.bytes + excluded.bytes",
            );
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        for chunk in batch.sites.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO log_sites_daily (school_id, day, host, requests, denied, bytes) ",
            );
            q.push_values(chunk, |mut b, site| {
                b.push_bind(school.0)
                    .push_bind(site.day)
                    .push_bind(site.host.as_str())
                    .push_bind(big(site.totals.requests))
                    .push_bind(big(site.totals.denied))
                    .push_bind(big(site.totals.bytes));
            });
            q.push(
                " ON CONFLICT (school_id, day, host) DO UPDATE SET \
                 requests = log_sites_daily.requests + excluded.requests, \
                 denied = log_sites_daily.denied + excluded.denied, \
                 bytes = log_sites_daily.bytes + excluded.bytes",
            );
            q.build().execute(&mut *tx).await.map_err(db)?;
        }

        sqlx::query("UPDATE log_sources SET lines = $1, updated_at = $2 WHERE id = $3")
            .bind(to_line)
            .bind(ts(now))
            .bind(source_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Last, so that the school's ledger lock is held only for the appends and commit.
        crate::safeguarding::raise_alerts(&mut tx, school, &batch.alerts, now).await?;
        let event = Event::LogsLoaded {
            source: batch.source.clone(),
            from_line: batch.from_line,
            to_line: batch.to_line,
            parts: parts_of(&batch.blocks),
        };
        append(&mut tx, school, &event, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn logged_requests(
        &self,
        owner: &WebRulesOwner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<LoggedRequest>> {
        let school = owner.school();
        let until = to.succ_opt().unwrap_or(to);
        let mut conn = self.read.acquire().await.map_err(db)?;
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT class, table_name FROM log_partitions
             WHERE school_id = $1 AND period_start < $2 AND period_end > $3
             ORDER BY period_start, class",
        )
        .bind(school.0)
        .bind(until)
        .bind(from)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for (class, table) in tables {
            let class = LogClass::parse(&class)
                .ok_or_else(|| StoreError::Backend(format!("log partition class {class:?}")))?;
            if !table_exists(&mut conn, &table).await? {
                continue;
            }
            out.extend(requests_between(&mut conn, &table, school, class, from, to).await?);
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.line.cmp(&b.line)));
        Ok(out)
    }

    async fn log_partitions(&self, owner: &WebRulesOwner) -> StoreResult<Vec<LogPartition>> {
        let rows: Vec<(String, NaiveDate, NaiveDate, i64)> = sqlx::query_as(
            "SELECT class, period_start, period_end, row_count FROM log_partitions
             WHERE school_id = $1 ORDER BY period_start, class",
        )
        .bind(owner.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(class, start, end, rows)| {
                Ok(LogPartition {
                    class: LogClass::parse(&class)
                        .ok_or_else(|| StoreError::Backend(format!("log class {class:?}")))?,
                    period: Period { start, end },
                    rows: u64::try_from(rows).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn log_report(
        &self,
        viewer: &LogReportViewer,
        from: NaiveDate,
        to: NaiveDate,
        limit: u32,
    ) -> StoreResult<LogReport> {
        let school = viewer.school();
        let limit = i64::from(limit);
        let mut conn = self.read.acquire().await.map_err(db)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let days: Vec<(NaiveDate, String, i64, i64)> = sqlx::query_as(
            "SELECT day, category, CAST(SUM(requests) AS BIGINT), CAST(SUM(denied) AS BIGINT)
             FROM log_daily WHERE school_id = $1 AND day >= $2 AND day <= $3
             GROUP BY day, category ORDER BY day, category",
        )
        .bind(school.0)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let sites: Vec<(String, i64)> = sqlx::query_as(
            "SELECT host, CAST(SUM(denied) AS BIGINT) AS n FROM log_sites_daily
             WHERE school_id = $1 AND day >= $2 AND day <= $3 AND denied > 0
             GROUP BY host ORDER BY n DESC, host LIMIT $4",
        )
        .bind(school.0)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let devices: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT d.name, CAST(SUM(l.requests) AS BIGINT) AS n, CAST(SUM(l.denied) AS BIGINT)
             FROM log_daily l JOIN devices d ON d.school_id = l.school_id AND d.id = l.device_id
             WHERE l.school_id = $1 AND l.day >= $2 AND l.day <= $3
             GROUP BY d.name ORDER BY n DESC, d.name LIMIT $4",
        )
        .bind(school.0)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        // The register of decisions: the blocked partitions (a month each) in the range.
        let until = to.succ_opt().unwrap_or(to);
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT class, table_name FROM log_partitions
             WHERE school_id = $1 AND class <> 'routine' AND period_start < $2 AND period_end > $3",
        )
        .bind(school.0)
        .bind(until)
        .bind(from)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut rules: HashMap<(String, String), u64> = HashMap::new();
        for (class, table) in tables {
            let class = LogClass::parse(&class)
                .ok_or_else(|| StoreError::Backend(format!("log partition class {class:?}")))?;
            if !table_exists(&mut conn, &table).await? {
                continue;
            }
            for r in requests_between(&mut conn, &table, school, class, from, to).await? {
                if r.outcome == Outcome::Denied {
                    *rules
                        .entry((r.rule.unwrap_or_default(), r.category.unwrap_or_default()))
                        .or_default() += 1;
                }
            }
        }
        let mut rules: Vec<(String, String, u64)> =
            rules.into_iter().map(|((r, c), n)| (r, c, n)).collect();
        rules.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        rules.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(LogReport {
            days: days
                .into_iter()
                .map(|(d, c, n, x)| (d, c, count(n), count(x)))
                .collect(),
            blocked_sites: sites.into_iter().map(|(h, n)| (h, count(n))).collect(),
            rules,
            devices: devices
                .into_iter()
                .map(|(d, n, x)| (d, count(n), count(x)))
                .collect(),
        })
    }

    async fn log_settings(&self, school: SchoolId) -> StoreResult<LogSettings> {
        let row: Option<(i64, i64, i64, String, Option<i64>, bool)> = sqlx::query_as(
            "SELECT routine_days, blocked_days, safeguarding_days, safeguarding_categories,
                    head_requests_decider, search_terms
             FROM log_settings WHERE school_id = $1",
        )
        .bind(school.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        let Some((routine, blocked, safeguarding, categories, decider, search_terms)) = row else {
            return Ok(LogSettings::default());
        };
        let days = |d: i64| {
            u32::try_from(d).map_err(|_| StoreError::Backend(format!("log retention {d}")))
        };
        Ok(LogSettings {
            routine_days: days(routine)?,
            blocked_days: days(blocked)?,
            safeguarding_days: days(safeguarding)?,
            safeguarding_categories: serde_json::from_str(&categories)
                .map_err(|e| StoreError::Backend(format!("safeguarding categories: {e}")))?,
            head_requests_decider: decider.map(PersonId),
            search_terms,
        })
    }

    #[tracing::instrument(skip_all, fields(school = %head.school()))]
    async fn set_log_settings(
        &self,
        head: &PolicyPublisher,
        settings: &LogSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        settings.check().map_err(StoreError::Refused)?;
        let school = head.school();
        if let Some(decider) = settings.head_requests_decider {
            let person = undersign_core::store::People::person(self, school, decider)
                .await?
                .ok_or(StoreError::NotFound)?;
            if person
                .roles
                .contains(&undersign_core::person::Role::Headteacher)
            {
                return Err(StoreError::Refused(
                    "the headteacher's requests must be decided by someone other than a headteacher"
                        .into(),
                ));
            }
        }
        let at = micros(at);
        let categories = serde_json::to_string(&settings.safeguarding_categories)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO log_settings (school_id, routine_days, blocked_days, safeguarding_days,
                 safeguarding_categories, updated_by, updated_at, head_requests_decider,
                 search_terms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (school_id) DO UPDATE SET routine_days = excluded.routine_days,
                 blocked_days = excluded.blocked_days,
                 safeguarding_days = excluded.safeguarding_days,
                 safeguarding_categories = excluded.safeguarding_categories,
                 head_requests_decider = excluded.head_requests_decider,
                 search_terms = excluded.search_terms,
                 updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(school.0)
        .bind(i64::from(settings.routine_days))
        .bind(i64::from(settings.blocked_days))
        .bind(i64::from(settings.safeguarding_days))
        .bind(&categories)
        .bind(head.by().0)
        .bind(ts(at))
        .bind(settings.head_requests_decider.map(|p| p.0))
        .bind(settings.search_terms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::LogSettingsChanged {
            settings: settings.clone(),
            by: head.by(),
        };
        append(&mut tx, school, &event, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(school = %school, class = class.as_str()))]
    async fn drop_log_partitions(
        &self,
        school: SchoolId,
        class: LogClass,
        keep_from: NaiveDate,
        retention_days: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<LogPartition>> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_key(&mut tx, &log_lock(school)).await?;
        let expired: Vec<(NaiveDate, NaiveDate, String, i64)> = sqlx::query_as(
            "SELECT period_start, period_end, table_name, row_count FROM log_partitions
             WHERE school_id = $1 AND class = $2 AND period_end <= $3 ORDER BY period_start",
        )
        .bind(school.0)
        .bind(class.as_str())
        .bind(keep_from)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut dropped = Vec::with_capacity(expired.len());
        for (start, end, table, rows) in expired {
            sqlx::query(&format!("DROP TABLE {table}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query(
                "DELETE FROM log_partitions WHERE school_id = $1 AND class = $2 AND period_start = $3",
            )
            .bind(school.0)
            .bind(class.as_str())
            .bind(start)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            let rows = u64::try_from(rows).unwrap_or(0);
            let event = Event::LogPartitionDropped {
                class,
                period_start: start,
                period_end: end,
                rows,
                retention_days,
            };
            append(&mut tx, school, &event, at).await?;
            dropped.push(LogPartition {
                class,
                period: Period { start, end },
                rows,
            });
        }
        sqlx::query("DELETE FROM log_daily WHERE school_id = $1 AND class = $2 AND day < $3")
            .bind(school.0)
            .bind(class.as_str())
            .bind(keep_from)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if class == LogClass::Routine {
            sqlx::query("DELETE FROM log_sites_daily WHERE school_id = $1 AND day < $2")
                .bind(school.0)
                .bind(keep_from)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(dropped)
    }
}

/// The id and name of the school's device called `name`, added when new (with its
/// `device_named` ledger entry).
async fn device_id(
    conn: &mut Conn,
    school: SchoolId,
    name: &str,
    at: DateTime<Utc>,
    by: Option<PersonId>,
) -> StoreResult<(i64, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Refused("a device needs a name".into()));
    }
    if let Some(id) =
        sqlx::query_scalar("SELECT id FROM devices WHERE school_id = $1 AND name = $2")
            .bind(school.0)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
    {
        return Ok((id, name.to_owned()));
    }
    let id = sqlx::query_scalar(
        "INSERT INTO devices (school_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(school.0)
    .bind(name)
    .bind(ts(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let event = Event::DeviceNamed {
        device: DeviceId(id),
        name: name.to_owned(),
        by,
    };
    append(conn, school, &event, at).await?;
    Ok((id, name.to_owned()))
}

/// The school's stored access-log detail, digested per recording entry and partition for
/// `verify` (see `logs::check_log_evidence`): each block given to the `logs_loaded` entry
/// whose lines hold it. Blocks are hashed as stored, not decoded.
pub(crate) async fn stored_parts(
    conn: &mut Conn,
    school: SchoolId,
    entries: &[undersign_core::ledger::LedgerEntry],
) -> StoreResult<Vec<StoredPart>> {
    let sources: HashMap<i64, String> = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, source FROM log_sources WHERE school_id = $1",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .into_iter()
    .collect();
    // Per source, its entries' ranges in line order.
    let mut ranges: HashMap<String, Vec<(u64, u64, i64)>> = HashMap::new();
    for r in loaded_ranges(entries) {
        ranges
            .entry(r.source)
            .or_default()
            .push((r.from_line, r.to_line, r.seq));
    }
    for list in ranges.values_mut() {
        list.sort_unstable();
    }
    let entry_of = |source_id: i64, line: u64| -> Option<i64> {
        let list = ranges.get(sources.get(&source_id)?)?;
        let i = list.partition_point(|(from, _, _)| *from < line);
        let (from, to, seq) = *list.get(i.checked_sub(1)?)?;
        (from < line && line <= to).then_some(seq)
    };
    let tables: Vec<(String, NaiveDate, String)> = sqlx::query_as(
        "SELECT class, period_start, table_name FROM log_partitions
         WHERE school_id = $1 ORDER BY period_start, class",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut out = Vec::new();
    for (class, period_start, table) in tables {
        let class = LogClass::parse(&class)
            .ok_or_else(|| StoreError::Backend(format!("log partition class {class:?}")))?;
        if !table_exists(conn, &table).await? {
            // Its recorded rows are reported missing (or purged, if an entry says so).
            continue;
        }
        let blocks: Vec<SourcedBlock> = sqlx::query_as(&format!(
            "SELECT {BLOCK_COLUMNS} FROM {table} WHERE school_id = $1"
        ))
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut parts: BTreeMap<Option<i64>, PartDigest> = BTreeMap::new();
        for SourcedBlock { source_id, block } in blocks {
            let block = block.into_block(class);
            // A block is one batch's, so all its lines are in one entry's range.
            let first = entry_of(source_id, block.first_line);
            let entry = first.filter(|_| entry_of(source_id, block.last_line) == first);
            parts.entry(entry).or_default().add(&block);
        }
        for (entry, digest) in parts {
            let (rows, sha256) = digest.finish();
            out.push(StoredPart {
                entry,
                class,
                period_start,
                rows,
                sha256,
            });
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct SourcedBlock {
    source_id: i64,
    #[sqlx(flatten)]
    block: BlockRow,
}

/// A person's log over the days `from..=to`, for a disclosure: read from the detail
/// (which `verify` checks block by block), never from the daily totals, so that what a
/// disclosure shows is evidence.
pub(crate) async fn person_log(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<PersonLog> {
    let until = to.succ_opt().unwrap_or(to);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM log_partitions
         WHERE school_id = $1 AND period_start < $2 AND period_end > $3 ORDER BY period_start",
    )
    .bind(school.0)
    .bind(until)
    .bind(from)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut days: BTreeMap<(NaiveDate, String), (u64, u64)> = BTreeMap::new();
    let mut sites: HashMap<String, (u64, u64)> = HashMap::new();
    let mut blocked = Vec::new();
    let mut searches = Vec::new();
    for table in tables {
        if !table_exists(conn, &table).await? {
            continue;
        }
        let blocks: Vec<BlockRow> = sqlx::query_as(&format!(
            "SELECT {BLOCK_COLUMNS} FROM {table}
             WHERE school_id = $1 AND person_id = $2 AND day >= $3 AND day <= $4"
        ))
        .bind(school.0)
        .bind(person.0)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        // The class is the block's partition's; a person's log does not show it.
        for r in decode(blocks, LogClass::Routine)? {
            let denied = u64::from(r.outcome == Outcome::Denied);
            let day = days
                .entry((r.at.date_naive(), r.category.clone().unwrap_or_default()))
                .or_default();
            day.0 += 1;
            day.1 += denied;
            if let Some(term) = &r.search {
                searches.push((r.at, term.clone()));
            }
            let site = sites.entry(r.host).or_default();
            site.0 += 1;
            site.1 += denied;
            if denied == 1 {
                blocked.push(BlockedRequest {
                    at: r.at,
                    url: r.url,
                    rule: r.rule,
                    category: r.category,
                });
            }
        }
    }
    blocked.sort_by_key(|b| b.at);
    searches.sort();
    let mut sites: Vec<SiteCount> = sites
        .into_iter()
        .map(|(host, (requests, denied))| SiteCount {
            host,
            requests,
            denied,
        })
        .collect();
    sites.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.host.cmp(&b.host))
    });
    Ok(PersonLog {
        searches,
        days: days
            .into_iter()
            .map(|((day, category), (requests, denied))| DayCount {
                day,
                category,
                requests,
                denied,
            })
            .collect(),
        sites,
        blocked,
    })
}
