// SPDX-License-Identifier: GPL-2.0-only
//! Where a ghost stream is written and read: a file (checkpoints) or
//! memory (migration: the origin writes it there, then sends it; the
//! destination keeps what it received there until the restore).

use crate::kernel_ext::file::FdFile;
use crate::proto::ghost::{self, Source};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec, KVec},
    prelude::*,
};

/// Bytes per buffer of an in-memory stream: one `DATA` message each.
pub(crate) const CHUNK: usize = crate::proto::migrate::MAX_DATA;

/// A stream in memory, as a list of buffers of at most [`CHUNK`] bytes.
pub(crate) struct Chunks {
    bufs: KVec<KVVec<u8>>,
    len: u64,
    limit: u64,
}

impl Chunks {
    /// An empty stream that refuses to grow beyond `limit` bytes.
    pub(crate) fn new(limit: u64) -> Self {
        Chunks {
            bufs: KVec::new(),
            len: 0,
            limit,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The buffers, in order.
    pub(crate) fn bufs(&self) -> &[KVVec<u8>] {
        &self.bufs
    }

    /// Appends `b`, filling the last buffer first.
    pub(crate) fn append(&mut self, mut b: &[u8]) -> Result {
        let total = self.len.checked_add(b.len() as u64).ok_or(EFBIG)?;
        if total > self.limit {
            return Err(EFBIG);
        }
        while !b.is_empty() {
            let room = self.bufs.last().map_or(0, |l| CHUNK - l.len());
            if room == 0 {
                self.bufs
                    .push(KVVec::with_capacity(CHUNK, GFP_KERNEL)?, GFP_KERNEL)?;
                continue;
            }
            let n = room.min(b.len());
            if let Some(last) = self.bufs.last_mut() {
                last.extend_from_slice(&b[..n], GFP_KERNEL)?;
            }
            b = &b[n..];
        }
        self.len = total;
        Ok(())
    }

    /// Appends one received buffer as it is (at most [`CHUNK`] bytes).
    pub(crate) fn push_buf(&mut self, b: &[u8]) -> Result {
        let total = self.len.checked_add(b.len() as u64).ok_or(EFBIG)?;
        if total > self.limit || b.len() > CHUNK {
            return Err(EFBIG);
        }
        let mut v = KVVec::with_capacity(b.len(), GFP_KERNEL)?;
        v.extend_from_slice(b, GFP_KERNEL)?;
        self.bufs.push(v, GFP_KERNEL)?;
        self.len = total;
        Ok(())
    }
}

/// A stream to read: a file or memory.
#[derive(Clone, Copy)]
pub(crate) enum Stream<'a> {
    File(&'a FdFile),
    Mem(&'a Chunks),
}

/// A reader of a [`Stream`] from its start; `pos` is the offset reached.
pub(crate) struct StreamSource<'a> {
    s: Stream<'a>,
    pub(crate) pos: i64,
    /// For memory: the buffer and offset in it of `pos`.
    buf: usize,
    off: usize,
}

impl<'a> StreamSource<'a> {
    pub(crate) fn new(s: Stream<'a>) -> Self {
        StreamSource {
            s,
            pos: 0,
            buf: 0,
            off: 0,
        }
    }

    /// Moves `n` bytes on in memory; returns the bytes there if `out`.
    fn mem_take(&mut self, c: &Chunks, mut n: usize, mut out: Option<&mut [u8]>) -> bool {
        let mut done = 0;
        while n > 0 {
            let Some(b) = c.bufs.get(self.buf) else {
                return false;
            };
            let k = (b.len() - self.off).min(n);
            if k == 0 {
                self.buf += 1;
                self.off = 0;
                continue;
            }
            if let Some(o) = out.as_deref_mut() {
                o[done..done + k].copy_from_slice(&b[self.off..self.off + k]);
            }
            self.off += k;
            done += k;
            n -= k;
        }
        self.pos += done as i64;
        true
    }
}

impl Source for StreamSource<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> ghost::Result<()> {
        match self.s {
            Stream::File(f) => {
                let mut done = 0;
                while done < buf.len() {
                    match f.read_at(&mut self.pos, &mut buf[done..]) {
                        Ok(0) | Err(_) => return Err(ghost::Error::Truncated),
                        Ok(n) => done += n,
                    }
                }
                Ok(())
            }
            Stream::Mem(c) => {
                let n = buf.len();
                if self.mem_take(c, n, Some(buf)) {
                    Ok(())
                } else {
                    Err(ghost::Error::Truncated)
                }
            }
        }
    }

    fn skip(&mut self, n: usize) -> ghost::Result<()> {
        match self.s {
            Stream::File(_) => {
                let n = i64::try_from(n).map_err(|_| ghost::Error::BadLength)?;
                self.pos = self.pos.checked_add(n).ok_or(ghost::Error::BadLength)?;
                Ok(())
            }
            Stream::Mem(c) => {
                if self.mem_take(c, n, None) {
                    Ok(())
                } else {
                    Err(ghost::Error::Truncated)
                }
            }
        }
    }

    fn at_end(&mut self) -> ghost::Result<bool> {
        match self.s {
            Stream::File(f) => {
                let mut b = [0u8; 1];
                let mut pos = self.pos;
                match f.read_at(&mut pos, &mut b) {
                    Ok(n) => Ok(n == 0),
                    Err(_) => Err(ghost::Error::Truncated),
                }
            }
            Stream::Mem(c) => Ok(self.pos as u64 >= c.len),
        }
    }
}
