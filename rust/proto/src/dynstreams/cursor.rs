// SPDX-License-Identifier: GPL-2.0-only
//! A handle's sequence numbers at the anchor: which bytes of a `READ` or
//! `WRITE` are new, which were done already, and which request is out of
//! order.
//!
//! A proxy sends one request at a time and numbers the bytes of its
//! direction from 0; a request it sends again (its answer was lost, or a
//! signal cut the wait) carries the same number. The cursor belongs to the
//! handle, not to a node: when the process moves, its new node goes on
//! with the number the ghost stream carried, so a late copy of a request
//! from the old node is recognised as done.

/// The writes of a handle: `next` is the number of the first byte not in
/// the pipe yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WriteCursor {
    next: u64,
}

impl WriteCursor {
    pub fn new() -> Self {
        WriteCursor { next: 0 }
    }

    pub fn next(&self) -> u64 {
        self.next
    }

    /// The cursor of a handle that moved with its pipe.
    pub fn resume(next: u64) -> Self {
        WriteCursor { next }
    }

    /// A `WRITE` of `len` bytes numbered from `seq`: how many of its first
    /// bytes are in the pipe already (the rest are to be written), or
    /// `None` if it starts after `next` (bytes before it are missing: a
    /// request out of order, refused).
    pub fn offer(&self, seq: u64, len: usize) -> Option<usize> {
        let behind = self.next.checked_sub(seq)?;
        Some(usize::try_from(behind).map_or(len, |b| b.min(len)))
    }

    /// `n` more bytes went into the pipe, after the `skip` that
    /// [`Self::offer`] returned for `seq` (`skip` less than the request's
    /// length: the new bytes start at `next`). Returns the request's
    /// answer, `skip + n`.
    pub fn wrote(&mut self, skip: usize, n: usize) -> usize {
        self.next = self.next.saturating_add(n as u64);
        skip + n
    }
}

/// What to do with a `READ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStep {
    /// Read from the pipe (the chunk held for the last read, if any, was
    /// received: drop it), then call [`ReadCursor::read`].
    Fresh,
    /// Answer the held chunk again: its answer was lost.
    Replay,
    /// Out of order: refuse.
    Refuse,
}

/// The reads of a handle: `next` is the number of the first byte not
/// taken from the pipe; the last chunk taken is held (its bytes are gone
/// from the pipe) until a read after it shows the proxy received it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadCursor {
    next: u64,
    /// Number and length of the held chunk (length 0: none).
    held: (u64, usize),
}

impl ReadCursor {
    pub fn new() -> Self {
        ReadCursor {
            next: 0,
            held: (0, 0),
        }
    }

    pub fn next(&self) -> u64 {
        self.next
    }

    /// The cursor of a handle that moved with its pipe, `held` bytes
    /// before `next` held for a replay (at most `next`).
    pub fn resume(next: u64, held: usize) -> Self {
        let held = held.min(usize::try_from(next).unwrap_or(usize::MAX));
        ReadCursor {
            next,
            held: (next - held as u64, held),
        }
    }

    /// Length of the chunk held for a replay (0: none).
    pub fn held(&self) -> usize {
        self.held.1
    }

    /// A `READ` of up to `count` bytes from `seq`.
    pub fn ask(&self, seq: u64, count: usize) -> ReadStep {
        let (hseq, hlen) = self.held;
        if hlen > 0 && seq == hseq {
            if count >= hlen {
                ReadStep::Replay
            } else {
                ReadStep::Refuse
            }
        } else if seq == self.next {
            ReadStep::Fresh
        } else {
            ReadStep::Refuse
        }
    }

    /// A fresh read took `n` bytes from the pipe (0: nothing, or end of
    /// file); they are held until the next fresh read.
    pub fn read(&mut self, n: usize) {
        self.held = (self.next, n);
        self.next = self.next.saturating_add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumed_cursors_go_on() {
        let mut r = ReadCursor::new();
        r.read(5);
        let m = ReadCursor::resume(r.next(), r.held());
        assert_eq!(m, r);
        assert_eq!(m.ask(0, 5), ReadStep::Replay);
        assert_eq!(m.ask(5, 5), ReadStep::Fresh);
        let w = WriteCursor::resume(9);
        assert_eq!(w.offer(9, 4), Some(0));
        assert_eq!(w.offer(10, 4), None);
    }
}
