//! End to end with a real Squid: the `undersign` binary runs as Squid's external ACL helper on
//! loopback, with Squid's `hosts_file` sending the test domains to a small origin server on
//! 127.0.0.1, and requests coming from 127.0.0.2 (a school computer) and 127.0.0.3 (a staff
//! personal device). The rules are `examples/filter.toml` with its networks moved to those
//! addresses, and the time is set with the helper's `--clock` option.
//!
//! Needs Debian's `squid` package. Without it the test fails when `CI` is set and is skipped
//! with a loud message otherwise.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::free_port;

pub(crate) const SCHOOL_DEVICE: &str = "127.0.0.2";
pub(crate) const PERSONAL_DEVICE: &str = "127.0.0.3";
const DOMAINS: &[&str] = &[
    "www.facebook.com",
    "facebook.com",
    "pornhub.com",
    "www.example.org",
    "illegal-content-test.invalid",
    "www.reddit.com",
];

pub(crate) fn squid_binary() -> Option<PathBuf> {
    ["/usr/sbin/squid", "/usr/bin/squid", "/usr/local/sbin/squid"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A tiny HTTP origin that answers every request with 200 and a known body.
pub(crate) struct Origin {
    pub(crate) port: u16,
    stop: Arc<AtomicBool>,
}

impl Origin {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        let body = "origin says hello";
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { port, stop }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A Squid started from a temporary directory on a free port, stopped on drop.
pub(crate) struct Squid {
    child: Child,
    pub(crate) conf: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Squid {
    fn start(squid: &Path, dir: &Path, clock: &str) -> Self {
        Self::start_with(squid, dir, clock, "")
    }

    /// Starts Squid with `extra` lines added to its configuration.
    pub(crate) fn start_with(squid: &Path, dir: &Path, clock: &str, extra: &str) -> Self {
        let port = free_port();
        let conf = dir.join(format!("squid-{port}.conf"));
        let helper = dir.join("undersign");
        let rules = dir.join("filter.toml");
        let user = if is_root() {
            "cache_effective_user proxy\n"
        } else {
            ""
        };
        let d = dir.display();
        std::fs::write(
            &conf,
            format!(
                "http_port 127.0.0.1:{port}
pid_filename {d}/run/squid-{port}.pid
cache_log {d}/logs/cache.log
access_log stdio:{d}/logs/access.log squid
logformat undersign %>a %un %Ss/%03>Hs %rm %ru rule=%note{{rule_}} category=%note{{category_}} statement=%note{{statement_}}
access_log stdio:{d}/logs/undersign.log undersign
cache_store_log none
cache deny all
cache_mem 4 MB
hosts_file {d}/hosts
dns_nameservers 127.0.0.1
coredump_dir {d}/run
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
{user}
external_acl_type undersign ttl=1 negative_ttl=1 children-max=1 children-startup=1 concurrency=20 %>a %un %>rm %>ru {helper} squid-helper --rules {rules} --clock \"{clock}\"
acl undersign_allows external undersign
deny_info http://undersign.test/blocked?url=%U&src=%i&user=%a&msg=%o undersign_allows
http_access deny !undersign_allows
http_access allow undersign_allows
http_access deny all
{extra}
",
                helper = helper.display(),
                rules = rules.display(),
            ),
        )
        .unwrap();
        let child = Command::new(squid)
            .args(["-N", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start squid");
        let squid = Self {
            child,
            conf,
            dir: dir.to_owned(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Squid did not start listening:\n{}",
                squid.cache_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        squid
    }

    pub(crate) fn cache_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/cache.log")).unwrap_or_default()
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/undersign.log")).unwrap_or_default()
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = Command::new(squid_binary().unwrap_or_default())
            .arg("-f")
            .arg(&self.conf)
            .args(["-k", "shutdown"])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What Squid answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    location: Option<String>,
    body: String,
}

impl Answer {
    /// The block page's `msg` parameter, decoded.
    fn message(&self) -> String {
        let loc = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("no Location in {self:?}"));
        param(loc, "msg").unwrap_or_else(|| panic!("no msg= in {loc}"))
    }
}

fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends one raw request line through Squid from `src` (a loopback address).
fn send(squid: &Squid, src: &str, request_line: &str, host: &str) -> Answer {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let raw = rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(src.parse().unwrap(), 0)).unwrap();
        let mut stream = socket.connect(SocketAddr::from(([127, 0, 0, 1], squid.port))).await.unwrap();
        let req = format!("{request_line}\r\nHost: {host}\r\nUser-Agent: undersign-squid-test\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut buf)).await;
        buf
    });
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let location = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .map(str::to_owned);
    Answer {
        status,
        location,
        body: body.to_owned(),
    }
}

pub(crate) fn get(squid: &Squid, origin: &Origin, src: &str, host: &str) -> Answer {
    send(
        squid,
        src,
        &format!("GET http://{host}:{}/ HTTP/1.1", origin.port),
        host,
    )
}

/// Lays out the temporary directory: the helper binary, the example rules with loopback
/// networks, the sample lists, the hosts file, and log/run folders Squid's user can write.
pub(crate) fn prepare(dir: &Path) {
    let root = repo_root();
    std::fs::copy(env!("CARGO_BIN_EXE_undersign"), dir.join("undersign")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/filter.toml")).unwrap();
    let rules = example
        .replace(
            r#"cidrs = ["10.10.0.0/16"]"#,
            &format!(r#"cidrs = ["{SCHOOL_DEVICE}/32"]"#),
        )
        .replace(
            r#"cidrs = ["10.20.0.0/16"]"#,
            &format!(r#"cidrs = ["{PERSONAL_DEVICE}/32"]"#),
        );
    assert_ne!(
        rules, example,
        "examples/filter.toml no longer declares the networks this test moves"
    );
    std::fs::write(dir.join("filter.toml"), rules).unwrap();
    copy_dir(&root.join("examples/lists"), &dir.join("lists"));
    std::fs::write(
        dir.join("hosts"),
        format!("127.0.0.1 {}\n", DOMAINS.join(" ")),
    )
    .unwrap();
    for sub in ["logs", "run"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    open_up(dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Squid drops root to its `proxy` user, which must read the rules and write the logs.
pub(crate) fn open_up(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).unwrap();
    if meta.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
        for e in std::fs::read_dir(path).unwrap() {
            open_up(&e.unwrap().path());
        }
    } else {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

const STATEMENT_3: &str = "AUP statement 3: I will not access facebook or other social networking sites from a school computer whilst on school premises.";
const STATEMENT_11: &str = "AUP statement 11: I will not browse, download, upload or distribute any material that could be considered offensive, illegal or discriminatory.";

#[test]
fn squid_enforces_the_aup_web_rules_through_the_undersign_helper() {
    let Some(squid_bin) = squid_binary() else {
        if std::env::var_os("CI").is_some() {
            panic!("squid is not installed but CI is set: apt-get install -y squid squidguard");
        }
        eprintln!(
            "\n*** SKIPPED: squid is not installed (apt-get install -y squid); the Squid test did not run ***\n"
        );
        return;
    };
    let tmp = tempfile::Builder::new()
        .prefix("undersign-squid-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    prepare(dir);
    let origin = Origin::start();

    // Monday 23 November 2026 (Autumn 2), 10:35: morning break.
    {
        let squid = Squid::start(&squid_bin, dir, "2026-11-23 10:35");

        let a = get(&squid, &origin, SCHOOL_DEVICE, "www.facebook.com");
        assert_eq!(
            a.status, 302,
            "social networking from a school computer must be blocked: {a:?}"
        );
        assert!(
            a.location
                .as_deref()
                .unwrap()
                .starts_with("http://undersign.test/blocked?"),
            "{a:?}"
        );
        assert!(
            a.message().starts_with(STATEMENT_3),
            "the block page must quote statement 3: {}",
            a.message()
        );
        assert_eq!(
            param(a.location.as_deref().unwrap(), "src").as_deref(),
            Some(SCHOOL_DEVICE)
        );
        assert_eq!(
            param(a.location.as_deref().unwrap(), "url").as_deref(),
            Some(format!("http://www.facebook.com:{}/", origin.port).as_str())
        );

        let a = get(&squid, &origin, PERSONAL_DEVICE, "www.facebook.com");
        assert_eq!(
            a.status, 200,
            "a personal device may use social networking at break: {a:?}"
        );
        assert_eq!(a.body, "origin says hello");

        for src in [SCHOOL_DEVICE, PERSONAL_DEVICE] {
            let a = get(&squid, &origin, src, "pornhub.com");
            assert_eq!(
                a.status, 302,
                "adult content is blocked for everyone ({src}): {a:?}"
            );
            assert_eq!(a.message(), STATEMENT_11);

            let a = get(&squid, &origin, src, "illegal-content-test.invalid");
            assert_eq!(
                a.status, 302,
                "illegal content is blocked for everyone ({src}): {a:?}"
            );
            assert_eq!(a.message(), STATEMENT_11);

            let a = get(&squid, &origin, src, "www.example.org");
            assert_eq!(a.status, 200, "an unlisted site is allowed ({src}): {a:?}");
            assert_eq!(a.body, "origin says hello");
        }

        // Squid hands the helper a URL with its escapes as the client sent them, and the
        // helper decodes it once, as squidGuard does: `%6e` is an `n`, so this is the
        // listed adult page; `%256e` is the text `%6e`, so this is not.
        let path = |p: &str| format!("GET http://www.reddit.com:{}{p} HTTP/1.1", origin.port);
        let a = send(
            &squid,
            PERSONAL_DEVICE,
            &path("/r/%6esfw"),
            "www.reddit.com",
        );
        assert_eq!(
            a.status, 302,
            "an escaped letter is still the listed page: {a:?}"
        );
        assert_eq!(a.message(), STATEMENT_11);
        let a = send(
            &squid,
            PERSONAL_DEVICE,
            &path("/r/%256esfw"),
            "www.reddit.com",
        );
        assert_eq!(
            a.status, 200,
            "an escaped percent sign is not decoded twice into the listed page: {a:?}"
        );

        // HTTPS is a CONNECT to host:443; the host alone decides.
        let a = send(
            &squid,
            SCHOOL_DEVICE,
            "CONNECT www.facebook.com:443 HTTP/1.1",
            "www.facebook.com:443",
        );
        assert_ne!(
            a.status, 200,
            "a CONNECT to social networking from a school computer must not open: {a:?}"
        );

        let log = squid.access_log();
        assert!(
            log.lines().any(|l| l.starts_with(SCHOOL_DEVICE)
                && l.contains("www.facebook.com")
                && l.contains("rule=no-social-networking-on-school-computers category=socialnetworking statement=3")),
            "the access log must name the rule, category and statement:\n{log}"
        );
    }

    // The same Monday at 14:00: no break.
    {
        let squid = Squid::start(&squid_bin, dir, "2026-11-23 14:00");
        let a = get(&squid, &origin, PERSONAL_DEVICE, "www.facebook.com");
        assert_eq!(
            a.status, 302,
            "outside break a personal device is blocked too: {a:?}"
        );
        assert!(a.message().starts_with(STATEMENT_3), "{}", a.message());
        let a = get(&squid, &origin, PERSONAL_DEVICE, "www.example.org");
        assert_eq!(a.status, 200, "{a:?}");
        let log = squid.access_log();
        assert!(
            log.contains("rule=no-social-networking-on-personal-devices-outside-break category=socialnetworking statement=3"),
            "{log}"
        );
    }
}
