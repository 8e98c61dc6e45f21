//! Small helpers over monoio's owned-buffer I/O, and each thread's spare
//! buffers.

use std::cell::RefCell;
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

/// Spare buffers a thread keeps at most (at most 64 KiB each, so 4 MiB).
const MAX_SPARE_BUFFERS: usize = 64;

/// The largest buffer kept for reuse.
const MAX_SPARE_BYTES: usize = 64 * 1024;

thread_local! {
    /// Buffers that connections of this thread gave back, to be taken by
    /// the next ones instead of allocating 32-64 KiB each.
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer of at least `capacity` bytes: one of this thread's
/// spares when one is large enough, else a new one.
pub(crate) fn take_buffer(capacity: usize) -> Vec<u8> {
    SPARE
        .with_borrow_mut(|spare| {
            let index = spare
                .iter()
                .rposition(|buffer| buffer.capacity() >= capacity)?;
            Some(spare.swap_remove(index))
        })
        .unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Gives `buffer` back for the thread's next connections (its bytes are
/// dropped), unless the thread has enough spares or it is too large.
pub(crate) fn give_buffer(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_SPARE_BYTES {
        return;
    }
    buffer.clear();
    SPARE.with_borrow_mut(|spare| {
        if spare.len() < MAX_SPARE_BUFFERS {
            spare.push(buffer);
        }
    });
}

/// A stream with a read buffer: bytes received and not yet consumed are
/// `buffer[start..]`.
pub(crate) struct Conn<S> {
    pub(crate) io: S,
    buffer: Vec<u8>,
    start: usize,
}

impl<S: AsyncReadRent> Conn<S> {
    /// `io` with a read buffer of at least `capacity` bytes (a spare one of
    /// the thread's when there is one: see [`take_buffer`]).
    pub(crate) fn new(io: S, capacity: usize) -> Self {
        Self {
            io,
            buffer: take_buffer(capacity),
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

    /// Closes the stream and gives the buffer back to the thread's spares.
    pub(crate) fn recycle(self) {
        give_buffer(self.buffer);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_empty_and_the_spares_are_bounded() {
        let mut buffer = take_buffer(32 * 1024);
        buffer.extend_from_slice(b"old bytes");
        let address = buffer.as_ptr();
        give_buffer(buffer);
        let again = take_buffer(16 * 1024);
        assert_eq!(again.as_ptr(), address, "the spare is reused");
        assert!(again.is_empty() && again.capacity() >= 32 * 1024);
        // Too large to keep, and never more than the bound.
        give_buffer(Vec::with_capacity(MAX_SPARE_BYTES + 1));
        for _ in 0..MAX_SPARE_BUFFERS + 10 {
            give_buffer(Vec::with_capacity(1024));
        }
        assert_eq!(SPARE.with_borrow(Vec::len), MAX_SPARE_BUFFERS);
        assert!(SPARE.with_borrow(|spare| spare.iter().all(|b| b.capacity() <= MAX_SPARE_BYTES)));
    }
}
