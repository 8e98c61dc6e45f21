//! Histories of operations on registers: what each client invoked, and what
//! it learned (a value, a refusal, or nothing: outcome unknown).
//!
//! [`parse_jepsen_register`] reads the text format of Jepsen's register
//! histories (`INFO  jepsen.util - PROCESS<TAB>TYPE<TAB>F<TAB>VALUE`, with an
//! optional fifth field naming the register in Fulcrum's own histories).

use std::collections::HashMap;
use std::fmt;

/// One operation, from invocation to completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The register it acts on (histories with one register use "").
    pub key: String,
    /// The client process.
    pub process: u64,
    /// When it was invoked, as a position in the history.
    pub invoked: u64,
    /// When it completed; `None` when its outcome is unknown (it may take
    /// effect at any time after its invocation, or never).
    pub completed: Option<u64>,
    /// What it did and what came back.
    pub action: Action,
}

/// What an operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A read that returned `value` (`None`: the register was empty).
    Read {
        /// What it read.
        value: Option<i64>,
    },
    /// A write of `value`.
    Write {
        /// What it wrote.
        value: i64,
    },
    /// A compare-and-set from `from` to `to`.
    Cas {
        /// The value expected.
        from: i64,
        /// The value set when the register held `from`.
        to: i64,
        /// `Some(true)` swapped, `Some(false)` refused (the register did not
        /// hold `from`), `None` unknown.
        swapped: Option<bool>,
    },
}

/// A line of a history that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Its number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Reads a Jepsen register history. Lines of another shape are not events
/// and are skipped. Failed writes and reads, and reads of unknown outcome,
/// constrain nothing and are left out; writes and compare-and-sets of
/// unknown outcome (`:info`, or still open at the end) are kept with no
/// completion.
///
/// # Errors
/// An event line whose operation or value cannot be read, or a completion
/// with no invocation open for its process.
pub fn parse_jepsen_register(text: &str) -> Result<Vec<Operation>, ParseError> {
    let mut operations: Vec<Option<Operation>> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let error = |message: String| ParseError {
            line: number + 1,
            message,
        };
        let Some((_, event)) = line.split_once("jepsen.util - ") else {
            continue;
        };
        let fields: Vec<&str> = event.split('\t').collect();
        if fields.len() < 4 {
            continue;
        }
        let process: u64 = match fields[0].trim().parse() {
            Ok(process) => process,
            Err(_) => continue,
        };
        let (kind, function, value) = (fields[1], fields[2], fields[3].trim());
        // Fulcrum's own histories name the register in a fifth field.
        let key = fields.get(4).map_or("", |key| key.trim());
        let at = number as u64;
        match kind {
            ":invoke" => {
                let action = match function {
                    ":read" => Action::Read { value: None },
                    ":write" => Action::Write {
                        value: integer(value).map_err(error)?,
                    },
                    ":cas" => {
                        let (from, to) = pair(value).map_err(error)?;
                        Action::Cas {
                            from,
                            to,
                            swapped: None,
                        }
                    }
                    other => return Err(error(format!("unknown operation {other}"))),
                };
                if open.contains_key(&process) {
                    return Err(error(format!(
                        "process {process} invokes while an operation is open"
                    )));
                }
                open.insert(process, operations.len());
                operations.push(Some(Operation {
                    key: key.to_owned(),
                    process,
                    invoked: at,
                    completed: None,
                    action,
                }));
            }
            ":ok" | ":fail" | ":info" => {
                let index = open
                    .remove(&process)
                    .ok_or_else(|| error(format!("process {process} completes nothing")))?;
                let slot = &mut operations[index];
                let Some(operation) = slot.as_mut() else {
                    continue;
                };
                match (kind, &mut operation.action) {
                    (":ok", Action::Read { value: read }) => {
                        *read = optional_integer(value).map_err(error)?;
                        operation.completed = Some(at);
                    }
                    (":ok", Action::Write { .. }) => operation.completed = Some(at),
                    (":ok", Action::Cas { swapped, .. }) => {
                        *swapped = Some(true);
                        operation.completed = Some(at);
                    }
                    // Fulcrum's histories mark a compare-and-set refused
                    // without comparing (the revision changed) `:refused`:
                    // it did nothing and saw nothing.
                    (":fail", Action::Cas { .. }) if value == ":refused" => *slot = None,
                    (":fail", Action::Cas { swapped, .. }) => {
                        *swapped = Some(false);
                        operation.completed = Some(at);
                    }
                    // A failed write or read did nothing; an unknown read
                    // constrains nothing.
                    (":fail", _) | (":info", Action::Read { .. }) => *slot = None,
                    // Unknown outcome: no completion.
                    (_, _) => {}
                }
            }
            _ => continue,
        }
    }
    // Reads still open at the end constrain nothing.
    for index in open.into_values() {
        if matches!(
            operations[index].as_ref().map(|op| op.action),
            Some(Action::Read { .. })
        ) {
            operations[index] = None;
        }
    }
    Ok(operations.into_iter().flatten().collect())
}

fn integer(text: &str) -> Result<i64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an integer"))
}

fn optional_integer(text: &str) -> Result<Option<i64>, String> {
    if text == "nil" {
        Ok(None)
    } else {
        integer(text).map(Some)
    }
}

fn pair(text: &str) -> Result<(i64, i64), String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(|| format!("{text:?} is not [FROM TO]"))?;
    let mut parts = inner.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(from), Some(to), None) => Ok((integer(from)?, integer(to)?)),
        _ => Err(format!("{text:?} is not [FROM TO]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pair_up_by_process_and_unknowns_stay_open() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:write\t4\n\
                    INFO  jepsen.util - 1\t:invoke\t:cas\t[4 5]\n\
                    INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 0\t:ok\t:write\t4\n\
                    INFO  jepsen.util - 1\t:info\t:cas\t:timed-out\n\
                    INFO  jepsen.util - 2\t:fail\t:read\t:timed-out\n\
                    some other line\n\
                    INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 3\t:ok\t:read\t5\n";
        let operations = parse_jepsen_register(text).unwrap();
        assert_eq!(operations.len(), 3);
        assert_eq!(operations[0].action, Action::Write { value: 4 });
        assert_eq!(operations[0].completed, Some(3));
        assert_eq!(operations[1].completed, None);
        assert_eq!(operations[2].action, Action::Read { value: Some(5) });
        let error = parse_jepsen_register("INFO  jepsen.util - 0\t:ok\t:read\t1\n").unwrap_err();
        assert_eq!(error.line, 1);
    }
}
