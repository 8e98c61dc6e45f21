//! Message bodies, streamed from one side to the other through the
//! sender's read buffer: never held whole, whatever their size.
//!
//! Chunked bodies are checked as they pass (chunk-size lines, the CRLF after
//! each chunk, the trailer section) and forwarded byte for byte.

use std::io;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent};

use super::head::Framing;
use crate::io::Conn;

/// The longest chunk-size or trailer line accepted.
pub(crate) const MAX_LINE: usize = 4096;

/// Why a body could not be forwarded.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The sender broke off, went silent for the idle timeout, or sent a
    /// malformed chunked body.
    Source(&'static str),
    /// Writing to the receiver failed.
    Sink(io::Error),
}

/// Forwards a body of `framing` from `from` to `to`, calling `count` with
/// each forwarded byte count. `idle` bounds each wait for the sender.
pub(crate) async fn forward<R: AsyncReadRent, W: AsyncWriteRent>(
    framing: Framing,
    from: &mut Conn<R>,
    to: &mut W,
    idle: Duration,
    count: &impl Fn(usize),
) -> Result<(), BodyError> {
    match framing {
        Framing::Empty => Ok(()),
        Framing::Length(length) => forward_bytes(Some(length), from, to, idle, count).await,
        Framing::Chunked => forward_chunked(from, to, idle, count).await,
        Framing::UntilClose => forward_bytes(None, from, to, idle, count).await,
    }
}

/// Receives more bytes into `from`'s buffer, within `idle`.
async fn fill<R: AsyncReadRent>(from: &mut Conn<R>, idle: Duration) -> Result<usize, BodyError> {
    match monoio::time::timeout(idle, from.fill()).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(_)) => Err(BodyError::Source("connection error")),
        Err(_) => Err(BodyError::Source("idle timeout")),
    }
}

/// Forwards `length` bytes, or everything until the sender closes when
/// `length` is `None`.
async fn forward_bytes<R: AsyncReadRent, W: AsyncWriteRent>(
    mut length: Option<u64>,
    from: &mut Conn<R>,
    to: &mut W,
    idle: Duration,
    count: &impl Fn(usize),
) -> Result<(), BodyError> {
    while length != Some(0) {
        if from.buffered().is_empty() && fill(from, idle).await? == 0 {
            return match length {
                None => Ok(()),
                Some(_) => Err(BodyError::Source("closed before the end of the body")),
            };
        }
        let available = from.buffered().len();
        let n = length.map_or(available, |left| {
            available.min(usize::try_from(left).unwrap_or(usize::MAX))
        });
        from.forward(to, n).await.map_err(BodyError::Sink)?;
        count(n);
        if let Some(left) = length.as_mut() {
            *left -= n as u64;
        }
    }
    Ok(())
}

async fn forward_chunked<R: AsyncReadRent, W: AsyncWriteRent>(
    from: &mut Conn<R>,
    to: &mut W,
    idle: Duration,
    count: &impl Fn(usize),
) -> Result<(), BodyError> {
    loop {
        let line = read_line(from, idle).await?;
        let size =
            chunk_size(&from.buffered()[..line]).ok_or(BodyError::Source("invalid chunk size"))?;
        from.forward(to, line).await.map_err(BodyError::Sink)?;
        count(line);
        if size == 0 {
            // Trailer fields, then the empty line that ends the body.
            loop {
                let line = read_line(from, idle).await?;
                from.forward(to, line).await.map_err(BodyError::Sink)?;
                count(line);
                if line == 2 {
                    return Ok(());
                }
            }
        }
        forward_bytes(Some(size), from, to, idle, count).await?;
        let line = read_line(from, idle).await?;
        if line != 2 {
            return Err(BodyError::Source("chunk data longer than its size"));
        }
        from.forward(to, line).await.map_err(BodyError::Sink)?;
        count(line);
    }
}

/// Waits until `from` buffers a whole CRLF-terminated line and returns its
/// length, CRLF included.
async fn read_line<R: AsyncReadRent>(
    from: &mut Conn<R>,
    idle: Duration,
) -> Result<usize, BodyError> {
    loop {
        if let Some(newline) = from.buffered().iter().position(|b| *b == b'\n') {
            if newline == 0 || from.buffered()[newline - 1] != b'\r' {
                return Err(BodyError::Source("line not ended by CRLF"));
            }
            return Ok(newline + 1);
        }
        if from.buffered().len() >= MAX_LINE || from.is_full() {
            return Err(BodyError::Source("chunk line too long"));
        }
        if fill(from, idle).await? == 0 {
            return Err(BodyError::Source("closed inside a chunked body"));
        }
    }
}

/// The size on a chunk-size line (`1a;name=value\r\n`): hexadecimal, at
/// most 15 digits, optional extensions after `;`.
pub(crate) fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n")?;
    // Only spaces and tabs may follow the digits (RFC 9112's BWS): a bare CR
    // there could end the line for a member that reads it otherwise.
    let digits = line.split(|b| *b == b';').next()?;
    let digits = match digits.iter().rposition(|b| !matches!(b, b' ' | b'\t')) {
        Some(last) => &digits[..=last],
        None => &digits[..0],
    };
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_hexadecimal_with_optional_extensions() {
        assert_eq!(chunk_size(b"1a\r\n"), Some(26));
        assert_eq!(chunk_size(b"0\r\n"), Some(0));
        assert_eq!(chunk_size(b"FF ;name=value\r\n"), Some(255));
        assert_eq!(chunk_size(b"FF\t;name=value\r\n"), Some(255));
        for bad in [
            &b"\r\n"[..],
            b"xyz\r\n",
            b"-1\r\n",
            b"1a",
            b"1234567890123456\r\n",
            b" 1\r\n",
            b"5\r;x\r\n",
        ] {
            assert_eq!(chunk_size(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
