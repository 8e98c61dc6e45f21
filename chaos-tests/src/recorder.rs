//! Recording a history as the clients run: every operation is invoked, then
//! completes as ok, fail, or info (outcome unknown). As in Jepsen, a process
//! whose operation ended in info is retired: its client continues under a
//! new process number, so an unknown operation never overlaps a later one of
//! the same process. The history is saved in Jepsen's register format (with
//! the register's key as a fifth field), which [`crate::history`] reads back.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// What an operation asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Read the register.
    Read,
    /// Write a value.
    Write(i64),
    /// Compare-and-set from the first value to the second.
    Cas(i64, i64),
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// It happened; a read gives the value it saw.
    Ok(Option<i64>),
    /// It did not happen: a compare-and-set that found another value
    /// (which says the register held something else), or a read or write
    /// that was refused.
    Fail,
    /// It did not happen, and says nothing about the register (a
    /// compare-and-set refused because the revision changed).
    Refused,
    /// Unknown: it may have happened, at any time after its invocation.
    Info,
}

/// The events of a run, in the order they happened.
#[derive(Debug, Default)]
pub struct Recorder {
    lines: Mutex<Vec<String>>,
    processes: AtomicU64,
}

/// An invoked operation, to be completed.
#[derive(Debug)]
#[must_use = "an operation must be completed (ok, fail or info)"]
pub struct Invocation {
    process: u64,
    key: String,
    request: Request,
}

impl Recorder {
    /// A fresh process number for a client.
    pub fn new_process(&self) -> u64 {
        self.processes.fetch_add(1, Ordering::Relaxed)
    }

    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    /// Records that `process` invokes `request` on register `key`.
    pub fn invoke(&self, process: u64, key: &str, request: Request) -> Invocation {
        let value = match request {
            Request::Read => "nil".to_owned(),
            Request::Write(value) => value.to_string(),
            Request::Cas(from, to) => format!("[{from} {to}]"),
        };
        self.push(format!(
            "INFO  jepsen.util - {process}\t:invoke\t{}\t{value}\t{key}",
            function(request)
        ));
        Invocation {
            process,
            key: key.to_owned(),
            request,
        }
    }

    /// Records how `invocation` ended and returns the process number its
    /// client continues under (a new one after info).
    pub fn complete(&self, invocation: Invocation, completion: Completion) -> u64 {
        let Invocation {
            process,
            key,
            request,
        } = invocation;
        let (kind, value) = match (completion, request) {
            (Completion::Ok(read), Request::Read) => (
                ":ok",
                read.map_or_else(|| "nil".to_owned(), |v| v.to_string()),
            ),
            (Completion::Ok(_), Request::Write(value)) => (":ok", value.to_string()),
            (Completion::Ok(_), Request::Cas(from, to)) => (":ok", format!("[{from} {to}]")),
            (Completion::Fail, Request::Cas(from, to)) => (":fail", format!("[{from} {to}]")),
            (Completion::Fail | Completion::Refused, _) => (":fail", ":refused".to_owned()),
            (Completion::Info, _) => (":info", ":timed-out".to_owned()),
        };
        self.push(format!(
            "INFO  jepsen.util - {process}\t{kind}\t{}\t{value}\t{key}",
            function(request)
        ));
        if completion == Completion::Info {
            self.new_process()
        } else {
            process
        }
    }

    /// The history so far, one event per line.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        for line in lines.iter() {
            let _ = writeln!(text, "{line}");
        }
        text
    }

    /// Saves the history to `path`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.text())
    }
}

fn function(request: Request) -> &'static str {
    match request {
        Request::Read => ":read",
        Request::Write(_) => ":write",
        Request::Cas(..) => ":cas",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse_jepsen_register;
    use crate::register::{Verdict, check};

    #[test]
    fn a_recorded_history_reads_back_and_checks() {
        let recorder = Recorder::default();
        let (a, b) = (recorder.new_process(), recorder.new_process());
        let write = recorder.invoke(a, "lb-1", Request::Write(1));
        let read = recorder.invoke(b, "lb-1", Request::Read);
        let a = recorder.complete(write, Completion::Ok(None));
        let b = recorder.complete(read, Completion::Ok(Some(1)));
        let lost = recorder.invoke(a, "lb-2", Request::Write(7));
        let retired = recorder.complete(lost, Completion::Info);
        assert_ne!(retired, a, "a process is retired after info");
        let cas = recorder.invoke(b, "lb-1", Request::Cas(2, 3));
        recorder.complete(cas, Completion::Fail);
        let read = recorder.invoke(retired, "lb-2", Request::Read);
        recorder.complete(read, Completion::Ok(None));

        let operations = parse_jepsen_register(&recorder.text()).unwrap();
        assert_eq!(operations.len(), 5);
        assert_eq!(operations[2].key, "lb-2");
        assert_eq!(operations[2].completed, None);
        assert_eq!(
            check(&operations, std::time::Duration::from_secs(1)),
            Verdict::Linearizable
        );
    }
}
