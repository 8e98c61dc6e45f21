//! Access logs: a line for every HTTP request, and for every TCP connection,
//! of a listener whose `access_log` is on.
//!
//! A worker never waits on the log. Each worker thread hands finished
//! entries to a bounded queue of its own (`Queue::push` never blocks); one
//! writer thread drains every queue, formats the lines (JSON lines or the
//! common log format) and writes them to standard output or to a file that
//! it rotates by size. A full queue drops the entry and counts it
//! ([`AccessLogStats::dropped`]); formatting happens on the writer thread,
//! so a worker's cost is the entry's few fields and one queue push.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Protocol;
use crate::counters::ErrorKind;

/// Entries a worker thread's queue holds by default.
pub const DEFAULT_QUEUE_LINES: usize = 4096;

/// How long the writer waits when every queue was empty.
const IDLE_WAIT: Duration = Duration::from_millis(10);

/// Entries the writer takes from one queue before it looks at the next
/// (so a busy thread cannot starve the others' lines).
const BATCH_PER_QUEUE: usize = 1024;

/// The request line is cut to this many bytes in the log.
pub(crate) const MAX_REQUEST_LINE: usize = 1024;

/// Where and how access logs are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogSettings {
    /// Standard output or a file.
    pub destination: Destination,
    /// The line format.
    pub format: LogFormat,
    /// Entries each worker thread's queue holds at most; at least 1. An
    /// entry that finds its queue full is dropped and counted.
    pub queue_lines: usize,
}

impl Default for AccessLogSettings {
    fn default() -> Self {
        Self {
            destination: Destination::Stdout,
            format: LogFormat::Json,
            queue_lines: DEFAULT_QUEUE_LINES,
        }
    }
}

/// Where access-log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The process's standard output.
    Stdout,
    /// A file, appended to; when a line would take it past `max_bytes`, it
    /// is renamed `PATH.1` (an older `PATH.1` becomes `PATH.2`, and so on up
    /// to `PATH.keep`, the oldest dropped) and a new one is started.
    File {
        /// The file.
        path: PathBuf,
        /// Its size at most before rotation; at least 1.
        max_bytes: u64,
        /// Rotated files kept; at least 1.
        keep: u32,
    },
}

/// The format of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, every key present (`null` when it does not apply).
    Json,
    /// The common log format (`client - - [time] "request" status bytes`),
    /// which log tools read as it is.
    Common,
}

/// TLS as the client negotiated it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// `TLSv1.2` or `TLSv1.3`, when known.
    pub(crate) version: Option<&'static str>,
    /// The server name the client asked for.
    pub(crate) sni: Option<Arc<str>>,
}

/// One request (HTTP) or connection (TCP), as a worker hands it over.
#[derive(Debug)]
pub(crate) struct Entry {
    /// When its first byte arrived (HTTP) or it was accepted (TCP).
    pub(crate) at: SystemTime,
    pub(crate) listener: Arc<str>,
    pub(crate) protocol: Protocol,
    pub(crate) client: SocketAddr,
    /// The member chosen, and its address.
    pub(crate) member: Option<(Arc<str>, SocketAddr)>,
    /// HTTP: the request line as received (cut to [`MAX_REQUEST_LINE`]).
    pub(crate) request: Option<String>,
    /// HTTP: the status sent to the client, the member's or the proxy's own.
    pub(crate) status: Option<u16>,
    /// Bytes from the client.
    pub(crate) received: u64,
    /// Bytes to the client.
    pub(crate) sent: u64,
    /// From the first byte in to the last byte out (HTTP), or accept to close (TCP).
    pub(crate) duration: Duration,
    /// HTTP: from the request sent to the member to its response head.
    pub(crate) member_duration: Option<Duration>,
    pub(crate) tls: Option<Handshake>,
    /// What went wrong, if anything.
    pub(crate) error: Option<ErrorKind>,
}

/// What the access log has done since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccessLogStats {
    /// Lines written.
    pub written: u64,
    /// Entries dropped because their thread's queue was full.
    pub dropped: u64,
    /// Lines lost because writing them failed.
    pub failed: u64,
}

/// The writer and what every queue shares with it.
#[derive(Debug)]
pub(crate) struct AccessLog {
    queue_lines: usize,
    receivers: Mutex<Vec<Receiver<Entry>>>,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    stopping: AtomicBool,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl AccessLog {
    /// Opens the destination (so that a file that cannot be written is an
    /// error now, not a lost line later) and starts the writer thread.
    pub(crate) fn start(settings: &AccessLogSettings) -> io::Result<Arc<Self>> {
        if settings.queue_lines == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "access_log.queue_lines: must be at least 1",
            ));
        }
        let sink = Sink::open(&settings.destination)?;
        let log = Arc::new(Self {
            queue_lines: settings.queue_lines,
            receivers: Mutex::new(Vec::new()),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            writer: Mutex::new(None),
        });
        let format = settings.format;
        let writer = {
            let log = Arc::clone(&log);
            std::thread::Builder::new()
                .name("fulcrum-access-log".to_owned())
                .spawn(move || log.write_until_stopped(sink, format))?
        };
        *log.writer.lock().unwrap_or_else(PoisonError::into_inner) = Some(writer);
        Ok(log)
    }

    /// A new queue for one worker thread.
    pub(crate) fn queue(self: &Arc<Self>) -> Queue {
        let (sender, receiver) = std::sync::mpsc::sync_channel(self.queue_lines);
        self.receivers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(receiver);
        Queue {
            sender,
            log: Arc::clone(self),
        }
    }

    pub(crate) fn stats(&self) -> AccessLogStats {
        AccessLogStats {
            written: self.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Writes what the queues still hold, then ends the writer. Call once
    /// the workers have stopped.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            tracing::error!("the access-log writer panicked");
        }
    }

    fn write_until_stopped(&self, mut sink: Sink, format: LogFormat) {
        let mut lines = String::new();
        loop {
            // Read before draining: whatever was queued before the stop is written.
            let stopping = self.stopping.load(Ordering::Acquire);
            let mut taken = 0u64;
            {
                let receivers = self
                    .receivers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                for receiver in receivers.iter() {
                    for entry in receiver.try_iter().take(BATCH_PER_QUEUE) {
                        format_line(&entry, format, &mut lines);
                        taken += 1;
                    }
                }
            }
            if taken > 0 {
                match sink.write(lines.as_bytes()) {
                    Ok(()) => self.written.fetch_add(taken, Ordering::Relaxed),
                    Err(error) => {
                        tracing::warn!(%error, lines = taken, "access log: lines lost");
                        self.failed.fetch_add(taken, Ordering::Relaxed)
                    }
                };
                lines.clear();
            } else if stopping {
                return;
            } else {
                std::thread::sleep(IDLE_WAIT);
            }
        }
    }
}

/// One worker thread's way into the log.
#[derive(Debug)]
pub(crate) struct Queue {
    sender: SyncSender<Entry>,
    log: Arc<AccessLog>,
}

impl Queue {
    /// Hands `entry` to the writer, or drops and counts it when the queue is full.
    pub(crate) fn push(&self, entry: Entry) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.sender.try_send(entry)
        {
            self.log.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where the writer writes.
enum Sink {
    Stdout(io::Stdout),
    File(RotatingFile),
}

impl Sink {
    fn open(destination: &Destination) -> io::Result<Self> {
        Ok(match destination {
            Destination::Stdout => Sink::Stdout(io::stdout()),
            Destination::File {
                path,
                max_bytes,
                keep,
            } => {
                if *max_bytes == 0 || *keep == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "access_log: max_file_bytes and keep_files must be at least 1",
                    ));
                }
                Sink::File(RotatingFile::open(path.clone(), *max_bytes, *keep)?)
            }
        })
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(stdout) => {
                let mut stdout = stdout.lock();
                stdout.write_all(bytes)?;
                stdout.flush()
            }
            Sink::File(file) => file.write(bytes),
        }
    }
}

/// A file rotated by size.
struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: File,
    size: u64,
}

impl RotatingFile {
    fn open(path: PathBuf, max_bytes: u64, keep: u32) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path,
            max_bytes,
            keep,
            file,
            size,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + bytes.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// `PATH.k` → `PATH.k+1` for k = keep-1 … 1, `PATH` → `PATH.1`, a new `PATH`.
    fn rotate(&mut self) -> io::Result<()> {
        let numbered = |n: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        for n in (1..self.keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        std::fs::rename(&self.path, numbered(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Appends `entry`'s line, newline included, to `out`.
fn format_line(entry: &Entry, format: LogFormat, out: &mut String) {
    match format {
        LogFormat::Json => json_line(entry, out),
        LogFormat::Common => common_line(entry, out),
    }
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Http => "http",
        Protocol::Https => "https",
    }
}

/// One JSON object, written field by field (no intermediate values: the
/// writer thread formats every line, and shares the forwarding threads'
/// cores when the process is pinned).
fn json_line(entry: &Entry, out: &mut String) {
    let tls = entry.tls.as_ref();
    out.push_str("{\"time\":\"");
    write_rfc3339(entry.at, out);
    out.push_str("\",\"listener\":");
    json_string(&entry.listener, out);
    let _ = write!(
        out,
        ",\"protocol\":\"{}\",\"client\":\"{}\",\"member\":",
        protocol_name(entry.protocol),
        entry.client
    );
    match &entry.member {
        Some((id, address)) => {
            json_string(id, out);
            let _ = write!(out, ",\"member_address\":\"{address}\"");
        }
        None => out.push_str("null,\"member_address\":null"),
    }
    out.push_str(",\"request\":");
    json_optional(entry.request.as_deref(), out);
    out.push_str(",\"status\":");
    match entry.status {
        Some(status) => {
            let _ = write!(out, "{status}");
        }
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"bytes_received\":{},\"bytes_sent\":{},\"duration_ms\":{:.3},\"member_ms\":",
        entry.received,
        entry.sent,
        entry.duration.as_secs_f64() * 1000.0
    );
    match entry.member_duration {
        Some(took) => {
            let _ = write!(out, "{:.3}", took.as_secs_f64() * 1000.0);
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"tls_version\":");
    json_optional(tls.and_then(|tls| tls.version), out);
    out.push_str(",\"sni\":");
    json_optional(tls.and_then(|tls| tls.sni.as_deref()), out);
    out.push_str(",\"error\":");
    json_optional(entry.error.map(ErrorKind::name), out);
    out.push_str("}\n");
}

/// `text` as a JSON string, or `null`.
fn json_optional(text: Option<&str>, out: &mut String) {
    match text {
        Some(text) => json_string(text, out),
        None => out.push_str("null"),
    }
}

/// `text` as a JSON string: quoted, with `"`, `\\` and control characters escaped.
fn json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `client - - [01/Dec/2026:06:38:15 +0000] "GET / HTTP/1.1" 200 1234`;
/// a TCP connection has `"-"` for the request and `-` for the status.
fn common_line(entry: &Entry, out: &mut String) {
    let _ = write!(out, "{} - - [", entry.client.ip());
    write_clf_time(entry.at, out);
    out.push_str("] \"");
    match &entry.request {
        Some(request) => escape_quoted(request, out),
        None => out.push('-'),
    }
    out.push_str("\" ");
    match entry.status {
        Some(status) => {
            let _ = write!(out, "{status}");
        }
        None => out.push('-'),
    }
    match entry.sent {
        0 => out.push_str(" -\n"),
        sent => {
            let _ = writeln!(out, " {sent}");
        }
    }
}

/// The common log format quotes the request: `"` and `\` are escaped, and
/// control bytes shown as `\xNN`, so a line stays one line.
fn escape_quoted(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// A UTC calendar time.
struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millisecond: u32,
}

impl Utc {
    fn of(at: SystemTime) -> Self {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since.as_secs();
        let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
        let of_day = seconds % 86_400;
        Utc {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
            millisecond: since.subsec_millis(),
        }
    }
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic
/// Gregorian (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-12-01T06:38:15.123Z`.
fn write_rfc3339(at: SystemTime, out: &mut String) {
    let t = Utc::of(at);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millisecond
    );
}

/// `01/Dec/2026:06:38:15 +0000`.
fn write_clf_time(at: SystemTime, out: &mut String) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Utc::of(at);
    let month = MONTHS[(t.month as usize - 1) % 12];
    let _ = write!(
        out,
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day, t.year, t.hour, t.minute, t.second
    );
}

/// The request line at the start of a request head: up to its CR LF, cut to
/// [`MAX_REQUEST_LINE`] bytes, invalid UTF-8 replaced.
pub(crate) fn request_line(head: &[u8]) -> String {
    let end = head
        .iter()
        .position(|&byte| byte == b'\r' || byte == b'\n')
        .unwrap_or(head.len())
        .min(MAX_REQUEST_LINE);
    String::from_utf8_lossy(&head[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            // 2026-12-01T06:38:15.250Z
            at: UNIX_EPOCH + Duration::from_millis(1_796_107_095_250),
            listener: Arc::from("lsn-1"),
            protocol: Protocol::Https,
            client: "192.0.2.7:51000".parse().expect("address"),
            member: Some((Arc::from("mbr-2"), "10.0.0.2:80".parse().expect("address"))),
            request: Some("GET /a\"b HTTP/1.1".to_owned()),
            status: Some(200),
            received: 80,
            sent: 1234,
            duration: Duration::from_micros(1500),
            member_duration: Some(Duration::from_micros(900)),
            tls: Some(Handshake {
                version: Some("TLSv1.3"),
                sni: Some(Arc::from("www.example.com")),
            }),
            error: None,
        }
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        let mut text = String::new();
        write_rfc3339(entry().at, &mut text);
        assert_eq!(text, "2026-12-01T06:38:15.250Z");
        text.clear();
        write_clf_time(entry().at, &mut text);
        assert_eq!(text, "01/Dec/2026:06:38:15 +0000");
    }

    #[test]
    fn json_lines_hold_every_key() {
        let mut out = String::new();
        json_line(&entry(), &mut out);
        assert!(out.ends_with('\n') && out.lines().count() == 1, "{out}");
        let line: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(line["listener"], "lsn-1");
        assert_eq!(line["client"], "192.0.2.7:51000");
        assert_eq!(line["member"], "mbr-2");
        assert_eq!(line["member_address"], "10.0.0.2:80");
        assert_eq!(line["request"], "GET /a\"b HTTP/1.1");
        assert_eq!(line["status"], 200);
        assert_eq!(line["bytes_received"], 80);
        assert_eq!(line["bytes_sent"], 1234);
        assert_eq!(line["duration_ms"], 1.5);
        assert_eq!(line["tls_version"], "TLSv1.3");
        assert_eq!(line["sni"], "www.example.com");
        assert!(line["error"].is_null());

        let odd = Entry {
            request: Some("GET /\u{1}\\\"é HTTP/1.1".to_owned()),
            member: None,
            tls: None,
            status: None,
            error: Some(ErrorKind::NoMember),
            ..entry()
        };
        out.clear();
        json_line(&odd, &mut out);
        let line: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(line["request"], "GET /\u{1}\\\"é HTTP/1.1");
        for key in ["member", "member_address", "status", "tls_version", "sni"] {
            assert!(line[key].is_null(), "{key}: {out}");
        }
        assert_eq!(line["error"], "no_member");
        assert_eq!(line.as_object().map(|line| line.len()), Some(15));
    }

    #[test]
    fn common_lines_quote_the_request() {
        let mut out = String::new();
        common_line(&entry(), &mut out);
        assert_eq!(
            out,
            "192.0.2.7 - - [01/Dec/2026:06:38:15 +0000] \"GET /a\\\"b HTTP/1.1\" 200 1234\n"
        );
        let tcp = Entry {
            protocol: Protocol::Tcp,
            request: None,
            status: None,
            sent: 0,
            ..entry()
        };
        out.clear();
        common_line(&tcp, &mut out);
        assert_eq!(
            out,
            "192.0.2.7 - - [01/Dec/2026:06:38:15 +0000] \"-\" - -\n"
        );
    }

    #[test]
    fn request_lines_stop_at_the_line_end_and_the_cap() {
        assert_eq!(
            request_line(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "GET / HTTP/1.1"
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "x".repeat(5000));
        assert_eq!(request_line(long.as_bytes()).len(), MAX_REQUEST_LINE);
    }

    #[test]
    fn full_queues_drop_and_count() {
        let dir = std::env::temp_dir().join(format!("fulcrum-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("queue.log");
        let log = AccessLog::start(&AccessLogSettings {
            destination: Destination::File {
                path: path.clone(),
                max_bytes: 1 << 20,
                keep: 1,
            },
            format: LogFormat::Json,
            queue_lines: 1,
        })
        .expect("start");
        let queue = log.queue();
        // Far more than a queue of one can hold before the writer wakes.
        for _ in 0..1000 {
            queue.push(entry());
        }
        log.stop();
        let stats = log.stats();
        assert!(stats.dropped > 0, "{stats:?}");
        assert_eq!(stats.written + stats.dropped, 1000, "{stats:?}");
        let lines = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count();
        assert_eq!(lines as u64, stats.written);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn files_rotate_by_size_and_keep_their_count() {
        let dir = std::env::temp_dir().join(format!("fulcrum-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("access.log");
        let mut file = RotatingFile::open(path.clone(), 10, 2).expect("open");
        for line in ["aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n"] {
            file.write(line.as_bytes()).expect("write");
        }
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect(name);
        assert_eq!(read("access.log"), "eeee\nffff\n");
        assert_eq!(read("access.log.1"), "cccc\ndddd\n");
        assert_eq!(read("access.log.2"), "aaaa\nbbbb\n");
        assert!(!dir.join("access.log.3").exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
