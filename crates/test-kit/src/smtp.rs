//! A real SMTP server for tests: Postfix's `smtp-sink` (Debian package `postfix`),
//! listening on 127.0.0.1 on a free port and writing each message it accepts to its own
//! file. A test waits for messages and reads them parsed (recipient, subject, body,
//! Message-ID, attachments); it can stop the server (connections are then refused, as in
//! an outage) and start it again on the same port, or start one that refuses every
//! recipient with a permanent (5xx) error.

use mail_parser::{MessageParser, MimeHeaders};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// One attachment of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAttachment {
    pub filename: String,
    /// e.g. `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope recipients (`RCPT TO`), as sent.
    pub envelope_to: Vec<String>,
    /// The addresses in the `To:` header.
    pub to: Vec<String>,
    pub subject: String,
    /// The first text part, decoded, with line ends as `\n`.
    pub text_body: String,
    /// Without angle brackets, as mail-parser gives it.
    pub message_id: String,
    pub attachments: Vec<ReceivedAttachment>,
    /// The file as `smtp-sink` wrote it (its own headers first).
    pub raw: Vec<u8>,
}

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Accept,
    /// `RCPT` gets a 5xx reply: a permanent refusal.
    RejectRecipients,
}

/// A running (or stopped) `smtp-sink` on 127.0.0.1. Killed when dropped.
pub struct SmtpListener {
    port: u16,
    mode: Mode,
    dir: TempDir,
    child: Option<Child>,
}

impl SmtpListener {
    /// Starts a server that accepts every message, on a free port.
    pub async fn start() -> (SmtpListener, u16) {
        Self::start_mode(Mode::Accept).await
    }

    /// Starts a server that refuses every recipient with a permanent error (550).
    pub async fn start_rejecting() -> (SmtpListener, u16) {
        Self::start_mode(Mode::RejectRecipients).await
    }

    async fn start_mode(mode: Mode) -> (SmtpListener, u16) {
        let dir = tempfile::Builder::new()
            .prefix("undersign-smtp-")
            .tempdir()
            .expect("create a directory for received mail");
        // smtp-sink run by root drops to `nobody`, which must be able to write here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("open up the mail directory");
        let mut listener = SmtpListener {
            port: 0,
            mode,
            dir,
            child: None,
        };
        // A free port may be taken between finding it and smtp-sink binding it: try a
        // few before giving up.
        let mut last_error = String::new();
        for _ in 0..5 {
            listener.port = free_port();
            match listener.spawn().await {
                Ok(()) => {
                    let port = listener.port;
                    return (listener, port);
                }
                Err(e) => last_error = e,
            }
        }
        panic!("could not start smtp-sink: {last_error}");
    }

    /// The port it listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server: from now on connections to its port are refused.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still accepts after smtp-sink was stopped",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the server again on the same port, keeping what it received before.
    pub async fn restart(&mut self) {
        self.stop().await;
        if let Err(e) = self.spawn().await {
            panic!("could not restart smtp-sink on port {}: {e}", self.port);
        }
    }

    /// Every message fully received so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMail> {
        // Listed first, then the files still open are left out: a file created after the
        // look at open files would otherwise be read half-written.
        let listed: Vec<PathBuf> = std::fs::read_dir(self.mail_dir())
            .expect("read the mail directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        let open = self.files_being_written();
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = listed
            .into_iter()
            .filter(|p| !open.contains(p))
            .filter_map(|p| {
                let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
                Some((modified, p))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let raw =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                parse(raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
            .collect()
    }

    /// Waits until at least `n` messages have been received and returns all of them;
    /// fails the test if they have not arrived within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages at the SMTP listener within {timeout:?}, got {}: {:?}",
                got.len(),
                got.iter().map(|m| &m.subject).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let mail_dir = self.mail_dir();
        std::fs::create_dir_all(&mail_dir).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&mail_dir, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| e.to_string())?;
        let program = smtp_sink();
        let mut command = Command::new(&program);
        if running_as_root() {
            command.args(["-u", "nobody"]);
        }
        if self.mode == Mode::RejectRecipients {
            command.args(["-f", "RCPT"]);
        }
        let log = std::fs::File::create(self.dir.path().join("smtp-sink.log"))
            .map_err(|e| e.to_string())?;
        let child = command
            .arg("-d")
            .arg(format!("{}/msg.", mail_dir.display()))
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("100")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.path().join("smtp-sink.log"))
                    .unwrap_or_default();
                return Err(format!("smtp-sink exited with {status}: {log}"));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("smtp-sink did not listen on port {}", self.port));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The message files smtp-sink still has open: they are not complete yet.
    fn files_being_written(&self) -> Vec<PathBuf> {
        let Some(child) = &self.child else {
            return Vec::new();
        };
        std::fs::read_dir(format!("/proc/{}/fd", child.id()))
            .map(|fds| {
                fds.filter_map(Result::ok)
                    .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpListener {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `smtp-sink` from PATH or where Debian installs it; fails the test with what to
/// install if it is missing.
fn smtp_sink() -> PathBuf {
    find_smtp_sink().unwrap_or_else(|| {
        panic!(
            "smtp-sink not found: the SMTP tests need Postfix's test server \
             (apt-get install postfix; see .ci/run)"
        )
    })
}

/// Whether a test that needs the SMTP server should stop here: `true` (after saying so
/// loudly) when `smtp-sink` is not installed, outside CI; in CI (`CI` set) a missing
/// `smtp-sink` fails the test instead, as the PostgreSQL and Squid tests do.
pub fn skip_without_smtp_sink() -> bool {
    if find_smtp_sink().is_some() {
        return false;
    }
    if std::env::var_os("CI").is_some() {
        panic!("smtp-sink is not installed but CI is set: apt-get install -y postfix");
    }
    eprintln!(
        "\n*** SKIPPED: smtp-sink is not installed (apt-get install -y postfix); this SMTP test did not run ***\n"
    );
    true
}

fn find_smtp_sink() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("smtp-sink"))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    on_path.or_else(|| {
        let debian = Path::new("/usr/sbin/smtp-sink");
        debian.is_file().then(|| debian.to_path_buf())
    })
}

/// Parses one file written by smtp-sink.
fn parse(raw: Vec<u8>) -> Result<ReceivedMail, String> {
    let message = MessageParser::default()
        .parse(&raw)
        .ok_or("not a parseable message")?;
    let envelope_to = message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("X-Rcpt-Args"))
        .map(|(_, value)| {
            value
                .trim()
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let to = message
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|addr| addr.address().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let attachments = message
        .attachments()
        .map(|part| ReceivedAttachment {
            filename: part.attachment_name().unwrap_or("").to_string(),
            content_type: part
                .content_type()
                .map(|c| match c.subtype() {
                    Some(sub) => format!("{}/{sub}", c.ctype()),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_default(),
            bytes: part.contents().to_vec(),
        })
        .collect();
    Ok(ReceivedMail {
        envelope_to,
        to,
        subject: message.subject().unwrap_or("").to_string(),
        text_body: message
            .body_text(0)
            .map(|b| b.replace("\r\n", "\n"))
            .unwrap_or_default(),
        message_id: message.message_id().unwrap_or("").to_string(),
        attachments,
        raw: raw.clone(),
    })
}
