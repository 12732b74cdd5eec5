// SPDX-License-Identifier: GPL-2.0-only
//! The proxy: on the node that runs a migrated end of a pipe, the file in
//! its place. Its reads and writes are requests to the anchor (the node
//! that holds the pipe), straight from here, one at a time, numbered
//! (`rust/proto/src/dynstreams/cursor.rs`); a blocking one that finds the
//! pipe empty or full asks again after a pause (1 to 20 ms). Once the
//! anchor left the view, reads see end of file and writes `EPIPE` and
//! `SIGPIPE`, as if the other end's process had been killed.

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::{UserSliceReader, UserSliceWriter},
};

use crate::anchor::estale;
use crate::kernel_ext::{
    cred, errno,
    file::FdFile,
    kthread, signal,
    stream::{NewFile, StreamFops, StreamOps},
};
use crate::nodes;
use crate::proto::dynstreams::{
    decode_read_answer, decode_written, At, Attached, End, Request, Source, Token, MAX_IO,
    READ_HEAD, SERVICE, TOKEN_MAX, WRITE_HEAD,
};
use crate::ssi_api;
use crate::stats::{self, STATS};

/// How long one request may take (the anchor never blocks: this is for a
/// busy worker or a lost node).
const CALL_TIMEOUT_MS: u32 = 5000;
/// Longest pause before asking again.
const MAX_PAUSE_MS: u32 = 20;

/// A migrated end's file.
pub(crate) struct Proxy {
    anchor: u8,
    at: At,
    end: End,
    /// The anchor's generation when this was made.
    generation: u32,
    /// The next sequence number of its direction; held for a request.
    seq: Arc<Mutex<u64>>,
}

/// How a request ended.
enum Outcome {
    Done(usize),
    /// Nothing to read or no room: ask again later.
    Again,
    /// The other side is gone: end of file, or `EPIPE`.
    Closed,
}

impl Proxy {
    fn gone(&self) -> bool {
        nodes::generation(self.anchor) != self.generation
    }

    /// One call to the anchor, its errors sorted.
    fn call(&self, req: &[u8], resp: &mut [u8]) -> Result<Result<usize, Outcome>> {
        if self.gone() {
            return Ok(Err(Outcome::Closed));
        }
        // Only SIGKILL ends the wait: a migration's safe point (a signal
        // to the process) waits for the answer, so that the sequence
        // number the ghost stream carries counts every byte the anchor
        // moved; were it cut, a process going back to the anchor would
        // lose the chunk read for it (tests/scenarios/100, part 1).
        match ssi_api::call_killable(self.anchor, SERVICE, req, resp, CALL_TIMEOUT_MS) {
            Ok(n) => Ok(Ok(n)),
            Err(e) if e == EAGAIN => Ok(Err(Outcome::Again)),
            Err(e)
                if e == EPIPE
                    || e == estale()
                    || e == errno::ehostdown()
                    || e == errno::eshutdown()
                    || e == ENODEV =>
            {
                Ok(Err(Outcome::Closed))
            }
            // A timeout with the anchor still a member: ask again (the
            // cursor makes that safe).
            Err(e) if e == errno::etimedout() => Ok(Err(Outcome::Again)),
            Err(e) => Err(e),
        }
    }

    fn read_once(&self, out: &mut UserSliceWriter, count: usize) -> Result<Outcome> {
        let mut answer = KVec::from_elem(0u8, READ_HEAD + count, GFP_KERNEL)?;
        let mut seq = self.seq.lock();
        let mut req = [0u8; 64];
        let n = Request::Read {
            at: self.at,
            seq: *seq,
            count: count as u32,
        }
        .encode(&mut req)
        .ok_or(EINVAL)?;
        let got = match self.call(&req[..n], &mut answer)? {
            Ok(got) => got,
            Err(o) => return Ok(o),
        };
        let data =
            decode_read_answer(answer.get(..got).ok_or(EIO)?, *seq, count as u32).ok_or(EIO)?;
        // If this fails the bytes stay held at the anchor for the next read.
        out.write_slice(data)?;
        *seq += data.len() as u64;
        stats::add(&STATS.proxy_read, data.len());
        Ok(Outcome::Done(data.len()))
    }

    /// Writes `buf[WRITE_HEAD..]` (its head is written in front of it).
    fn write_once(&self, buf: &mut [u8]) -> Result<Outcome> {
        let len = buf.len() - WRITE_HEAD;
        let mut seq = self.seq.lock();
        let mut head = [0u8; WRITE_HEAD];
        Request::Write {
            at: self.at,
            seq: *seq,
            data: &[],
        }
        .encode(&mut head)
        .ok_or(EINVAL)?;
        buf[..WRITE_HEAD].copy_from_slice(&head);
        let mut answer = [0u8; 4];
        let got = match self.call(buf, &mut answer)? {
            Ok(got) => got,
            Err(o) => return Ok(o),
        };
        let done = decode_written(answer.get(..got).ok_or(EIO)?, len).ok_or(EIO)?;
        *seq += done as u64;
        stats::add(&STATS.proxy_written, done);
        Ok(if done == 0 {
            Outcome::Again
        } else {
            Outcome::Done(done)
        })
    }

    /// Waits before asking again; `ERESTARTSYS` on a signal.
    fn pause(ms: &mut u32) -> Result {
        if kthread::signal_pending() {
            return Err(ERESTARTSYS);
        }
        kthread::sleep_ms(*ms);
        *ms = (*ms * 2).min(MAX_PAUSE_MS);
        if kthread::signal_pending() {
            return Err(ERESTARTSYS);
        }
        Ok(())
    }

    /// The token that carries it in a migration.
    pub(crate) fn describe(&self, tok: &mut [u8]) -> Result<(usize, u8)> {
        let t = Token {
            end: self.end,
            anchor: self.anchor,
            source: Source::Handle {
                export: self.at.export,
                handle: self.at.handle,
                seq: *self.seq.lock(),
            },
        };
        Ok((t.encode(tok).ok_or(EINVAL)?, self.anchor))
    }
}

impl StreamOps for Proxy {
    fn read(&self, out: &mut UserSliceWriter, pos: Option<i64>, nonblock: bool) -> Result<usize> {
        if pos.is_some() {
            return Err(errno::espipe());
        }
        if self.end != End::Read {
            return Err(EBADF);
        }
        let count = out.len().min(MAX_IO);
        if count == 0 {
            return Ok(0);
        }
        let mut ms = 1;
        loop {
            match self.read_once(out, count)? {
                Outcome::Done(n) => return Ok(n),
                Outcome::Closed => return Ok(0),
                Outcome::Again if nonblock => return Err(EAGAIN),
                Outcome::Again => Self::pause(&mut ms)?,
            }
        }
    }

    fn write(
        &self,
        input: &mut UserSliceReader,
        pos: Option<i64>,
        nonblock: bool,
    ) -> Result<usize> {
        if pos.is_some() {
            return Err(errno::espipe());
        }
        if self.end != End::Write {
            return Err(EBADF);
        }
        let len = input.len();
        let mut buf = KVec::from_elem(0u8, WRITE_HEAD + len.min(MAX_IO), GFP_KERNEL)?;
        let mut total = 0;
        while total < len {
            // A write of at most PIPE_BUF bytes is one request, which the
            // anchor's pipe_write() takes whole or not at all.
            let chunk = (len - total).min(MAX_IO);
            let b = buf.get_mut(..WRITE_HEAD + chunk).ok_or(EINVAL)?;
            input.read_slice(&mut b[WRITE_HEAD..])?;
            let mut sent = 0;
            let mut ms = 1;
            while sent < chunk {
                // The head goes in front of what is left to send.
                let outcome = self.write_once(&mut b[sent..])?;
                let done = total + sent;
                match outcome {
                    Outcome::Done(n) => {
                        sent += n;
                        ms = 1;
                    }
                    Outcome::Closed if done > 0 => return Ok(done),
                    Outcome::Closed => {
                        signal::raise_sigpipe();
                        return Err(EPIPE);
                    }
                    Outcome::Again if nonblock && done > 0 => return Ok(done),
                    Outcome::Again if nonblock => return Err(EAGAIN),
                    Outcome::Again => {
                        if let Err(e) = Self::pause(&mut ms) {
                            return if done > 0 { Ok(done) } else { Err(e) };
                        }
                    }
                }
            }
            total += chunk;
        }
        Ok(total)
    }

    fn seek(&self, _offset: i64, _whence: u32) -> Result<i64> {
        Err(errno::espipe())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        stats::add(&STATS.proxies_released, 1);
        if self.gone() {
            return;
        }
        // One-way: the release of a killed process's files (the copy a
        // migration leaves behind) runs with SIGKILL pending, which would
        // end a call's wait before the anchor heard it.
        let mut req = [0u8; 64];
        if let Some(n) = (Request::Detach { at: self.at }).encode(&mut req) {
            if let Err(e) = ssi_api::send_oneway(self.anchor, SERVICE, &req[..n]) {
                pr_warn!("detach from node {} lost: {:?}\n", self.anchor, e);
            }
        }
    }
}

static FOPS: StreamFops<Proxy> = StreamFops::new(&crate::THIS_MODULE);

/// The proxy of `f`, if it is one.
pub(crate) fn of(f: &FdFile) -> Option<&Proxy> {
    FOPS.data_of(f)
}

/// A proxy for the end a token names, attached at its anchor, with the
/// `O_NONBLOCK` of `flags`; the current task's ids go with the request.
pub(crate) fn open(t: &Token, flags: u32) -> Result<FdFile> {
    if !ssi_api::is_member(t.anchor) {
        return Err(errno::ehostdown());
    }
    let ids = cred::ids();
    let mut req = [0u8; 1 + TOKEN_MAX + 9];
    let n = Request::Attach {
        token: *t,
        uid: ids.uid[0],
        gid: ids.gid[0],
        privileged: cred::capable(cred::CAP_SYS_PTRACE),
    }
    .encode(&mut req)
    .ok_or(EINVAL)?;
    let generation = nodes::generation(t.anchor);
    let seq = Arc::pin_init(new_mutex!(0u64), GFP_KERNEL)?;
    let mut answer = [0u8; Attached::LEN];
    let got = ssi_api::call(t.anchor, SERVICE, &req[..n], &mut answer, CALL_TIMEOUT_MS)?;
    let a = Attached::decode(answer.get(..got).ok_or(EIO)?).ok_or(EIO)?;
    if a.end != t.end {
        return Err(EIO);
    }
    // A migrated end goes on from the number its last node had.
    *seq.lock() = match t.source {
        Source::Fd { .. } => a.seq,
        Source::Handle { seq, .. } => seq,
    };
    let p = Proxy {
        anchor: t.anchor,
        at: a.at,
        end: t.end,
        generation,
        seq,
    };
    stats::add(&STATS.proxies_made, 1);
    let acc = match t.end {
        End::Read => bindings::O_RDONLY,
        End::Write => bindings::O_WRONLY,
    };
    Ok(NewFile::new(&FOPS, p, acc | (flags & bindings::O_NONBLOCK))?.into_file())
}
