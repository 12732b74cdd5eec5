// SPDX-License-Identifier: GPL-2.0-only
//! The anchor: this node holds a pipe while an end of it runs on another
//! node. Each migrated end is a handle (`rust/proto/src/dynstreams/`):
//! the reference that keeps its end open here, the nodes whose proxies
//! use it, and its sequence cursors. The `SERVICE` RPC service (on the
//! core's worker thread, never blocking: the pipe is read and written
//! with `O_NONBLOCK`'s rules) serves `ATTACH`, `READ`, `WRITE` and
//! `DETACH`, `NREAD` and `WATCH`; a thread (the notifier) drops the
//! handles of nodes that left, so that the local end sees end of file or
//! `EPIPE` within the failure timeout, and sends `READY` to the proxies
//! that wait for their end to become ready: while a handle has watches,
//! a [`Watcher`] on the pipe's wait queue wakes the notifier.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings, c_str, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

#[path = "moving.rs"]
mod moving;
pub(crate) use moving::exdev;

use crate::kernel_ext::{
    cred,
    file::{FdFile, PipeInfo},
    global::Published,
    kthread,
    kthread::KThread,
    poll::{PollQueue, Watcher},
    sock,
    sysfs::ShowBuf,
    task::TaskRef,
    vec,
};
use crate::nodes;
use crate::proto::dynstreams::{
    cursor::{ReadCursor, ReadStep, WriteCursor},
    read_head, At, Attached, End, Request, Source, Token, MAX_IO, POLLERR, POLLHUP, READY_MASK,
    READ_HEAD, SERVICE,
};
use crate::ssi_api;
use crate::stats::{self, STATS};

/// `ESTALE`: no such handle (any more).
pub(crate) fn estale() -> Error {
    Error::from_errno(-116)
}

/// `EOPNOTSUPP`.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-95)
}

/// An end of a pipe kept open here for the handles that use it.
struct Export {
    id: u64,
    end: End,
    file: FdFile,
    /// The pipe (its inode), whichever end.
    pipe: u64,
}

impl Export {
    /// Reads without blocking (`EAGAIN`: nothing yet, 0: end of file);
    /// with whether ancillary data came with the bytes and was dropped.
    fn read_nowait(&self, buf: &mut [u8]) -> Result<(usize, bool)> {
        if self.end != End::Both {
            return Ok((self.file.read_shared(buf, None, true)?, false));
        }
        let (n, dropped) = sock::recv_nowait(&self.file, buf)?;
        if dropped {
            // Descriptors or credentials the peer sent to a migrated end:
            // they cannot be carried, and the kernel dropped them; the
            // proxy's reader is told (`MSG_CTRUNC`).
            stats::add(&STATS.sock_ctrunc, 1);
        }
        Ok((n, dropped))
    }

    /// Writes without blocking (`EAGAIN`: no room, `EPIPE`: no reader).
    fn write_nowait(&self, buf: &[u8]) -> Result<usize> {
        if self.end != End::Both {
            return self.file.write_shared(buf, None, true);
        }
        sock::send_nowait(&self.file, buf)
    }
}

/// A migrated end: who uses it, and its sequence numbers.
struct Handle {
    id: u64,
    export: Arc<Export>,
    /// `(node, proxies)`: the nodes whose proxies hold it.
    holders: KVec<(u8, u32)>,
    read: ReadCursor,
    write: WriteCursor,
    /// The chunk of the last read, until the proxy shows it received it.
    held: KVec<u8>,
    /// Ancillary data came with it and was dropped.
    held_ctrunc: bool,
    /// Bytes it carried, both directions.
    bytes: u64,
    /// `(node, proxy, epoch, want)`: proxies to send `READY` once one of
    /// the poll bits `want` is set.
    watches: KVec<(u8, u64, u64, u32)>,
    /// The pipe's wake-ups, while there are watches.
    watcher: Option<Watcher>,
    /// The node it moved from with its pipe (0: made here).
    from: u8,
    /// Reads and writes of the pipe in progress (a move waits for none).
    busy: u32,
}

impl Handle {
    fn new(id: u64, export: Arc<Export>, holders: KVec<(u8, u32)>) -> Self {
        Handle {
            id,
            export,
            holders,
            read: ReadCursor::new(),
            write: WriteCursor::new(),
            held: KVec::new(),
            held_ctrunc: false,
            bytes: 0,
            watches: KVec::new(),
            watcher: None,
            from: 0,
            busy: 0,
        }
    }
}

/// Set by a pipe's wake-up, cleared by the notifier.
static DIRTY: AtomicBool = AtomicBool::new(false);

/// A watched pipe was woken (any context): the notifier looks.
fn poke(_cookie: u64) {
    DIRTY.store(true, Ordering::Release);
    if let Some(a) = ANCHOR.get() {
        a.notify.wake();
    }
}

struct Tables {
    handles: KVec<Handle>,
    next: u64,
    /// Pipes moving away, handles that moved, pipes that arrived.
    moves: KVec<moving::Move>,
    forwards: KVec<moving::Forward>,
    arrivals: KVec<moving::Arrival>,
}

impl Tables {
    /// A handle to serve: `EXDEV` if it moved, `EAGAIN` while its pipe
    /// moves.
    fn find(&mut self, at: At) -> Result<&mut Handle> {
        let Some(i) = self
            .handles
            .iter()
            .position(|h| h.id == at.handle && h.export.id == at.export)
        else {
            return Err(if self.forwarded(at) {
                exdev()
            } else {
                estale()
            });
        };
        if self.moving(self.handles[i].export.pipe) {
            return Err(EAGAIN);
        }
        Ok(&mut self.handles[i])
    }

    /// A handle, whatever its pipe does.
    fn find_any(&mut self, at: At) -> Result<&mut Handle> {
        self.handles
            .iter_mut()
            .find(|h| h.id == at.handle && h.export.id == at.export)
            .ok_or_else(estale)
    }

    fn export_of(&self, file: u64) -> Option<Arc<Export>> {
        self.handles
            .iter()
            .find(|h| h.export.file.identity() == file)
            .map(|h| h.export.clone())
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

/// The anchor's state.
#[pin_data]
pub(crate) struct Anchor {
    #[pin]
    tables: Mutex<Tables>,
    /// Each node's generation when the reaper last looked.
    reaped: [AtomicU32; 256],
    /// Where the notifier sleeps.
    #[pin]
    notify: PollQueue,
    /// Takes the `READY`s for this node's proxies.
    on_ready: fn(u8, u64, u64, u32),
}

static ANCHOR: Published<Anchor> = Published::new();

/// Which end `f` is: a pipe's (`EOPNOTSUPP` for a FIFO open for both),
/// or a connected UNIX stream socket's (`Both`).
fn end_of(f: &FdFile) -> Result<End> {
    if sock::unix_stream(f) {
        return Ok(End::Both);
    }
    if !f.is_fifo() {
        return Err(eopnotsupp());
    }
    match f.flags() & bindings::O_ACCMODE {
        bindings::O_RDONLY => Ok(End::Read),
        bindings::O_WRONLY => Ok(End::Write),
        _ => Err(eopnotsupp()),
    }
}

/// Whether process `t` holds the socket whose [`sock::identity`] is `id`.
fn holds(t: &TaskRef, id: u64) -> bool {
    let mut from = 0;
    while let Some((fd, f)) = t.next_file(from) {
        if sock::identity(&f) == id {
            return true;
        }
        let Some(next) = fd.checked_add(1) else {
            return false;
        };
        from = next;
    }
    false
}

impl Anchor {
    fn attach(
        &self,
        src: u8,
        token: &Token,
        ids: (u32, u32, bool),
        resp: &mut [u8],
    ) -> Result<usize> {
        if token.anchor != nodes::me() {
            return Err(EINVAL);
        }
        let a = match token.source {
            Source::Fd { pid, fd } => {
                let task = TaskRef::get(pid)?;
                if !task.may_attach(ids.0, ids.1, ids.2) {
                    return Err(EPERM);
                }
                let f = FdFile::of_task(&task, fd)?;
                if end_of(&f)? != token.end {
                    return Err(EINVAL);
                }
                let mut holders = KVec::new();
                holders.push((src, 1u32), GFP_KERNEL)?;
                let mut t = self.tables.lock();
                let export = match t.export_of(f.identity()) {
                    Some(e) => e,
                    None => {
                        let pipe = f.inode_identity();
                        let id = t.id();
                        Arc::new(
                            Export {
                                id,
                                end: token.end,
                                file: f,
                                pipe,
                            },
                            GFP_KERNEL,
                        )?
                    }
                };
                let at = At {
                    export: export.id,
                    handle: t.id(),
                };
                t.handles
                    .push(Handle::new(at.handle, export, holders), GFP_KERNEL)?;
                Attached {
                    at,
                    end: token.end,
                    seq: 0,
                }
            }
            Source::Move { .. } => return Err(EINVAL),
            Source::Handle { export, handle, .. } => {
                let at = At { export, handle };
                let mut t = self.tables.lock();
                let h = t.find(at)?;
                if h.export.end != token.end {
                    return Err(EINVAL);
                }
                match h.holders.iter_mut().find(|(n, _)| *n == src) {
                    Some((_, c)) => *c = c.saturating_add(1),
                    None => h.holders.push((src, 1), GFP_KERNEL)?,
                }
                let seq = match token.end {
                    End::Read | End::Both => h.read.next(),
                    End::Write => h.write.next(),
                };
                Attached {
                    at,
                    end: token.end,
                    seq,
                }
            }
        };
        let out = resp.get_mut(..Attached::LEN).ok_or(EINVAL)?;
        out.copy_from_slice(&a.encode());
        Ok(Attached::LEN)
    }

    fn read(&self, src: u8, at: At, seq: u64, count: u32, resp: &mut [u8]) -> Result<usize> {
        let count = count as usize;
        let export = {
            let mut t = self.tables.lock();
            let h = t.find(at)?;
            if h.export.end == End::Write {
                return Err(EINVAL);
            }
            match h.read.ask(seq, count) {
                ReadStep::Refuse => {
                    stats::add(&STATS.refused, 1);
                    return Err(EINVAL);
                }
                ReadStep::Replay => {
                    let n = h.held.len();
                    let out = resp.get_mut(..READ_HEAD + n).ok_or(EINVAL)?;
                    out[..READ_HEAD].copy_from_slice(&read_head(seq, h.held_ctrunc));
                    out[READ_HEAD..].copy_from_slice(&h.held);
                    return Ok(READ_HEAD + n);
                }
                ReadStep::Fresh => {
                    h.busy += 1;
                    h.export.clone()
                }
            }
        };
        let out = resp.get_mut(..READ_HEAD + count).ok_or(EINVAL);
        let held = KVec::with_capacity(count, GFP_KERNEL).map_err(Error::from);
        let r = match (out, held) {
            (Ok(out), Ok(mut held)) => {
                export
                    .read_nowait(&mut out[READ_HEAD..])
                    .and_then(|(n, ctrunc)| {
                        out[..READ_HEAD].copy_from_slice(&read_head(seq, ctrunc));
                        held.extend_from_slice(&out[READ_HEAD..READ_HEAD + n], GFP_KERNEL)?;
                        Ok((n, held, ctrunc))
                    })
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        let mut t = self.tables.lock();
        // Gone meanwhile (its node left): the bytes go nowhere, as they
        // would with a reader killed after its read.
        let h = t.find_any(at)?;
        h.busy -= 1;
        let (n, held, ctrunc) = r?;
        h.read.read(n);
        h.held = held;
        h.held_ctrunc = ctrunc;
        h.bytes += n as u64;
        // A proxy of this node whose pipe moved here carries nothing.
        if src != nodes::me() {
            stats::add(&STATS.anchor_read, n);
        }
        Ok(READ_HEAD + n)
    }

    fn write(&self, src: u8, at: At, seq: u64, data: &[u8], resp: &mut [u8]) -> Result<usize> {
        let (export, skip) = {
            let mut t = self.tables.lock();
            let h = t.find(at)?;
            if h.export.end == End::Read {
                return Err(EINVAL);
            }
            let Some(skip) = h.write.offer(seq, data.len()) else {
                stats::add(&STATS.refused, 1);
                return Err(EINVAL);
            };
            h.busy += 1;
            (h.export.clone(), skip)
        };
        let rest = data.get(skip..).unwrap_or(&[]);
        let n = if rest.is_empty() {
            Ok(0)
        } else {
            match export.write_nowait(rest) {
                Ok(n) => Ok(n.min(rest.len())),
                // Part of it was written before: say so.
                Err(e) if e == EAGAIN && skip > 0 => Ok(0),
                Err(e) => Err(e),
            }
        };
        let done = {
            let mut t = self.tables.lock();
            let h = t.find_any(at)?;
            h.busy -= 1;
            let n = n?;
            h.bytes += n as u64;
            h.write.wrote(skip, n)
        };
        if src != nodes::me() {
            stats::add(&STATS.anchor_written, done - skip.min(done));
        }
        let out = resp.get_mut(..4).ok_or(EINVAL)?;
        out.copy_from_slice(&(done as u32).to_le_bytes());
        Ok(4)
    }

    fn detach(&self, src: u8, at: At) -> Result<usize> {
        let gone = {
            let mut t = self.tables.lock();
            if t.forwarded(at) {
                drop(t);
                return self.detach_forward(src, at);
            }
            let h = t.find_any(at)?;
            if let Some((_, c)) = h.holders.iter_mut().find(|(n, _)| *n == src) {
                *c = c.saturating_sub(1);
            }
            vec::retain(&mut h.holders, |(_, c)| *c > 0);
            // A node that holds it no more waits for nothing.
            if !h.holders.iter().any(|(n, _)| *n == src) {
                vec::retain(&mut h.watches, |w| w.0 != src);
                if h.watches.is_empty() {
                    h.watcher = None;
                }
            }
            if h.holders.is_empty() {
                vec::take_first(&mut t.handles, |h| h.id == at.handle)
            } else {
                None
            }
        };
        // The end closes here if no other handle uses it: outside the lock.
        drop(gone);
        Ok(0)
    }

    /// Records that proxy `proxy` of node `src` waits for its end to be
    /// ready; the notifier answers (at once if it is). Never blocks.
    fn watch(&self, src: u8, at: At, proxy: u64, epoch: u64, want: u32) -> Result<usize> {
        {
            let mut t = self.tables.lock();
            let h = t.find_any(at)?;
            if !h.holders.iter().any(|(n, _)| *n == src) {
                return Err(estale());
            }
            match h.watches.iter_mut().find(|w| w.0 == src && w.1 == proxy) {
                Some(w) => (w.2, w.3) = (epoch, want),
                None => h.watches.push((src, proxy, epoch, want), GFP_KERNEL)?,
            }
            if h.watcher.is_none() {
                h.watcher = Some(Watcher::new(h.export.file.try_clone()?, poke, h.id)?);
            }
        }
        poke(0);
        Ok(0)
    }

    /// Sends `READY` for every watched handle that is ready now.
    fn notify_ready(&self) {
        let mut out: KVec<(u8, u64, u64, u32)> = KVec::new();
        let mut idle = KVec::new();
        {
            let mut t = self.tables.lock();
            for h in t.handles.iter_mut() {
                let Some(w) = h.watcher.as_ref() else {
                    continue;
                };
                let mask = w.mask();
                // Closed counts as ready, whatever was wanted.
                let ready = |want: u32| mask & (want | POLLHUP | POLLERR) != 0;
                if !h.watches.iter().any(|w| ready(w.3)) {
                    continue;
                }
                for &(node, proxy, epoch, want) in h.watches.iter() {
                    if !ready(want) {
                        continue;
                    }
                    if out
                        .push((node, proxy, epoch, mask & READY_MASK), GFP_KERNEL)
                        .is_err()
                    {
                        // Kept for the next round.
                        return;
                    }
                }
                vec::retain(&mut h.watches, |w| !ready(w.3));
                if h.watches.is_empty() {
                    if let Some(w) = h.watcher.take() {
                        // Dropped outside the lock.
                        let _ = idle.push(w, GFP_KERNEL);
                    }
                }
            }
        }
        drop(idle);
        for (node, proxy, epoch, mask) in out {
            let mut req = [0u8; 32];
            if let Some(n) = (Request::Ready { proxy, epoch, mask }).encode(&mut req) {
                if let Err(e) = ssi_api::send_oneway(node, SERVICE, &req[..n]) {
                    pr_warn!("ready for node {} lost: {:?}\n", node, e);
                }
            }
        }
    }

    /// `FIONREAD` of the pipe of a handle.
    fn nread(&self, at: At, resp: &mut [u8]) -> Result<usize> {
        let export = self.tables.lock().find(at)?.export.clone();
        let n = export.file.pipe_nread()?;
        let out = resp.get_mut(..4).ok_or(EINVAL)?;
        out.copy_from_slice(&n.to_le_bytes());
        Ok(4)
    }

    /// `shutdown(2)` of a socket's end.
    fn shutdown(&self, src: u8, at: At, how: u8) -> Result<usize> {
        let export = {
            let mut t = self.tables.lock();
            let h = t.find(at)?;
            if h.export.end != End::Both || !h.holders.iter().any(|(n, _)| *n == src) {
                return Err(EINVAL);
            }
            h.export.clone()
        };
        sock::shutdown(&export.file, u32::from(how))?;
        Ok(0)
    }

    /// Drops what the nodes that left held.
    fn reap(&self) {
        let mut left = [false; 256];
        let mut any = false;
        for (n, seen) in self.reaped.iter().enumerate() {
            let g = nodes::generation(n as u8);
            if seen.swap(g, Ordering::AcqRel) != g {
                left[n] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        self.reap_moves(&left);
        let mut gone = KVec::new();
        {
            let mut t = self.tables.lock();
            for h in t.handles.iter_mut() {
                vec::retain(&mut h.holders, |(n, _)| !left[usize::from(*n)]);
                vec::retain(&mut h.watches, |w| !left[usize::from(w.0)]);
            }
            while let Some(h) = vec::take_first(&mut t.handles, |h| h.holders.is_empty()) {
                if gone.push(h, GFP_KERNEL).is_err() {
                    break;
                }
            }
        }
        if !gone.is_empty() {
            pr_info!(
                "{} stream handle(s) of departed nodes dropped\n",
                gone.len()
            );
        }
    }

    /// The token of a pipe end that runs here, for a migration of process
    /// `pid`. When the migration would leave both ends of the pipe away
    /// from this node (the process holds both, or the other end is only
    /// carried elsewhere), the pipe moves with the process (a `Move`
    /// token) if nobody else here uses it; otherwise that is refused
    /// (`EOPNOTSUPP`): the data would be relayed here.
    fn describe(&self, f: &FdFile, pid: u32, fd: u32, tok: &mut [u8]) -> Result<(usize, u8)> {
        let end = end_of(f)?;
        let me = nodes::me();
        if end == End::Both {
            // A socket's end stays here: the migrated end talks to it,
            // unless its peer is away already, or leaves with it: both
            // would talk to this node, a relay.
            let peer = sock::peer_identity(f);
            let exported = self
                .tables
                .lock()
                .handles
                .iter()
                .any(|h| h.export.end == End::Both && sock::identity(&h.export.file) == peer);
            if peer == 0 || exported || holds(&TaskRef::get(pid)?, peer) {
                return Err(eopnotsupp());
            }
            let t = Token {
                end,
                anchor: me,
                source: Source::Fd { pid, fd },
            };
            return Ok((t.encode(tok).ok_or(EINVAL)?, me));
        }
        let pipe = f.inode_identity();
        let task = TaskRef::get(pid)?;
        let ends = moving::Ends::of(&task, pipe)?;
        let t = self.tables.lock();
        let uses = u8::try_from(ends.uses()).map_err(|_| eopnotsupp())?;
        let source = if t.moving(pipe) {
            // Moving already: its stub closing the files it carried.
            Source::Move {
                pid,
                fd,
                pipe,
                uses,
            }
        } else {
            let other = match end {
                End::Read => End::Write,
                End::Write | End::Both => End::Read,
            };
            let info = f.pipe_info()?;
            let (mine, theirs) = (
                t.others(pipe, &ends, &info, end, f.identity()),
                t.others(pipe, &ends, &info, other, f.identity()),
            );
            // The other end only carried elsewhere: nobody here has it.
            let other_away = !ends.holds(other)
                && theirs == 0
                && t.handles
                    .iter()
                    .any(|h| h.export.pipe == pipe && h.export.end == other);
            // Both ends would be away (nobody else here holds either):
            // the pipe moves; a pipe shared with another process here
            // cannot, and with both ends that is refused.
            if ends.both() && (mine != 0 || theirs != 0) {
                return Err(eopnotsupp());
            }
            if ends.both() || (other_away && mine == 0) {
                if info.size > moving::MAX_PIPE_SIZE {
                    return Err(eopnotsupp());
                }
                Source::Move {
                    pid,
                    fd,
                    pipe,
                    uses,
                }
            } else {
                Source::Fd { pid, fd }
            }
        };
        drop(t);
        let t = Token {
            end,
            anchor: me,
            source,
        };
        Ok((t.encode(tok).ok_or(EINVAL)?, me))
    }

    /// Back on the anchor: the pipe end itself.
    fn local(&self, t: &Token) -> Result<FdFile> {
        let Source::Handle { export, .. } = t.source else {
            return Err(EINVAL);
        };
        let e = self
            .tables
            .lock()
            .handles
            .iter()
            .find(|h| h.export.id == export)
            .map(|h| h.export.clone())
            .ok_or_else(estale)?;
        if e.end != t.end {
            return Err(EINVAL);
        }
        e.file.try_clone()
    }

    /// `/sys/kernel/ssi/dynstreams/streams`: one line per handle.
    pub(crate) fn show(&self, out: &mut ShowBuf<'_>) -> core::fmt::Result {
        let t = self.tables.lock();
        for h in t.handles.iter() {
            let end = match h.export.end {
                End::Read => "read",
                End::Write => "write",
                End::Both => "socket",
            };
            write!(
                out,
                "export {} handle {} {} bytes {} nodes",
                h.export.id, h.id, end, h.bytes
            )?;
            for (n, c) in h.holders.iter() {
                write!(out, " {}x{}", n, c)?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    pub(crate) fn handles(&self) -> usize {
        self.tables.lock().handles.len()
    }
}

/// The anchor's token for `f`, if it is a pipe end.
pub(crate) fn describe(f: &FdFile, pid: u32, fd: u32, tok: &mut [u8]) -> Result<(usize, u8)> {
    // Other sockets (datagram, listening, other families) are no stream
    // the carrier knows: refused as before.
    if !f.is_fifo() && !sock::unix_stream(f) {
        return Err(crate::ssi_streams::enoent());
    }
    ANCHOR.get().ok_or(ENODEV)?.describe(f, pid, fd, tok)
}

/// The end of a pipe that moves here with the process being restored.
pub(crate) fn arrive(t: &Token, flags: u32) -> Result<FdFile> {
    ANCHOR.get().ok_or(ENODEV)?.arrive(t, flags)
}

/// A request of a proxy of this node whose anchor is this node too (its
/// pipe moved here): served at once, as if it came from here.
pub(crate) fn serve_local(req: &[u8], resp: &mut [u8]) -> Result<usize> {
    use crate::ssi_api::Service;
    SERVER.handle(nodes::me(), req, resp)
}

/// The pipe end of a token whose anchor is this node.
pub(crate) fn local(t: &Token) -> Result<FdFile> {
    ANCHOR.get().ok_or(ENODEV)?.local(t)
}

/// The service.
struct Server;

impl ssi_api::Service for Server {
    fn handle(&self, src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        let Some(r) = Request::decode(req) else {
            let n = STATS.malformed.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= 10 {
                pr_warn!(
                    "malformed request from node {} ({} bytes), refused ({} so far)\n",
                    src,
                    req.len(),
                    n
                );
            }
            return Err(EINVAL);
        };
        let a = ANCHOR.get().ok_or(ENODEV)?;
        let r = match r {
            Request::Attach {
                token,
                uid,
                gid,
                privileged,
            } => a.attach(src, &token, (uid, gid, privileged), resp),
            Request::Read { at, seq, count } => a.read(src, at, seq, count, resp),
            Request::Write { at, seq, data } => a.write(src, at, seq, data, resp),
            Request::Detach { at } => a.detach(src, at),
            Request::Watch {
                at,
                proxy,
                epoch,
                want,
            } => a.watch(src, at, proxy, epoch, want),
            Request::Shutdown { at, how } => a.shutdown(src, at, how),
            Request::Nread { at } => a.nread(at, resp),
            Request::Move {
                pid,
                fd,
                uid,
                gid,
                privileged,
            } => a.start_move(src, (pid, fd), (uid, gid, privileged), resp),
            Request::Take { mv, offset, count } => a.take(src, mv, offset, count, resp),
            Request::Placed { mv, ats } => a.placed(src, mv, ats),
            Request::Abort { mv } => a.abort(src, mv),
            Request::Where { at } => a.where_is(src, at, resp),
            Request::Release { at, node } => a.release(src, at, node),
            Request::Ready { proxy, epoch, mask } => {
                (a.on_ready)(src, proxy, epoch, mask);
                Ok(0)
            }
        };
        if r.as_ref().is_err_and(|e| *e == estale()) {
            stats::add(&STATS.refused, 1);
        }
        r
    }
}

static SERVER: Server = Server;

/// The anchor at work: its service and reaper; dropping it stops both
/// and closes every end it kept open.
pub(crate) struct Running {
    service: Option<ssi_api::ServiceRegistration>,
    reaper: Option<KThread>,
    anchor: Arc<Anchor>,
}

impl Running {
    /// `on_ready(src, proxy, epoch, mask)` takes the `READY`s that
    /// anchors send this node's proxies.
    pub(crate) fn start(on_ready: fn(u8, u64, u64, u32)) -> Result<Self> {
        let anchor = Arc::pin_init(
            pin_init!(Anchor {
                tables <- new_mutex!(Tables {
                    handles: KVec::new(),
                    next: 0,
                    moves: KVec::new(),
                    forwards: KVec::new(),
                    arrivals: KVec::new(),
                }),
                reaped: core::array::from_fn(|n| AtomicU32::new(nodes::generation(n as u8))),
                notify <- PollQueue::new(),
                on_ready,
            }),
            GFP_KERNEL,
        )?;
        ANCHOR.publish(&anchor);
        let mut r = Running {
            service: None,
            reaper: None,
            anchor,
        };
        r.reaper = Some(KThread::spawn(c_str!("ssi_dynstreams"), || {
            while !kthread::should_stop() {
                let Some(a) = ANCHOR.get() else {
                    kthread::sleep_ms(100);
                    continue;
                };
                DIRTY.store(false, Ordering::Release);
                a.reap();
                a.settle_moves();
                a.notify_ready();
                a.notify.sleep(100, || {
                    DIRTY.load(Ordering::Acquire) || kthread::should_stop()
                });
            }
        })?);
        r.service = Some(ssi_api::register_deferred_service(SERVICE, &SERVER)?);
        Ok(r)
    }

    pub(crate) fn anchor(&self) -> Arc<Anchor> {
        self.anchor.clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.service = None;
        self.reaper = None;
        // SAFETY: the service and the reaper, which call `ANCHOR.get()`,
        // are stopped and returned; the carrier (the other caller) was
        // unregistered before this is dropped (`Dynstreams`' field order).
        unsafe { ANCHOR.withdraw() };
    }
}
