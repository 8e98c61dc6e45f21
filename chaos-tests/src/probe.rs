//! Probes of the data plane from the client namespace: backends that say who
//! they are and which node sent the request, a fixed-rate HTTP prober
//! through the EIP, and an ARP watch that asks who answers for the EIP.
//!
//! Sockets are made inside the client namespace on threads of their own
//! ([`fulcrum_eip::netns::run_in`]) and keep that namespace.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fulcrum_eip::arp::{Mac, Port};
use fulcrum_eip::netns::run_in;

use crate::cluster::{CLIENT_ADDRESS, CLIENT_NAMESPACE};

/// The reply a backend gives: `backend=NAME via=NODE_ADDRESS`.
fn greeting(name: &str, peer: SocketAddr) -> String {
    format!("backend={name} via={}\n", peer.ip())
}

/// What a backend's greeting says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// The backend's name.
    pub backend: String,
    /// The address of the node that forwarded the request.
    pub via: Ipv4Addr,
}

impl Greeting {
    /// Reads a greeting from the end of `text` (an HTTP response or a line).
    pub fn find(text: &str) -> Option<Self> {
        let line = text
            .lines()
            .rev()
            .find(|line| line.starts_with("backend="))?;
        let (backend, via) = line.strip_prefix("backend=")?.split_once(" via=")?;
        Some(Self {
            backend: backend.to_owned(),
            via: via.trim().parse().ok()?,
        })
    }
}

/// A backend instance in the client namespace.
pub struct Backend {
    /// Where it listens.
    pub address: SocketAddr,
}

impl Backend {
    /// An HTTP/1.1 server (keep-alive, GET only) on `port` of the client's
    /// address, answering every request with its greeting.
    ///
    /// # Errors
    /// The port could not be bound in the client namespace.
    pub fn http(name: &str, port: u16) -> io::Result<Self> {
        Self::serve(name, port, serve_http)
    }

    /// A TCP server on `port` that writes its greeting and closes.
    ///
    /// # Errors
    /// The port could not be bound in the client namespace.
    pub fn tcp(name: &str, port: u16) -> io::Result<Self> {
        Self::serve(name, port, |name, mut stream, peer| {
            let _ = stream.write_all(greeting(name, peer).as_bytes());
        })
    }

    fn serve(name: &str, port: u16, handle: fn(&str, TcpStream, SocketAddr)) -> io::Result<Self> {
        let address = SocketAddr::from((CLIENT_ADDRESS, port));
        let listener = run_in(CLIENT_NAMESPACE, move || TcpListener::bind(address))??;
        let name: Arc<str> = Arc::from(name);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let name = Arc::clone(&name);
                std::thread::spawn(move || {
                    if let Ok(peer) = stream.peer_addr() {
                        handle(&name, stream, peer);
                    }
                });
            }
        });
        Ok(Self { address })
    }
}

fn serve_http(name: &str, stream: TcpStream, peer: SocketAddr) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut writer = writer;
    let mut reader = BufReader::new(stream);
    let body = greeting(name, peer);
    loop {
        // The head, to its empty line; bodies are not expected (GET).
        let mut line = String::new();
        let mut any = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            any = true;
        }
        if !any {
            continue;
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// One probe's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered by a backend, through a node.
    Served(Greeting),
    /// No answer: the reason.
    Failed(String),
}

/// One probe: when it was sent, how long it took, and its outcome.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When the probe started.
    pub sent: Instant,
    /// How long until its outcome.
    pub took: Duration,
    /// What came back.
    pub outcome: Outcome,
}

/// One request through `target`: HTTP GET when `http`, otherwise a TCP
/// connection read to its end; each on a new connection.
fn probe_once(target: SocketAddr, http: bool, timeout: Duration) -> Outcome {
    let attempt = || -> io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&target, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        if http {
            stream.write_all(
                format!("GET / HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n").as_bytes(),
            )?;
        }
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    };
    match attempt() {
        Ok(text) => match Greeting::find(&text) {
            Some(greeting) if !http || text.starts_with("HTTP/1.1 200") => {
                Outcome::Served(greeting)
            }
            _ => Outcome::Failed(format!(
                "unexpected answer: {:?}",
                text.lines().next().unwrap_or("")
            )),
        },
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

/// `count` probes through `target` from the client namespace, one after
/// another.
///
/// # Errors
/// The client namespace could not be entered.
pub fn probe_many(
    target: SocketAddr,
    http: bool,
    count: usize,
    timeout: Duration,
) -> io::Result<Vec<Sample>> {
    run_in(CLIENT_NAMESPACE, move || {
        (0..count)
            .map(|_| {
                let sent = Instant::now();
                let outcome = probe_once(target, http, timeout);
                Sample {
                    sent,
                    took: sent.elapsed(),
                    outcome,
                }
            })
            .collect()
    })
}

/// A background activity in the client namespace that runs until stopped.
pub struct Running<T> {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<io::Result<T>>,
}

impl<T> Running<T> {
    /// Stops it and returns what it gathered.
    ///
    /// # Errors
    /// It could not enter the namespace or open its socket.
    pub fn finish(self) -> io::Result<T> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| io::Error::other("a probe thread panicked"))?
    }
}

fn run_until_stopped<T: Send + 'static>(
    work: impl FnOnce(&AtomicBool) -> io::Result<T> + Send + 'static,
) -> Running<T> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::spawn(move || run_in(CLIENT_NAMESPACE, move || work(&flag))?);
    Running { stop, thread }
}

/// Probes `target` every `period` (HTTP GET when `http`), each on a new
/// connection with `timeout`, until stopped.
pub fn probe_steadily(
    target: SocketAddr,
    http: bool,
    period: Duration,
    timeout: Duration,
) -> Running<Vec<Sample>> {
    run_until_stopped(move |stop| {
        let mut samples = Vec::new();
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let sent = Instant::now();
            let outcome = probe_once(target, http, timeout);
            samples.push(Sample {
                sent,
                took: sent.elapsed(),
                outcome,
            });
            next += period;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                next = now;
            }
        }
        Ok(samples)
    })
}

/// One round of the ARP watch: who answered for the address.
#[derive(Clone, Debug)]
pub struct ArpRound {
    /// When the question was asked.
    pub asked: Instant,
    /// The MAC addresses that answered, each once.
    pub answers: Vec<Mac>,
}

/// Asks who answers for `address` every `period`, from the client
/// namespace, until stopped; each round collects answers until the next.
pub fn watch_arp(address: Ipv4Addr, period: Duration) -> Running<Ownership> {
    run_until_stopped(move |stop| {
        let mut port = Port::open("eth0")?;
        let mut rounds = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let asked = Instant::now();
            port.ask(address)?;
            let answers = port.answers(address, asked + period)?;
            rounds.push(ArpRound { asked, answers });
        }
        Ok(Ownership { rounds })
    })
}

/// What an ARP watch saw: who owned the address when.
pub struct Ownership {
    /// The rounds, in order.
    pub rounds: Vec<ArpRound>,
}

impl Ownership {
    /// The most MAC addresses that answered one question: above 1, two
    /// nodes held the address at once.
    pub fn most_owners_at_once(&self) -> usize {
        self.rounds
            .iter()
            .map(|round| round.answers.len())
            .max()
            .unwrap_or(0)
    }

    /// The rounds in which more than one MAC address answered.
    pub fn instants_of_two_owners(&self) -> usize {
        self.rounds
            .iter()
            .filter(|round| round.answers.len() > 1)
            .count()
    }

    /// The owners in the order they answered, each run of one owner once.
    pub fn owner_sequence(&self) -> Vec<Mac> {
        let mut sequence: Vec<Mac> = Vec::new();
        for round in &self.rounds {
            for mac in &round.answers {
                if sequence.last() != Some(mac) {
                    sequence.push(*mac);
                }
            }
        }
        sequence
    }

    /// When `mac` answered first and last.
    pub fn answered(&self, mac: &Mac) -> Option<(Instant, Instant)> {
        let mut times = self
            .rounds
            .iter()
            .filter(|round| round.answers.contains(mac))
            .map(|round| round.asked);
        let first = times.next()?;
        Some((first, times.next_back().unwrap_or(first)))
    }

    /// The longest time no one answered, between two answered rounds.
    pub fn longest_silence(&self) -> Duration {
        let answered: Vec<Instant> = self
            .rounds
            .iter()
            .filter(|round| !round.answers.is_empty())
            .map(|round| round.asked)
            .collect();
        answered
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .max()
            .unwrap_or_default()
    }

    /// The owner sequence with node numbers from `nodes` (MAC → node).
    pub fn describe(&self, nodes: &std::collections::BTreeMap<Mac, usize>) -> String {
        self.owner_sequence()
            .iter()
            .map(|mac| match nodes.get(mac) {
                Some(node) => format!("node {node}"),
                None => fulcrum_eip::arp::format_mac(mac),
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// The samples that failed.
pub fn failures(samples: &[Sample]) -> Vec<&Sample> {
    samples
        .iter()
        .filter(|sample| matches!(sample.outcome, Outcome::Failed(_)))
        .collect()
}

/// The share of served samples that `backend` answered.
pub fn share_of(samples: &[Sample], backend: &str) -> f64 {
    let served: Vec<&Greeting> = samples
        .iter()
        .filter_map(|sample| match &sample.outcome {
            Outcome::Served(greeting) => Some(greeting),
            Outcome::Failed(_) => None,
        })
        .collect();
    let hits = served
        .iter()
        .filter(|greeting| greeting.backend == backend)
        .count();
    hits as f64 / served.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_greeting_reads_back_from_a_response() {
        let peer = SocketAddr::from(([10, 88, 0, 12], 40000));
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}",
            greeting("web1", peer)
        );
        assert_eq!(
            Greeting::find(&response),
            Some(Greeting {
                backend: "web1".to_owned(),
                via: Ipv4Addr::new(10, 88, 0, 12),
            })
        );
        assert_eq!(
            Greeting::find("HTTP/1.1 503 Service Unavailable\r\n\r\n"),
            None
        );
    }
}
