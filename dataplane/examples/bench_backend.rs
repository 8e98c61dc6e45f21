//! A small HTTP/1.1 server for the data-plane benchmark (`scripts/bench-dataplane`):
//! one monoio thread answering every request `200` with a fixed body, keep-alive
//! unless the request says `Connection: close`, on each port given. `GET /__requests` answers how many requests that port
//! has served, so the benchmark can read the balancers' split.
//!
//! ```text
//! cargo run --release --example bench_backend -- BODY_BYTES PORT [PORT...]
//! ```

use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((body_bytes, ports)) = args.split_first() else {
        eprintln!("usage: bench_backend BODY_BYTES PORT [PORT...]");
        return ExitCode::from(64);
    };
    let Ok(body_bytes) = body_bytes.parse::<usize>() else {
        eprintln!("BODY_BYTES: a number");
        return ExitCode::from(64);
    };
    let Ok(ports) = ports
        .iter()
        .map(|port| port.parse::<u16>())
        .collect::<Result<Vec<_>, _>>()
    else {
        eprintln!("PORT: a number from 1 to 65535");
        return ExitCode::from(64);
    };
    let response: Rc<[u8]> = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body_bytes}\r\n\r\n{}",
        "x".repeat(body_bytes)
    )
    .into_bytes()
    .into();
    let runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build();
    let Ok(mut runtime) = runtime else {
        eprintln!("cannot build the runtime");
        return ExitCode::from(1);
    };
    runtime.block_on(async move {
        let mut servers = Vec::new();
        for port in ports {
            let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("port {port}: {error}");
                    return ExitCode::from(1);
                }
            };
            servers.push(monoio::spawn(serve(listener, Rc::clone(&response))));
        }
        for server in servers {
            server.await;
        }
        ExitCode::SUCCESS
    })
}

async fn serve(listener: TcpListener, response: Rc<[u8]>) {
    let served = Rc::new(Cell::new(0u64));
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        monoio::spawn(connection(stream, Rc::clone(&response), Rc::clone(&served)));
    }
}

/// Answers each complete request head in the buffer (pipelining included).
async fn connection(mut stream: TcpStream, response: Rc<[u8]>, served: Rc<Cell<u64>>) {
    let mut input: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut output: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read;
        (read, buffer) = stream.read(buffer).await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => input.extend_from_slice(&buffer[..n]),
        }
        let mut close = false;
        while let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            close |= input[..end]
                .to_ascii_lowercase()
                .windows(17)
                .any(|w| w == b"connection: close");
            if input.starts_with(b"GET /__requests ") {
                let count = served.get().to_string();
                output.extend_from_slice(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{count}",
                        count.len()
                    )
                    .as_bytes(),
                );
            } else {
                served.set(served.get() + 1);
                output.extend_from_slice(&response);
            }
            input.drain(..end + 4);
        }
        if !output.is_empty() {
            let written;
            (written, output) = stream.write_all(output).await;
            if written.is_err() {
                return;
            }
            output.clear();
        }
        if close || input.len() > 64 * 1024 {
            return;
        }
    }
}
