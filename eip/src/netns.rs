//! Acting inside a named network namespace (`ip netns add NAME`).
//!
//! A network namespace belongs to a thread; sockets keep the namespace they
//! were made in. So a test can make its sockets inside a namespace on a
//! thread of its own, then use them from anywhere.

use std::fs::File;
use std::io;
use std::thread;

use nix::sched::{CloneFlags, setns};

/// Moves the calling thread into the network namespace `name`; sockets it
/// makes from then on live there.
///
/// # Errors
/// No such namespace, or no permission to enter it (needs CAP_SYS_ADMIN).
pub fn enter(name: &str) -> io::Result<()> {
    let path = format!("/run/netns/{name}");
    let namespace = File::open(&path)
        .map_err(|error| io::Error::new(error.kind(), format!("{path}: {error}")))?;
    setns(&namespace, CloneFlags::CLONE_NEWNET)
        .map_err(|errno| io::Error::from_raw_os_error(errno as i32))
}

/// Runs `work` on a new thread that has entered the network namespace
/// `name`, and returns what it returns.
///
/// # Errors
/// No such namespace, no permission to enter it (needs CAP_SYS_ADMIN), or
/// `work` panicked.
pub fn run_in<T, F>(name: &str, work: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let name_owned = name.to_owned();
    thread::Builder::new()
        .name(format!("netns-{name}"))
        .spawn(move || {
            enter(&name_owned)?;
            Ok(work())
        })?
        .join()
        .map_err(|_| io::Error::other(format!("a task in namespace {name} panicked")))?
}
