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
    stream::{NewFile, StreamFops, StreamOps, FIONREAD},
    vec,
};
use crate::nodes;
use crate::proto::dynstreams::{
    decode_read_answer, decode_written, At, Attached, End, Request, Source, Token, MAX_IO, POLLERR,
    POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, READ_HEAD, SERVICE, TOKEN_MAX, WRITE_HEAD,
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
    /// The epoch + 1 a `WATCH` went out for (0: none).
    watched: AtomicU64,
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

/// A migrated end's file.
pub(crate) struct Proxy {
    route: Route,
    end: End,
    /// The next sequence number of its direction; held for a request.
    seq: Arc<Mutex<u64>>,
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

    fn read_once(&self, out: &mut UserSliceWriter, count: usize) -> Result<Outcome> {
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
        let data =
            decode_read_answer(answer.get(..got).ok_or(EIO)?, *seq, count as u32).ok_or(EIO)?;
        // If this fails the bytes stay held at the anchor for the next read.
        out.write_slice(data)?;
        *seq += data.len() as u64;
        if self.route.anchor() != nodes::me() {
            stats::add(&STATS.proxy_read, data.len());
        }
        Ok(Outcome::Done(data.len()))
    }

    /// Writes `buf[WRITE_HEAD..]` (its head is written in front of it).
    fn write_once(&self, buf: &mut [u8]) -> Result<Outcome> {
        let len = buf.len() - WRITE_HEAD;
        let mut seq = self.seq.lock();
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

    /// Asks the anchor for a `READY`, once per epoch.
    fn arm(&self) {
        let r = &self.ready;
        let epoch = r.epoch.load(Ordering::Acquire);
        if r.watched.swap(epoch + 1, Ordering::AcqRel) == epoch + 1 {
            return;
        }
        let mut req = [0u8; 64];
        let Some(n) = (Request::Watch {
            at: self.route.at(),
            proxy: r.id,
            epoch,
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
        }
    }

    /// Waits until the anchor says the end is ready (or its node left,
    /// or a second passed); `ERESTARTSYS` on a signal.
    fn wait_ready(&self) -> Result {
        if kthread::signal_pending() {
            return Err(ERESTARTSYS);
        }
        self.arm();
        let r = &self.ready;
        r.queue.sleep(READY_WAIT_MS, || {
            r.mask.load(Ordering::Acquire) != 0 || self.gone() || kthread::signal_pending()
        });
        if kthread::signal_pending() {
            return Err(ERESTARTSYS);
        }
        Ok(())
    }

    /// The token that carries it in a migration.
    pub(crate) fn describe(&self, tok: &mut [u8]) -> Result<(usize, u8)> {
        let seq = self.seq.lock();
        let (anchor, at) = (self.route.anchor(), self.route.at());
        let t = Token {
            end: self.end,
            anchor,
            source: Source::Handle {
                export: at.export,
                handle: at.handle,
                seq: *seq,
            },
        };
        Ok((t.encode(tok).ok_or(EINVAL)?, anchor))
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
        loop {
            let o = self.read_once(out, count)?;
            self.stale();
            match o {
                Outcome::Done(n) => return Ok(n),
                Outcome::Closed => return Ok(0),
                Outcome::Moved => continue,
                Outcome::Again if nonblock => {
                    // An edge-triggered epoll hears when it is ready.
                    self.arm();
                    return Err(EAGAIN);
                }
                Outcome::Again => self.wait_ready()?,
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
                        signal::raise_sigpipe();
                        return Err(EPIPE);
                    }
                    Outcome::Again if nonblock => {
                        self.arm();
                        return if done > 0 { Ok(done) } else { Err(EAGAIN) };
                    }
                    Outcome::Again => {
                        if let Err(e) = self.wait_ready() {
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

    const POLL: bool = true;

    /// What the last `READY` said; when that is nothing, a `WATCH` asks
    /// the anchor for one (whose arrival wakes the poller).
    fn poll(&self, table: &PollTable) -> u32 {
        table.wait(&self.ready.queue);
        if self.gone() {
            return self.closed_mask();
        }
        let m = self.ready.mask.load(Ordering::Acquire);
        let ready = match self.end {
            End::Read => m & (POLLIN | POLLHUP | POLLERR),
            End::Write => m & (POLLOUT | POLLHUP | POLLERR),
        };
        if ready == 0 {
            self.arm();
            return 0;
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

static FOPS: StreamFops<Proxy> = StreamFops::new(&crate::THIS_MODULE);

/// The proxy of `f`, if it is one.
pub(crate) fn of(f: &FdFile) -> Option<&Proxy> {
    FOPS.data_of(f)
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
                let Source::Handle { seq, .. } = t.source else {
                    return Err(e);
                };
                let w = where_is(t.anchor, t.at().ok_or(EINVAL)?)?;
                t.anchor = w.node;
                t.source = Source::Handle {
                    export: w.at.export,
                    handle: w.at.handle,
                    seq,
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
    let mut answer = [0u8; Attached::LEN];
    let got = ssi_api::call_killable(t.anchor, SERVICE, &req[..n], &mut answer, CALL_TIMEOUT_MS)?;
    let a = Attached::decode(answer.get(..got).ok_or(EIO)?).ok_or(EIO)?;
    if a.end != t.end {
        return Err(EIO);
    }
    // A migrated end goes on from the number its last node had.
    *seq.lock() = match t.source {
        Source::Fd { .. } => a.seq,
        Source::Handle { seq, .. } => seq,
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
        ready,
    };
    stats::add(&STATS.proxies_made, 1);
    let acc = match t.end {
        End::Read => bindings::O_RDONLY,
        End::Write => bindings::O_WRONLY,
    };
    Ok(NewFile::new(&FOPS, p, acc | (flags & bindings::O_NONBLOCK))?.into_file())
}
