//! The device register and Squid's access log.
//!
//! Detail rows go to one table per school, class and period (`log_<class>_s<school>_<tag>`,
//! created by the store's `db::create_log_partition` and listed in `log_partitions`), so
//! that retention drops a whole table. A batch's rows, the daily totals and the source's
//! cursor are written in one transaction under the school's log lock: a batch is stored
//! once or not at all, and two loaders of one school take turns.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::QueryBuilder;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use undersign_core::access::WebRulesOwner;
use undersign_core::logs::{
    LogBatch, LogClass, LoggedRequest, Outcome, Period, Register, Span, Via,
};
use undersign_core::store::{
    DeviceRecord, Holder, Lease, LogPartition, Logs, StoreError, StoreResult,
};
use undersign_core::{DeviceId, PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::{Conn, create_log_partition, lock_key, ts};
use crate::errors::db;

/// Rows per INSERT: 21 columns stay well under both databases' bound-parameter limits.
const ROWS_PER_INSERT: usize = 1000;

const DETAIL_COLUMNS: &str = "school_id, source_id, line, at, client, proxy_user, method, url, \
     host, squid_code, status, bytes, elapsed_ms, content_type, outcome, rule, category, \
     statement, person_id, device_id, via";

fn table_name(school: SchoolId, class: LogClass, period: Period) -> String {
    format!("log_{}_s{}_{}", class.as_str(), school.0, period.tag())
}

fn log_lock(school: SchoolId) -> String {
    format!("logs:{school}")
}

/// Closes at `at` the device's open span in `table` (addresses or holders) unless its
/// `column` already holds `value`; the caller then opens the new span.
async fn move_span(
    conn: &mut Conn,
    table: &str,
    column: &str,
    school: SchoolId,
    device: i64,
    value: Option<String>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let open: Option<(i64, Option<String>)> = sqlx::query_as(&format!(
        "SELECT id, CAST({column} AS TEXT) FROM {table}
         WHERE school_id = $1 AND device_id = $2 AND until_at IS NULL
         ORDER BY from_at DESC LIMIT 1"
    ))
    .bind(school.0)
    .bind(device)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if let Some((_, current)) = &open
        && *current == value
    {
        return Ok(());
    }
    if let Some((id, _)) = open {
        sqlx::query(&format!("UPDATE {table} SET until_at = $1 WHERE id = $2"))
            .bind(ts(at))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    line: i64,
    at: DateTime<Utc>,
    client: String,
    proxy_user: Option<String>,
    method: String,
    url: String,
    host: String,
    squid_code: String,
    status: i32,
    bytes: i64,
    elapsed_ms: i64,
    content_type: Option<String>,
    outcome: String,
    rule: Option<String>,
    category: Option<String>,
    statement: Option<i32>,
    person_id: Option<i64>,
    device_id: Option<i64>,
    via: String,
}

impl DetailRow {
    fn into_request(self, class: LogClass) -> StoreResult<LoggedRequest> {
        let bad = |what: &str| StoreError::Backend(format!("stored log row: bad {what}"));
        Ok(LoggedRequest {
            line: u64::try_from(self.line).map_err(|_| bad("line"))?,
            at: self.at,
            client: self.client.parse().map_err(|_| bad("client"))?,
            proxy_user: self.proxy_user,
            method: self.method,
            url: self.url,
            host: self.host,
            squid_code: self.squid_code,
            status: u16::try_from(self.status).map_err(|_| bad("status"))?,
            bytes: u64::try_from(self.bytes).map_err(|_| bad("bytes"))?,
            elapsed_ms: u32::try_from(self.elapsed_ms).map_err(|_| bad("elapsed_ms"))?,
            content_type: self.content_type,
            outcome: Outcome::parse(&self.outcome).ok_or_else(|| bad("outcome"))?,
            rule: self.rule,
            category: self.category,
            statement: self.statement,
            class,
            person: self.person_id.map(PersonId),
            device: self.device_id.map(DeviceId),
            via: Via::parse(&self.via).ok_or_else(|| bad("via"))?,
        })
    }
}

/// Totals of one batch for the daily tables.
#[derive(Default)]
struct Totals {
    requests: i64,
    denied: i64,
    bytes: i64,
}

impl Totals {
    fn add(&mut self, r: &LoggedRequest) {
        self.requests += 1;
        self.denied += i64::from(r.outcome == Outcome::Denied);
        self.bytes = self
            .bytes
            .saturating_add(i64::try_from(r.bytes).unwrap_or(i64::MAX));
    }
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
        let school = owner.school();
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut ids = Vec::with_capacity(devices.len());
        for d in devices {
            let id = device_id(&mut tx, school, &d.name, at).await?;
            if let Some(address) = d.address {
                let value = Some(address.to_string());
                move_span(
                    &mut tx,
                    "device_addresses",
                    "address",
                    school,
                    id,
                    value,
                    at,
                )
                .await?;
                sqlx::query(
                    "INSERT INTO device_addresses (school_id, device_id, address, from_at, source)
                     SELECT $1, $2, $3, $4, 'register'
                     WHERE NOT EXISTS (SELECT 1 FROM device_addresses
                         WHERE device_id = $2 AND until_at IS NULL AND address = $3)",
                )
                .bind(school.0)
                .bind(id)
                .bind(address.to_string())
                .bind(ts(at))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            if let Some(holder) = d.holder {
                let person = match holder {
                    Holder::Person(p) => Some(p.0),
                    Holder::Nobody => None,
                };
                move_span(
                    &mut tx,
                    "device_holders",
                    "person_id",
                    school,
                    id,
                    person.map(|p| p.to_string()),
                    at,
                )
                .await?;
                sqlx::query(
                    "INSERT INTO device_holders (school_id, device_id, person_id, from_at)
                     SELECT $1, $2, $3, $4
                     WHERE NOT EXISTS (SELECT 1 FROM device_holders
                         WHERE device_id = $2 AND until_at IS NULL
                           AND COALESCE(person_id, 0) = COALESCE($3, 0))",
                )
                .bind(school.0)
                .bind(id)
                .bind(person)
                .bind(ts(at))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            ids.push(DeviceId(id));
        }
        tx.commit().await.map_err(db)?;
        Ok(ids)
    }

    #[tracing::instrument(skip_all, fields(school = %owner.school(), leases = leases.len()))]
    async fn record_leases(&self, owner: &WebRulesOwner, leases: &[Lease]) -> StoreResult<usize> {
        let school = owner.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut added = 0;
        for l in leases {
            let id = device_id(&mut tx, school, &l.device, micros(l.from)).await?;
            let done = sqlx::query(
                "INSERT INTO device_addresses
                     (school_id, device_id, address, from_at, until_at, source)
                 VALUES ($1, $2, $3, $4, $5, 'dhcp')
                 ON CONFLICT (device_id, address, from_at) DO NOTHING",
            )
            .bind(school.0)
            .bind(id)
            .bind(l.address.to_string())
            .bind(ts(micros(l.from)))
            .bind(ts(micros(l.until)))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            added += usize::try_from(done.rows_affected()).unwrap_or(0);
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

    #[tracing::instrument(skip_all, fields(school = %owner.school(), source = %batch.source, rows = batch.requests.len()))]
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

        // The batch's rows by partition, each in line order.
        let mut parts: BTreeMap<(LogClass, Period), Vec<&LoggedRequest>> = BTreeMap::new();
        for r in &batch.requests {
            parts
                .entry((r.class, r.class.period(r.day())))
                .or_default()
                .push(r);
        }
        for ((class, period), rows) in &parts {
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
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut q = QueryBuilder::new(format!("INSERT INTO {table} ({DETAIL_COLUMNS}) "));
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(school.0)
                        .push_bind(source_id)
                        .push_bind(i64::try_from(r.line).unwrap_or(i64::MAX))
                        .push_bind(ts(micros(r.at)))
                        .push_bind(r.client.to_string())
                        .push_bind(r.proxy_user.as_deref())
                        .push_bind(r.method.as_str())
                        .push_bind(r.url.as_str())
                        .push_bind(r.host.as_str())
                        .push_bind(r.squid_code.as_str())
                        .push_bind(i32::from(r.status))
                        .push_bind(i64::try_from(r.bytes).unwrap_or(i64::MAX))
                        .push_bind(i64::from(r.elapsed_ms))
                        .push_bind(r.content_type.as_deref())
                        .push_bind(r.outcome.as_str())
                        .push_bind(r.rule.as_deref())
                        .push_bind(r.category.as_deref())
                        .push_bind(r.statement)
                        .push_bind(r.person.map(|p| p.0))
                        .push_bind(r.device.map(|d| d.0))
                        .push_bind(r.via.as_str());
                });
                q.build().execute(&mut *tx).await.map_err(db)?;
            }
            sqlx::query(
                "UPDATE log_partitions SET row_count = row_count + $1
                 WHERE school_id = $2 AND class = $3 AND period_start = $4",
            )
            .bind(i64::try_from(rows.len()).unwrap_or(i64::MAX))
            .bind(school.0)
            .bind(class.as_str())
            .bind(period.start)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }

        let mut daily: HashMap<(NaiveDate, i64, i64, &str, LogClass), Totals> = HashMap::new();
        let mut sites: HashMap<(NaiveDate, &str), Totals> = HashMap::new();
        for r in &batch.requests {
            let key = (
                r.day(),
                r.person.map_or(0, |p| p.0),
                r.device.map_or(0, |d| d.0),
                r.category.as_deref().unwrap_or(""),
                r.class,
            );
            daily.entry(key).or_default().add(r);
            sites.entry((r.day(), r.host.as_str())).or_default().add(r);
        }
        let daily: Vec<_> = daily.into_iter().collect();
        for chunk in daily.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO log_daily (school_id, day, person_id, device_id, category, class, \
                 requests, denied, bytes) ",
            );
            q.push_values(
                chunk,
                |mut b, ((day, person, device, category, class), t)| {
                    b.push_bind(school.0)
                        .push_bind(*day)
                        .push_bind(*person)
                        .push_bind(*device)
                        .push_bind(*category)
                        .push_bind(class.as_str())
                        .push_bind(t.requests)
                        .push_bind(t.denied)
                        .push_bind(t.bytes);
                },
            );
            q.push(
                " ON CONFLICT (school_id, day, person_id, device_id, category, class) DO UPDATE SET \
                 requests = log_daily.requests + excluded.requests, \
                 denied = log_daily.denied + excluded.denied, \
                 bytes = log_daily.bytes + excluded.bytes",
            );
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        let sites: Vec<_> = sites.into_iter().collect();
        for chunk in sites.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO log_sites_daily (school_id, day, host, requests, denied, bytes) ",
            );
            q.push_values(chunk, |mut b, ((day, host), t)| {
                b.push_bind(school.0)
                    .push_bind(*day)
                    .push_bind(*host)
                    .push_bind(t.requests)
                    .push_bind(t.denied)
                    .push_bind(t.bytes);
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
        let start = from.and_time(chrono::NaiveTime::MIN).and_utc();
        let end = until.and_time(chrono::NaiveTime::MIN).and_utc();
        let mut out = Vec::new();
        for (class, table) in tables {
            let class = LogClass::parse(&class)
                .ok_or_else(|| StoreError::Backend(format!("log partition class {class:?}")))?;
            let rows: Vec<DetailRow> = sqlx::query_as(&format!(
                "SELECT line, at, client, proxy_user, method, url, host, squid_code, status,
                        bytes, elapsed_ms, content_type, outcome, rule, category, statement,
                        person_id, device_id, via
                 FROM {table} WHERE school_id = $1 AND at >= $2 AND at < $3"
            ))
            .bind(school.0)
            .bind(ts(start))
            .bind(ts(end))
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
            for row in rows {
                out.push(row.into_request(class)?);
            }
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
}

/// The id of the school's device called `name`, added when new.
async fn device_id(
    conn: &mut Conn,
    school: SchoolId,
    name: &str,
    at: DateTime<Utc>,
) -> StoreResult<i64> {
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
        return Ok(id);
    }
    sqlx::query_scalar(
        "INSERT INTO devices (school_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(school.0)
    .bind(name)
    .bind(ts(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(db)
}
