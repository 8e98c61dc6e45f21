//! Backends, clients and configurations for the forwarder's socket tests.
//! Everything here is plain std: blocking sockets on loopback, one thread
//! per connection.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fulcrum_dataplane::config::{Algorithm, Group, HttpLimits, Listener, Member, Protocol};
use fulcrum_dataplane::{Config, Driver, Forwarder, Settings};

/// A loopback address with a port that was free a moment ago.
pub fn free_address() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// What a backend saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicU64,
    /// Connections that ended (either side closed them).
    pub closed: AtomicU64,
    pub requests: AtomicU64,
    /// The head of the latest request.
    pub last_head: Mutex<String>,
}

/// A backend on loopback that answers every HTTP request with its name
/// (HTTP) or writes its name and a newline, then echoes (TCP). Stopping it
/// closes its listening socket and every connection.
pub struct Backend {
    pub name: String,
    pub address: SocketAddr,
    pub seen: Arc<Seen>,
    stopped: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Tcp,
}

impl Backend {
    pub fn start(name: &str, kind: Kind) -> Self {
        Self::start_at(
            name,
            kind,
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            Arc::default(),
        )
    }

    /// Starts again on the same address, keeping the record of what it saw.
    pub fn restart(&self, kind: Kind) -> Self {
        Self::start_at(&self.name, kind, self.address, Arc::clone(&self.seen))
    }

    fn start_at(name: &str, kind: Kind, address: SocketAddr, seen: Arc<Seen>) -> Self {
        let listener = TcpListener::bind(address).unwrap();
        let address = listener.local_addr().unwrap();
        let stopped = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        {
            let (name, seen, stopped, connections) = (
                name.to_owned(),
                Arc::clone(&seen),
                Arc::clone(&stopped),
                Arc::clone(&connections),
            );
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    seen.connections.fetch_add(1, Ordering::SeqCst);
                    connections
                        .lock()
                        .unwrap()
                        .push(stream.try_clone().unwrap());
                    let (name, seen) = (name.clone(), Arc::clone(&seen));
                    std::thread::spawn(move || {
                        let _ = match kind {
                            Kind::Http => serve_http(&name, &stream, &seen),
                            Kind::Tcp => serve_tcp(&name, &stream),
                        };
                        // `stop` holds a duplicate of the socket: close it for both.
                        let _ = stream.shutdown(Shutdown::Both);
                        seen.closed.fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
        }
        Self {
            name: name.to_owned(),
            address,
            seen,
            stopped,
            connections,
        }
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }

    pub fn requests(&self) -> u64 {
        self.seen.requests.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> u64 {
        self.seen.connections.load(Ordering::SeqCst)
    }

    /// Connections that ended.
    pub fn closed(&self) -> u64 {
        self.seen.closed.load(Ordering::SeqCst)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve_tcp(name: &str, mut stream: &TcpStream) -> Option<()> {
    stream.write_all(format!("{name}\n").as_bytes()).ok()?;
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return Some(());
        }
        stream.write_all(&buffer[..n]).ok()?;
    }
}

fn serve_http(name: &str, stream: &TcpStream, seen: &Seen) -> Option<()> {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let (head, body) = read_message(&mut reader)?;
        seen.requests.fetch_add(1, Ordering::SeqCst);
        *seen.last_head.lock().unwrap() = head.clone();
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        if head.to_ascii_lowercase().contains("upgrade: websocket") {
            writer
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                .ok()?;
            writer.write_all(format!("{name}\n").as_bytes()).ok()?;
            let mut buffer = [0u8; 4096];
            loop {
                let n = reader.read(&mut buffer).ok()?;
                if n == 0 {
                    return Some(());
                }
                writer.write_all(&buffer[..n]).ok()?;
            }
        }
        if let Some(delay) = path.strip_prefix("/sleep/") {
            std::thread::sleep(Duration::from_millis(delay.parse().unwrap_or(0)));
        }
        let answer = if path == "/echo" {
            String::from_utf8_lossy(&body).into_owned()
        } else {
            name.to_owned()
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Backend: {name}\r\n\r\n{answer}",
            answer.len()
        );
        writer.write_all(response.as_bytes()).ok()?;
    }
}

/// Reads one HTTP/1.1 message (head and a Content-Length or chunked body).
/// `None` at end of stream.
pub fn read_message(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let digits = line.split(';').next()?.trim();
            let size = usize::from_str_radix(digits, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = lower
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
    {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((head, body))
}

/// An HTTP/1.1 client on one keep-alive connection.
pub struct HttpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpClient {
    pub fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// Sends raw bytes and reads one response; `None` when the connection closed.
    pub fn send(&mut self, raw: &[u8]) -> Option<Response> {
        self.writer.write_all(raw).ok()?;
        self.read_response()
    }

    pub fn read_response(&mut self) -> Option<Response> {
        let (head, body) = read_message(&mut self.reader)?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some(Response {
            status,
            head,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    pub fn get(&mut self, path: &str) -> Option<Response> {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
    }

    /// One line of whatever follows (after an upgrade).
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.writer
    }
}

/// Connects over TCP and reads the backend's name line.
pub fn tcp_backend_name(address: SocketAddr) -> Option<(String, TcpStream)> {
    let stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    Some((line.trim().to_owned(), stream))
}

/// Backends "a" and "b" of `kind`.
pub fn two_backends(kind: Kind) -> (Backend, Backend) {
    (Backend::start("a", kind), Backend::start("b", kind))
}

pub fn member(backend: &Backend, weight: u32) -> Member {
    member_at(&backend.name, backend.address, weight)
}

/// Member `id` at `address` (a backend the test runs itself, or none),
/// administratively up.
pub fn member_at(id: &str, address: SocketAddr, weight: u32) -> Member {
    Member {
        id: id.to_owned(),
        address,
        weight,
        admin_state_up: true,
    }
}

pub fn listener(protocol: Protocol, algorithm: Algorithm, members: Vec<Member>) -> Listener {
    Listener {
        id: "lsn-1".to_owned(),
        address: free_address(),
        protocol,
        connection_limit: None,
        idle_timeout: Duration::from_secs(30),
        insert_x_forwarded_for: true,
        access_log: false,
        certificates: Vec::new(),
        group: group("vsg-1", algorithm, members),
        rules: Vec::new(),
    }
}

/// Group `id` of `members`, with no health check, persistence or PROXY header.
pub fn group(id: &str, algorithm: Algorithm, members: Vec<Member>) -> Group {
    Group {
        id: id.to_owned(),
        algorithm,
        health_check: None,
        members,
        proxy_protocol: None,
        passive_health: None,
        persistence: None,
    }
}

/// An HTTP listener ("lsn-1", group "vsg-1") over `a` and `b`, weights 1
/// and 1, round robin.
pub fn http_over(a: &Backend, b: &Backend) -> Listener {
    listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(a, 1), member(b, 1)],
    )
}

pub fn config(generation: u64, listeners: Vec<Listener>) -> Config {
    Config {
        generation,
        listeners: listeners.into_iter().map(Arc::new).collect(),
        standby: Vec::new(),
        http: HttpLimits::default(),
    }
}

/// A forwarder of two unpinned threads (the tests share the machine's cores).
pub fn start(config: Config) -> Forwarder {
    start_on(config, Driver::Auto)
}

/// The same, on `driver`.
pub fn start_on(config: Config, driver: Driver) -> Forwarder {
    start_with(
        Settings {
            driver,
            ..settings()
        },
        config,
    )
}

/// The settings of [`start`]: two unpinned threads.
pub fn settings() -> Settings {
    Settings {
        threads: 2,
        pin_threads: false,
        ..Settings::default()
    }
}

/// A forwarder with `settings`.
pub fn start_with(settings: Settings, config: Config) -> Forwarder {
    Forwarder::start(&settings, config).unwrap()
}

/// Applies `config` and waits until every thread has it.
pub fn reconfigure(forwarder: &Forwarder, config: Config) {
    let generation = config.generation;
    forwarder.apply(config).unwrap();
    assert!(forwarder.wait_applied(generation, Duration::from_secs(5)));
}

/// Counts answers by name.
pub fn tally<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for name in names {
        *counts.entry(name.to_owned()).or_default() += 1;
    }
    counts
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// The settings of [`start`], with access logs written as JSON lines to
/// `path`, each thread queueing `queue_lines` at most.
pub fn logging_to(path: &std::path::Path, queue_lines: usize) -> Settings {
    use fulcrum_dataplane::access_log::{AccessLogSettings, Destination, LogFormat};
    Settings {
        access_log: AccessLogSettings {
            destination: Destination::File {
                path: path.to_owned(),
                max_bytes: 1 << 30,
                keep: 1,
            },
            format: LogFormat::Json,
            queue_lines,
        },
        ..settings()
    }
}

/// The JSON lines of an access-log file.
pub fn access_log_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A fresh directory under the system's temporary one, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
