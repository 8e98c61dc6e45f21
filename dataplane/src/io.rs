//! Small helpers over monoio's owned-buffer I/O.

use std::io;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Split};

/// Reads into the spare capacity of `buffer` (after its length), and hands
/// the buffer back with the bytes read appended. `Ok(0)` is end of stream,
/// or a full buffer: callers check `len() < capacity()` first.
pub(crate) async fn read_more<R: AsyncReadRent>(
    io: &mut R,
    buffer: Vec<u8>,
) -> (io::Result<usize>, Vec<u8>) {
    let (filled, capacity) = (buffer.len(), buffer.capacity());
    let (read, slice) = io.read(buffer.slice_mut(filled..capacity)).await;
    (read, slice.into_inner())
}

/// A stream with a read buffer: bytes received and not yet consumed are
/// `buffer[start..]`.
pub(crate) struct Conn<S> {
    pub(crate) io: S,
    buffer: Vec<u8>,
    start: usize,
}

impl<S: AsyncReadRent> Conn<S> {
    /// `io` with a read buffer of `capacity` bytes.
    pub(crate) fn new(io: S, capacity: usize) -> Self {
        Self {
            io,
            buffer: Vec::with_capacity(capacity),
            start: 0,
        }
    }

    /// The bytes received and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    /// Marks `n` buffered bytes consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.buffered().len());
        self.start += n;
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
    }

    /// Whether the buffer holds as much as it can.
    pub(crate) fn is_full(&self) -> bool {
        self.start == 0 && self.buffer.len() == self.buffer.capacity()
    }

    /// Receives more bytes after the buffered ones: `Ok(0)` at end of stream.
    ///
    /// # Errors
    /// The stream's, or `OutOfMemory` when the buffer is full (see [`Self::is_full`]).
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        if self.buffer.len() == self.buffer.capacity() {
            if self.start == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    "read buffer full",
                ));
            }
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        let read;
        (read, self.buffer) = read_more(&mut self.io, std::mem::take(&mut self.buffer)).await;
        read
    }

    /// Writes the first `n` buffered bytes to `to` and consumes them.
    pub(crate) async fn forward<W: AsyncWriteRent>(
        &mut self,
        to: &mut W,
        n: usize,
    ) -> io::Result<()> {
        let range = self.start..self.start + n;
        let written;
        let slice;
        (written, slice) = to
            .write_all(std::mem::take(&mut self.buffer).slice(range))
            .await;
        self.buffer = slice.into_inner();
        written?;
        self.consume(n);
        Ok(())
    }

    /// Gives the stream back, with what was buffered and not consumed.
    pub(crate) fn into_parts(mut self) -> (S, Vec<u8>) {
        self.buffer.drain(..self.start);
        (self.io, self.buffer)
    }
}

/// A stream whose reads and writes may run at the same time: plain TCP, or
/// TLS over it.
pub(crate) trait Duplex: AsyncReadRent + AsyncWriteRent + Split + 'static {}

impl<T: AsyncReadRent + AsyncWriteRent + Split + 'static> Duplex for T {}
