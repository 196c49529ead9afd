//! Test support: a fresh database per test on either backend, a seeded school, running
//! the binary, and raw SQL access for playing the attacker.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use undersign_core::access::{PeopleAdmin, PolicyPublisher};
use undersign_core::person::Role;
use undersign_core::school::School;
use undersign_core::signing::{
    AcknowledgedReference, AuthMethod, RequestContext, SignatureInput, SignatureMark,
};
use undersign_core::{PersonId, ReferenceId, SignatureId, VersionId};
use undersign_test_kit::Fixture;

pub use undersign_test_kit::Backend;

pub const PASSWORD: &str = "correct horse battery";

/// A fresh, migrated database (from the test kit: `TEST_POSTGRES_URL`, or a throw-away
/// cluster, or a loud skip) and a key directory, removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
    _db: undersign_test_kit::TestDb,
}

impl Fixture for TestDb {
    async fn open(backend: Backend) -> Option<TestDb> {
        let db = undersign_test_kit::TestDb::open(backend).await?;
        Some(TestDb {
            backend,
            url: db.url.clone(),
            dir: tempfile::tempdir().unwrap(),
            _db: db,
        })
    }
}

impl TestDb {
    pub fn keys_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }
}

/// The binary under test.
pub fn undersign() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_undersign"));
    cmd.env_remove("UNDERSIGN_DATABASE_URL")
        .env_remove("UNDERSIGN_KEYS_DIR")
        .env_remove("UNDERSIGN_CONFIG")
        .env("RUST_LOG", "warn");
    cmd
}

/// Runs the binary to completion.
pub fn run(args: &[&str]) -> Output {
    undersign().args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `undersign verify` on the test database with its key directory.
pub fn verify(db: &TestDb) -> Output {
    let keys = db.keys_dir();
    run(&[
        "verify",
        "--database-url",
        &db.url,
        "--keys-dir",
        keys.to_str().unwrap(),
    ])
}

/// A school with staff, the AUP published with one referenced document.
pub struct Seeded {
    pub school: School,
    pub version: VersionId,
    pub references: Vec<ReferenceId>,
    /// (id, full name, email), all with [`PASSWORD`].
    pub staff: Vec<(PersonId, String, String)>,
}

/// Seeds a school through the same code the CLI uses (schema, key file, people, policy).
pub async fn seed(db: &TestDb, staff: usize) -> Seeded {
    let store = undersign_cli::store::open_store(&db.url).await.unwrap();
    let org = store.create_organisation("Test Council").await.unwrap();
    let created = undersign_cli::provision::create_school(
        store.as_ref(),
        org.id,
        "Test Primary School",
        "test-primary",
        "Europe/London",
        &db.keys_dir(),
    )
    .await
    .unwrap();
    let school = created.school;
    let admin = PeopleAdmin::for_operator(school.id);
    let hash = undersign_cli::password::hash(PASSWORD).unwrap();
    let head = undersign_cli::provision::add_person(
        store.as_ref(),
        &admin,
        &undersign_cli::provision::PersonSpec {
            full_name: "Helen Head".into(),
            email: "head@test.example".into(),
            roles: vec![Role::Headteacher, Role::Staff],
            line_manager: None,
        },
        hash.clone(),
    )
    .await
    .unwrap();
    let mut people = Vec::new();
    for spec in undersign_cli::demo::extra_staff(staff) {
        let p = undersign_cli::provision::add_person(store.as_ref(), &admin, &spec, hash.clone())
            .await
            .unwrap();
        people.push((p.id, spec.full_name.clone(), spec.email.clone()));
    }
    undersign_cli::demo::publish_aup(
        store.as_ref(),
        PolicyPublisher::for_operator(school.id, head.id),
    )
    .await
    .unwrap();
    let policies = store.policies(school.id).await.unwrap();
    let version = policies[0].current.clone().unwrap();
    Seeded {
        school,
        version: version.id,
        references: version.references.iter().map(|r| r.id).collect(),
        staff: people,
    }
}

/// Signs the seeded AUP as staff member `index` (typed signature) and declines nothing;
/// returns the signature's id.
pub async fn sign_directly(db: &TestDb, seeded: &Seeded, index: usize) -> SignatureId {
    let store = undersign_cli::store::open_store(&db.url).await.unwrap();
    let (person, name, _) = &seeded.staff[index];
    let version = store
        .version(seeded.school.id, seeded.version)
        .await
        .unwrap()
        .unwrap();
    let input = SignatureInput {
        school: seeded.school.id,
        person: *person,
        version: version.id,
        typed_name: name.clone(),
        mark: SignatureMark::Typed { text: name.clone() },
        text_sha256: version.text_sha256.clone(),
        declaration: version.declaration.clone(),
        references: version
            .references
            .iter()
            .map(|r| AcknowledgedReference {
                id: r.id,
                title: r.title.clone(),
                sha256: r.sha256.clone(),
            })
            .collect(),
        context: RequestContext::new("192.0.2.8".into(), "Test browser", AuthMethod::Password),
    };
    store
        .record_signature(input, undersign_core::time::now())
        .await
        .unwrap()
        .signature()
        .id
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `undersign serve`, killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub origin: String,
    pub log: PathBuf,
}

impl Server {
    pub async fn start(db: &TestDb, port: u16, log_name: &str) -> Server {
        let log = db.dir.path().join(log_name);
        let file = std::fs::File::create(&log).unwrap();
        let child = undersign()
            .env("RUST_LOG", "info")
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &db.url,
                "--keys-dir",
                db.keys_dir().to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let server = Server {
            child,
            origin: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{}/healthz", self.origin)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "server did not come up; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser-like client for one person: cookies, no automatic redirects.
pub struct Browser {
    pub client: reqwest::Client,
    pub origin: String,
}

impl Browser {
    pub fn new(origin: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
            origin: origin.to_string(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(format!("{}/login", self.origin))
            .header("Origin", &self.origin)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
    }

    /// The CSRF token on a page.
    pub async fn csrf_token(&self, path: &str) -> reqwest::Result<String> {
        let html = self
            .client
            .get(format!("{}{path}", self.origin))
            .send()
            .await?
            .text()
            .await?;
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse(r#"input[name="csrf_token"]"#).unwrap();
        Ok(doc
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap_or_else(|| panic!("no csrf_token on {path}:\n{html}"))
            .to_string())
    }

    /// The `served` token of a sign page, as its form carries it.
    pub async fn served_token(&self, version: VersionId) -> reqwest::Result<String> {
        let html = self
            .client
            .get(format!("{}/sign/{version}", self.origin))
            .send()
            .await?
            .text()
            .await?;
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse(r#"input[name="served"]"#).unwrap();
        Ok(doc
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap_or_default()
            .to_string())
    }

    /// Submits the sign form with a typed signature (and the page's served token).
    pub async fn sign(
        &self,
        version: VersionId,
        csrf: &str,
        name: &str,
        references: &[ReferenceId],
    ) -> reqwest::Result<reqwest::Response> {
        let served = self.served_token(version).await?;
        let mut form: Vec<(&str, String)> = vec![
            ("csrf_token", csrf.to_string()),
            ("served", served),
            ("declaration", "on".into()),
            ("typed_name", name.to_string()),
            ("signature_kind", "typed".into()),
            ("typed_signature", name.to_string()),
            ("signature_png", String::new()),
        ];
        for r in references {
            form.push(("ack", r.to_string()));
        }
        self.client
            .post(format!("{}/sign/{version}", self.origin))
            .header("Origin", &self.origin)
            .form(&form)
            .send()
            .await
    }
}

/// Raw SQL on the test database, as an attacker with database access would have it.
pub enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// One ledger row as stored.
#[derive(Debug, Clone)]
pub struct Row {
    pub seq: i64,
    pub kind: String,
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Raw {
    /// Connects and removes the append-only protection the way an attacker would.
    pub async fn attacker(db: &TestDb) -> Raw {
        use sqlx::Connection;
        match db.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
                sqlx::query("PRAGMA foreign_keys = OFF")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let triggers: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                        .fetch_all(&mut c)
                        .await
                        .unwrap();
                for (t,) in triggers {
                    sqlx::query(&format!("DROP TRIGGER {t}"))
                        .execute(&mut c)
                        .await
                        .unwrap();
                }
                Raw::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                for (table,) in tables {
                    sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER ALL"))
                        .execute(&mut c)
                        .await
                        .unwrap();
                }
                Raw::Postgres(c)
            }
        }
    }

    /// Connects as the application does, with every trigger in place.
    pub async fn plain(db: &TestDb) -> Raw {
        use sqlx::Connection;
        match db.backend {
            Backend::Sqlite => Raw::Sqlite(sqlx::SqliteConnection::connect(&db.url).await.unwrap()),
            Backend::Postgres => Raw::Postgres(sqlx::PgConnection::connect(&db.url).await.unwrap()),
        }
    }

    /// Runs a statement and returns the database's error, if any.
    pub async fn try_exec(&mut self, sql: &str) -> Result<u64, String> {
        match self {
            Raw::Sqlite(c) => sqlx::query(sql).execute(c).await.map(|r| r.rows_affected()),
            Raw::Postgres(c) => sqlx::query(sql).execute(c).await.map(|r| r.rows_affected()),
        }
        .map_err(|e| e.to_string())
    }

    /// A single integer from a query.
    pub async fn count(&mut self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(c).await.unwrap(),
            Raw::Postgres(c) => sqlx::query_scalar(sql).fetch_one(c).await.unwrap(),
        }
    }

    pub async fn exec(&mut self, sql: &str) {
        match self {
            Raw::Sqlite(c) => {
                sqlx::query(sql).execute(c).await.unwrap();
            }
            Raw::Postgres(c) => {
                sqlx::query(sql).execute(c).await.unwrap();
            }
        }
    }

    pub async fn rows(&mut self) -> Vec<Row> {
        let sql = "SELECT seq, kind, payload, prev_hash, hash FROM ledger_entries ORDER BY seq";
        let rows: Vec<(i64, String, String, String, String)> = match self {
            Raw::Sqlite(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
            Raw::Postgres(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
        };
        rows.into_iter()
            .map(|(seq, kind, payload, prev_hash, hash)| Row {
                seq,
                kind,
                payload,
                prev_hash,
                hash,
            })
            .collect()
    }

    /// Overwrites the stored columns of the row at `seq`.
    pub async fn put(&mut self, seq: i64, row: &Row) {
        let sql = "UPDATE ledger_entries SET kind = $1, payload = $2, prev_hash = $3, hash = $4 WHERE seq = $5";
        match self {
            Raw::Sqlite(c) => {
                sqlx::query(sql)
                    .bind(&row.kind)
                    .bind(&row.payload)
                    .bind(&row.prev_hash)
                    .bind(&row.hash)
                    .bind(seq)
                    .execute(c)
                    .await
                    .unwrap();
            }
            Raw::Postgres(c) => {
                sqlx::query(sql)
                    .bind(&row.kind)
                    .bind(&row.payload)
                    .bind(&row.prev_hash)
                    .bind(&row.hash)
                    .bind(seq)
                    .execute(c)
                    .await
                    .unwrap();
            }
        }
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
