// SPDX-License-Identifier: GPL-2.0-only
//! The proxy: on the node that runs a migrated end of a pipe, the file in
//! its place. Its reads and writes are requests to the anchor (the node
//! that holds the pipe), straight from here, one at a time, numbered
//! (`rust/proto/src/dynstreams/cursor.rs`). Readiness: a proxy that does
//! not know its end to be ready sends the anchor one `WATCH` (per epoch,
//! its count of requests that found the pipe empty or full, or moved
//! bytes), and the anchor answers one `READY` when the pipe is ready;
//! `poll` answers from what the last `READY` said and a blocking read or
//! write that found the pipe empty or full sleeps until one comes (or
//! 1 s: a lost message costs a second, not a hang). Once the anchor left
//! the view, reads see end of file and writes `EPIPE` and `SIGPIPE`, as if
//! the other end's process had been killed, and pollers wake.

use crate::proto::dynstreams::moving::Where;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{
    alloc::{
        flags::{GFP_ATOMIC, GFP_KERNEL},
        KVec,
    },
    bindings, new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

use crate::anchor::{estale, exdev};
use crate::kernel_ext::{
    cred, errno,
    file::FdFile,
    global::Published,
    kthread,
    poll::{PollQueue, PollTable},
    signal,
    sock::{self, MsgIter, SockFile, SockOps, SockProtoOps},
    stream::{NewFile, StreamFops, StreamOps, FIONREAD},
    vec,
};
use crate::nodes;
use crate::proto::dynstreams::{
    decode_read_answer, decode_written, At, Attached, End, Request, Source, Token, MAX_IO, POLLERR,
    POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM, READ_HEAD, SERVICE, TOKEN_MAX,
    WRITE_HEAD,
};
use crate::ssi_api;
use crate::stats::{self, STATS};

/// How long one request may take (the anchor never blocks: this is for a
/// busy worker or a lost node).
const CALL_TIMEOUT_MS: u32 = 5000;
/// Longest wait for a `READY` before asking again anyway.
const READY_WAIT_MS: u32 = 1000;

/// A proxy's readiness, as the anchor last told it; registered so that
/// `READY` and the departure of its anchor find it.
#[pin_data]
struct Ready {
    id: u64,
    /// The proxy's anchor (it changes when the pipe moves).
    anchor: AtomicU32,
    /// The poll bits of the last `READY` of this epoch (0: unknown).
    mask: AtomicU32,
    /// Bumped whenever what the proxy knows goes stale: a request that
    /// moved bytes, or found the pipe empty or full.
    epoch: AtomicU64,
    /// The epoch + 1 a `WATCH` went out for (0: none), and what it wanted.
    watched: AtomicU64,
    watched_want: AtomicU32,
    #[pin]
    queue: PollQueue,
}

/// This node's proxies' readiness.
#[pin_data]
struct Registry {
    #[pin]
    list: SpinLock<KVec<Arc<Ready>>>,
    next: AtomicU64,
}

static REGISTRY: Published<Registry> = Published::new();

/// The proxies' registry, for the module's life.
pub(crate) struct Running {
    _registry: Arc<Registry>,
}

impl Running {
    pub(crate) fn start() -> Result<Self> {
        let r = Arc::pin_init(
            pin_init!(Registry {
                list <- new_spinlock!(KVec::new()),
                next: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )?;
        REGISTRY.publish(&r);
        Ok(Running { _registry: r })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: dropped after the service and the listener (the module's
        // field order), which call `REGISTRY.get()`; no proxy is left (each
        // holds the module).
        unsafe { REGISTRY.withdraw() };
    }
}

/// A `READY` from node `src` for proxy `proxy` (the anchor's service).
pub(crate) fn ready(src: u8, proxy: u64, epoch: u64, mask: u32) {
    let Some(reg) = REGISTRY.get() else {
        return;
    };
    let r = reg.list.lock().iter().find(|r| r.id == proxy).cloned();
    let Some(r) = r else {
        return;
    };
    if r.anchor.load(Ordering::Acquire) != u32::from(src) {
        stats::add(&STATS.refused, 1);
        return;
    }
    if r.epoch.load(Ordering::Acquire) == epoch {
        r.mask.store(mask, Ordering::Release);
    } else {
        // A stale answer: the next poll asks again.
        r.watched.store(0, Ordering::Release);
    }
    r.queue.wake();
}

/// Node `node` left the view: its proxies' pollers and sleepers wake (to
/// end of file or `EPIPE`). Never blocks.
pub(crate) fn node_left(node: u8) {
    let Some(reg) = REGISTRY.get() else {
        return;
    };
    for r in reg
        .list
        .lock()
        .iter()
        .filter(|r| r.anchor.load(Ordering::Acquire) == u32::from(node))
    {
        r.queue.wake();
    }
}

/// Where a proxy's handle is: its anchor, its name there, and the
/// anchor's generation when it was attached (changed, under the proxy's
/// sequence lock, when its pipe moves).
struct Route {
    anchor: AtomicU32,
    export: AtomicU64,
    handle: AtomicU64,
    generation: AtomicU32,
}

impl Route {
    fn new(anchor: u8, at: At, generation: u32) -> Self {
        Route {
            anchor: AtomicU32::new(u32::from(anchor)),
            export: AtomicU64::new(at.export),
            handle: AtomicU64::new(at.handle),
            generation: AtomicU32::new(generation),
        }
    }

    fn anchor(&self) -> u8 {
        self.anchor.load(Ordering::Acquire) as u8
    }

    fn at(&self) -> At {
        At {
            export: self.export.load(Ordering::Acquire),
            handle: self.handle.load(Ordering::Acquire),
        }
    }

    fn set(&self, anchor: u8, at: At) {
        self.generation
            .store(nodes::generation(anchor), Ordering::Release);
        self.export.store(at.export, Ordering::Release);
        self.handle.store(at.handle, Ordering::Release);
        self.anchor.store(u32::from(anchor), Ordering::Release);
    }
}

/// A call to the service of `node`; served here at once if it is this
/// node (a pipe that moved here).
fn call_at(node: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
    if node == nodes::me() {
        crate::anchor::serve_local(req, resp)
    } else {
        ssi_api::call_killable(node, SERVICE, req, resp, CALL_TIMEOUT_MS)
    }
}

/// A one-way message to the service of `node` (or this node's).
fn send_at(node: u8, req: &[u8]) -> Result {
    if node == nodes::me() {
        let mut none = [0u8; 0];
        crate::anchor::serve_local(req, &mut none).map(|_| ())
    } else {
        ssi_api::send_oneway(node, SERVICE, req)
    }
}

/// Where handle `at` of `anchor` is now that its pipe moved.
fn where_is(anchor: u8, at: At) -> Result<Where> {
    let mut req = [0u8; 32];
    let n = (Request::Where { at }).encode(&mut req).ok_or(EINVAL)?;
    let mut answer = [0u8; Where::LEN];
    let got = call_at(anchor, &req[..n], &mut answer)?;
    Where::decode(answer.get(..got).ok_or(EIO)?).ok_or(EIO)
}

/// Where a proxy's bytes come from or go to: the caller's buffer of a
/// `read(2)`/`write(2)` or of a socket's `recvmsg`/`sendmsg`.
pub(crate) trait Sink {
    fn room(&self) -> usize;
    fn put(&mut self, b: &[u8]) -> Result;
    /// Ancillary data that came with the bytes was dropped: `recvmsg`
    /// says so; `read` drops it as it would on a local socket.
    fn control_truncated(&mut self) {}
}

pub(crate) trait Spring {
    fn left(&self) -> usize;
    fn take(&mut self, b: &mut [u8]) -> Result;
}

impl Sink for UserSliceWriter {
    fn room(&self) -> usize {
        self.len()
    }
    fn put(&mut self, b: &[u8]) -> Result {
        self.write_slice(b)
    }
}

impl Spring for UserSliceReader {
    fn left(&self) -> usize {
        self.len()
    }
    fn take(&mut self, b: &mut [u8]) -> Result {
        self.read_slice(b)
    }
}

impl Sink for MsgIter {
    fn room(&self) -> usize {
        self.len()
    }
    fn put(&mut self, b: &[u8]) -> Result {
        MsgIter::put(self, b)
    }
    fn control_truncated(&mut self) {
        MsgIter::control_truncated(self)
    }
}

impl Spring for MsgIter {
    fn left(&self) -> usize {
        self.len()
    }
    fn take(&mut self, b: &mut [u8]) -> Result {
        MsgIter::take(self, b)
    }
}

/// What a reader of a proxy waits for, and a writer.
const READABLE: u32 = POLLIN | POLLRDHUP;
const WRITABLE: u32 = POLLOUT;

/// A migrated end's file (a pipe's) or socket (a UNIX stream socket's).
pub(crate) struct Proxy {
    route: Route,
    end: End,
    /// The next sequence number of its reads (a pipe's one direction);
    /// held for a request.
    seq: Arc<Mutex<u64>>,
    /// A socket's: of its writes.
    wseq: Arc<Mutex<u64>>,
    ready: Arc<Ready>,
}

/// How a request ended.
enum Outcome {
    Done(usize),
    /// Nothing to read or no room: ask again later.
    Again,
    /// The other side is gone: end of file, or `EPIPE`.
    Closed,
    /// The pipe moved: ask its new anchor.
    Moved,
}

impl Proxy {
    /// The sequence lock of its writes.
    fn wseq(&self) -> &Mutex<u64> {
        if self.end == End::Both {
            &self.wseq
        } else {
            &self.seq
        }
    }

    fn gone(&self) -> bool {
        nodes::generation(self.route.anchor()) != self.route.generation.load(Ordering::Acquire)
    }

    /// The handle moved with its pipe: asks its old anchor where it is
    /// now, and goes on there (called with the sequence lock held).
    fn follow(&self) -> Result<Outcome> {
        let w = match where_is(self.route.anchor(), self.route.at()) {
            Ok(w) => w,
            Err(e) if e == estale() => return Ok(Outcome::Closed),
            Err(e) => return Err(e),
        };
        self.route.set(w.node, w.at);
        self.ready
            .anchor
            .store(u32::from(w.node), Ordering::Release);
        self.ready.watched.store(0, Ordering::Release);
        self.stale();
        Ok(Outcome::Moved)
    }

    /// One call to the anchor, its errors sorted.
    fn call(&self, req: &[u8], resp: &mut [u8]) -> Result<Result<usize, Outcome>> {
        if self.gone() {
            return Ok(Err(Outcome::Closed));
        }
        if self.route.anchor() == nodes::me() {
            return match crate::anchor::serve_local(req, resp) {
                Ok(n) => Ok(Ok(n)),
                Err(e) if e == EAGAIN => Ok(Err(Outcome::Again)),
                Err(e) if e == EPIPE || e == estale() => Ok(Err(Outcome::Closed)),
                Err(e) if e == exdev() => Ok(Err(self.follow()?)),
                Err(e) => Err(e),
            };
        }
        // Only SIGKILL ends the wait: a migration's safe point (a signal
        // to the process) waits for the answer, so that the sequence
        // number the ghost stream carries counts every byte the anchor
        // moved; were it cut, a process going back to the anchor would
        // lose the chunk read for it (tests/scenarios/100, part 1).
        match ssi_api::call_killable(self.route.anchor(), SERVICE, req, resp, CALL_TIMEOUT_MS) {
            Ok(n) => Ok(Ok(n)),
            Err(e) if e == EAGAIN => Ok(Err(Outcome::Again)),
            Err(e) if e == exdev() => Ok(Err(self.follow()?)),
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

    fn read_once(&self, out: &mut impl Sink, count: usize) -> Result<Outcome> {
        let mut answer = KVec::from_elem(0u8, READ_HEAD + count, GFP_KERNEL)?;
        let mut seq = self.seq.lock();
        let mut req = [0u8; 64];
        let n = Request::Read {
            at: self.route.at(),
            seq: *seq,
            count: count as u32,
        }
        .encode(&mut req)
        .ok_or(EINVAL)?;
        let got = match self.call(&req[..n], &mut answer)? {
            Ok(got) => got,
            Err(o) => return Ok(o),
        };
        let (data, ctrunc) =
            decode_read_answer(answer.get(..got).ok_or(EIO)?, *seq, count as u32).ok_or(EIO)?;
        // If this fails the bytes stay held at the anchor for the next read.
        out.put(data)?;
        if ctrunc {
            out.control_truncated();
        }
        *seq += data.len() as u64;
        if self.route.anchor() != nodes::me() {
            stats::add(&STATS.proxy_read, data.len());
            if self.end == End::Both {
                stats::add(&STATS.sock_read, data.len());
            }
        }
        Ok(Outcome::Done(data.len()))
    }

    /// Writes `buf[WRITE_HEAD..]` (its head is written in front of it).
    fn write_once(&self, buf: &mut [u8]) -> Result<Outcome> {
        let len = buf.len() - WRITE_HEAD;
        let mut seq = self.wseq().lock();
        let mut head = [0u8; WRITE_HEAD];
        Request::Write {
            at: self.route.at(),
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
        if self.route.anchor() != nodes::me() {
            stats::add(&STATS.proxy_written, done);
            if self.end == End::Both {
                stats::add(&STATS.sock_written, done);
            }
        }
        Ok(if done == 0 {
            Outcome::Again
        } else {
            Outcome::Done(done)
        })
    }

    /// What the proxy knew is stale (it moved bytes, or found the pipe
    /// empty or full).
    fn stale(&self) {
        self.ready.epoch.fetch_add(1, Ordering::AcqRel);
        self.ready.mask.store(0, Ordering::Release);
    }

    /// Asks the anchor for a `READY` when one of `want`'s bits is set,
    /// once per epoch (and per want).
    fn arm(&self, want: u32) {
        let r = &self.ready;
        let epoch = r.epoch.load(Ordering::Acquire);
        let before = r.watched_want.swap(want, Ordering::AcqRel);
        if r.watched.swap(epoch + 1, Ordering::AcqRel) == epoch + 1 && before == want {
            return;
        }
        let mut req = [0u8; 64];
        let Some(n) = (Request::Watch {
            at: self.route.at(),
            proxy: r.id,
            epoch,
            want,
        })
        .encode(&mut req) else {
            return;
        };
        if let Err(e) = send_at(self.route.anchor(), &req[..n]) {
            // The next poll or wait asks again.
            r.watched.store(0, Ordering::Release);
            pr_warn!("watch to node {} lost: {:?}\n", self.route.anchor(), e);
        }
    }

    /// The mask of an end whose other side is gone.
    fn closed_mask(&self) -> u32 {
        match self.end {
            End::Read => POLLIN | POLLRDNORM | POLLHUP,
            End::Write => POLLOUT | POLLWRNORM | POLLERR,
            End::Both => POLLIN | POLLRDNORM | POLLHUP | POLLOUT | POLLWRNORM | POLLERR,
        }
    }

    /// Waits until the anchor says the end is ready (or its node left,
    /// or a second passed); `ERESTARTSYS` on a signal.
    fn wait_ready(&self, want: u32) -> Result {
        if kthread::signal_pending() {
            return Err(ERESTARTSYS);
        }
        self.arm(want);
        let r = &self.ready;
        r.queue.sleep(READY_WAIT_MS, || {
            r.mask.load(Ordering::Acquire) & (want | POLLHUP | POLLERR) != 0
                || self.gone()
                || kthread::signal_pending()
        });
        if kthread::signal_pending() {
            return Err(ERESTARTSYS);
        }
        Ok(())
    }

    /// The token that carries it in a migration.
    pub(crate) fn describe(&self, tok: &mut [u8]) -> Result<(usize, u8)> {
        let seq = self.seq.lock();
        let wseq = if self.end == End::Both {
            *self.wseq.lock()
        } else {
            0
        };
        let (anchor, at) = (self.route.anchor(), self.route.at());
        let t = Token {
            end: self.end,
            anchor,
            source: Source::Handle {
                export: at.export,
                handle: at.handle,
                seq: *seq,
                wseq,
            },
        };
        Ok((t.encode(tok).ok_or(EINVAL)?, anchor))
    }
}

impl Proxy {
    /// A read: blocking unless `nonblock`.
    fn read_into(&self, out: &mut impl Sink, nonblock: bool) -> Result<usize> {
        if self.end == End::Write {
            return Err(EBADF);
        }
        let count = out.room().min(MAX_IO);
        if count == 0 {
            return Ok(0);
        }
        loop {
            let o = self.read_once(out, count)?;
            self.stale();
            match o {
                Outcome::Done(n) => return Ok(n),
                Outcome::Closed => return Ok(0),
                Outcome::Moved => continue,
                Outcome::Again if nonblock => {
                    // An edge-triggered epoll hears when it is ready.
                    self.arm(READABLE);
                    return Err(EAGAIN);
                }
                Outcome::Again => self.wait_ready(READABLE)?,
            }
        }
    }

    /// A write: blocking unless `nonblock`; `SIGPIPE` with `EPIPE` if
    /// `sigpipe`.
    fn write_from(&self, input: &mut impl Spring, nonblock: bool, sigpipe: bool) -> Result<usize> {
        if self.end == End::Read {
            return Err(EBADF);
        }
        let len = input.left();
        let mut buf = KVec::from_elem(0u8, WRITE_HEAD + len.min(MAX_IO), GFP_KERNEL)?;
        let mut total = 0;
        while total < len {
            // A write of at most PIPE_BUF bytes is one request, which the
            // anchor's pipe_write() takes whole or not at all.
            let chunk = (len - total).min(MAX_IO);
            let b = buf.get_mut(..WRITE_HEAD + chunk).ok_or(EINVAL)?;
            input.take(&mut b[WRITE_HEAD..])?;
            let mut sent = 0;
            while sent < chunk {
                // The head goes in front of what is left to send.
                let outcome = self.write_once(&mut b[sent..])?;
                self.stale();
                let done = total + sent;
                match outcome {
                    Outcome::Done(n) => sent += n,
                    Outcome::Moved => continue,
                    Outcome::Closed if done > 0 => return Ok(done),
                    Outcome::Closed => {
                        if sigpipe {
                            signal::raise_sigpipe();
                        }
                        return Err(EPIPE);
                    }
                    Outcome::Again if nonblock => {
                        self.arm(WRITABLE);
                        return if done > 0 { Ok(done) } else { Err(EAGAIN) };
                    }
                    Outcome::Again => {
                        if let Err(e) = self.wait_ready(WRITABLE) {
                            return if done > 0 { Ok(done) } else { Err(e) };
                        }
                    }
                }
            }
            total += chunk;
        }
        Ok(total)
    }

    /// `shutdown(2)` of a socket's end, at its anchor.
    fn shut(&self, how: u32) -> Result {
        let mut req = [0u8; 32];
        let n = (Request::Shutdown {
            at: self.route.at(),
            how: how as u8,
        })
        .encode(&mut req)
        .ok_or(EINVAL)?;
        for _ in 0..40 {
            let r = {
                let _seq = self.wseq().lock();
                self.call(&req[..n], &mut [])?
            };
            self.stale();
            match r {
                Ok(_) => return Ok(()),
                Err(Outcome::Closed) => return Err(errno::enotconn()),
                Err(Outcome::Moved) => continue,
                Err(_) => kthread::sleep_ms(50),
            }
        }
        Err(EAGAIN)
    }
}

impl StreamOps for Proxy {
    fn read(&self, out: &mut UserSliceWriter, pos: Option<i64>, nonblock: bool) -> Result<usize> {
        if pos.is_some() {
            return Err(errno::espipe());
        }
        self.read_into(out, nonblock)
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
        self.write_from(input, nonblock, true)
    }

    fn seek(&self, _offset: i64, _whence: u32) -> Result<i64> {
        Err(errno::espipe())
    }

    const POLL: bool = true;

    /// What the last `READY` said; when that is nothing, a `WATCH` asks
    /// the anchor for one (whose arrival wakes the poller).
    fn poll(&self, table: &PollTable) -> u32 {
        table.wait(&self.ready.queue);
        if self.gone() {
            return self.closed_mask();
        }
        let m = self.ready.mask.load(Ordering::Acquire);
        let want = match self.end {
            End::Read => READABLE,
            End::Write => WRITABLE,
            End::Both => {
                let asked = table.requested();
                let mut w = 0;
                if asked & (POLLIN | POLLRDNORM | POLLRDHUP) != 0 {
                    w |= READABLE;
                }
                if asked & (POLLOUT | POLLWRNORM) != 0 {
                    w |= WRITABLE;
                }
                if w == 0 {
                    READABLE | WRITABLE
                } else {
                    w
                }
            }
        };
        let ready = m & (want | POLLHUP | POLLERR);
        if ready == 0 {
            self.arm(want);
            return 0;
        }
        if self.end == End::Both {
            let mut m = m;
            if m & POLLIN != 0 {
                m |= POLLRDNORM;
            }
            if m & POLLOUT != 0 {
                m |= POLLWRNORM;
            }
            return m;
        }
        // A write end whose reader left is writable (to EPIPE), as a pipe is.
        match self.end {
            End::Read if m & POLLIN != 0 => m | POLLRDNORM,
            End::Write if m & (POLLOUT | POLLERR) != 0 => m | POLLOUT | POLLWRNORM,
            _ => m,
        }
    }

    /// `FIONREAD`: how many bytes the pipe holds, asked of the anchor.
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<i64> {
        if cmd != FIONREAD {
            return Err(ENOTTY);
        }
        let mut n = 0;
        for _ in 0..4 {
            if self.gone() {
                break;
            }
            let mut req = [0u8; 32];
            let len = (Request::Nread {
                at: self.route.at(),
            })
            .encode(&mut req)
            .ok_or(EINVAL)?;
            let mut answer = [0u8; 4];
            match call_at(self.route.anchor(), &req[..len], &mut answer) {
                Ok(4) => {
                    n = u32::from_le_bytes(answer);
                    break;
                }
                Ok(_) => return Err(EIO),
                Err(e) if e == estale() || e == errno::ehostdown() || e == errno::eshutdown() => {
                    break
                }
                Err(e) if e == exdev() => {
                    let _seq = self.seq.lock();
                    self.follow()?;
                }
                // The pipe is moving: it holds what it held.
                Err(e) if e == EAGAIN => kthread::sleep_ms(100),
                Err(e) => return Err(e),
            }
        }
        let v = i32::try_from(n).unwrap_or(i32::MAX);
        UserSlice::new(arg, 4)
            .writer()
            .write_slice(&v.to_ne_bytes())?;
        Ok(0)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        stats::add(&STATS.proxies_released, 1);
        if let Some(reg) = REGISTRY.get() {
            let id = self.ready.id;
            let gone = vec::take_first(&mut reg.list.lock(), |r| r.id == id);
            drop(gone);
        }
        if self.gone() {
            return;
        }
        // One-way: the release of a killed process's files (the copy a
        // migration leaves behind) runs with SIGKILL pending, which would
        // end a call's wait before the anchor heard it.
        let mut req = [0u8; 64];
        let anchor = self.route.anchor();
        if let Some(n) = (Request::Detach {
            at: self.route.at(),
        })
        .encode(&mut req)
        {
            if let Err(e) = send_at(anchor, &req[..n]) {
                pr_warn!("detach from node {} lost: {:?}\n", anchor, e);
            }
        }
    }
}

impl SockOps for Proxy {
    fn recv(&self, out: &mut MsgIter, flags: u32) -> Result<usize> {
        if flags & (sock::MSG_PEEK | sock::MSG_OOB | sock::MSG_ERRQUEUE) != 0 {
            return Err(errno::eopnotsupp());
        }
        let nonblock = flags & sock::MSG_DONTWAIT != 0;
        let mut total = self.read_into(out, nonblock)?;
        // MSG_WAITALL: on until full, end of file, or an error.
        while flags & sock::MSG_WAITALL != 0 && !nonblock && total > 0 && out.len() > 0 {
            match self.read_into(out, false) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        Ok(total)
    }

    fn send(&self, input: &mut MsgIter, flags: u32) -> Result<usize> {
        if flags & sock::MSG_OOB != 0 {
            return Err(errno::eopnotsupp());
        }
        let n = self.write_from(
            input,
            flags & sock::MSG_DONTWAIT != 0,
            flags & sock::MSG_NOSIGNAL == 0,
        )?;
        Ok(n)
    }

    fn poll(&self, table: &PollTable) -> u32 {
        StreamOps::poll(self, table)
    }

    fn shutdown(&self, how: u32) -> Result {
        self.shut(how)
    }
}

static FOPS: StreamFops<Proxy> = StreamFops::new(&crate::THIS_MODULE);
static SOPS: SockProtoOps<Proxy> = SockProtoOps::new(&crate::THIS_MODULE);

/// The proxy of `f`, if it is one (a pipe's file or a socket's).
pub(crate) fn of(f: &FdFile) -> Option<&Proxy> {
    FOPS.data_of(f).or_else(|| SOPS.data_of(f))
}

/// A proxy for the end a token names, attached at its anchor, with the
/// `O_NONBLOCK` of `flags`; the current task's ids go with the request.
pub(crate) fn open(t: &Token, flags: u32) -> Result<FdFile> {
    let mut t = *t;
    let mut tries = 0;
    loop {
        match open_at(&t, flags) {
            // Its pipe moved: attach where it is now (here: the end itself).
            Err(e) if e == exdev() && tries < 4 => {
                let Source::Handle { seq, wseq, .. } = t.source else {
                    return Err(e);
                };
                let w = where_is(t.anchor, t.at().ok_or(EINVAL)?)?;
                t.anchor = w.node;
                t.source = Source::Handle {
                    export: w.at.export,
                    handle: w.at.handle,
                    seq,
                    wseq,
                };
                if t.anchor == nodes::me() {
                    return crate::anchor::local(&t);
                }
            }
            // Its pipe is moving.
            Err(e) if e == EAGAIN && tries < 40 => crate::kernel_ext::migrate::sleep_ms(100),
            r => return r,
        }
        tries += 1;
    }
}

fn open_at(t: &Token, flags: u32) -> Result<FdFile> {
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
    let wseq = Arc::pin_init(new_mutex!(0u64), GFP_KERNEL)?;
    let mut answer = [0u8; Attached::LEN];
    let got = ssi_api::call_killable(t.anchor, SERVICE, &req[..n], &mut answer, CALL_TIMEOUT_MS)?;
    let a = Attached::decode(answer.get(..got).ok_or(EIO)?).ok_or(EIO)?;
    if a.end != t.end {
        return Err(EIO);
    }
    // A migrated end goes on from the number its last node had.
    (*seq.lock(), *wseq.lock()) = match t.source {
        // A fresh handle: a socket's writes start from 0 too.
        Source::Fd { .. } => (a.seq, 0),
        Source::Handle { seq, wseq, .. } => (seq, wseq),
        Source::Move { .. } => return Err(EINVAL),
    };
    let reg = REGISTRY.get().ok_or(ENODEV)?;
    let ready = Arc::pin_init(
        pin_init!(Ready {
            id: reg.next.fetch_add(1, Ordering::Relaxed) + 1,
            anchor: AtomicU32::new(u32::from(t.anchor)),
            mask: AtomicU32::new(0),
            epoch: AtomicU64::new(0),
            watched: AtomicU64::new(0),
            watched_want: AtomicU32::new(0),
            queue <- PollQueue::new(),
        }),
        GFP_KERNEL,
    )?;
    // Under a spinlock (the listener must not block): no sleeping allocation.
    reg.list.lock().push(ready.clone(), GFP_ATOMIC)?;
    let p = Proxy {
        route: Route::new(t.anchor, a.at, generation),
        end: t.end,
        seq,
        wseq,
        ready,
    };
    stats::add(&STATS.proxies_made, 1);
    let acc = match t.end {
        End::Read => bindings::O_RDONLY,
        End::Write => bindings::O_WRONLY,
        // A UNIX stream socket of its own whose operations are the proxy's.
        End::Both => {
            stats::add(&STATS.sock_proxies, 1);
            return SockFile::new(&SOPS, p, flags & bindings::O_NONBLOCK);
        }
    };
    Ok(NewFile::new(&FOPS, p, acc | (flags & bindings::O_NONBLOCK))?.into_file())
}
