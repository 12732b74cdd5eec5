// SPDX-License-Identifier: GPL-2.0-only
//! A pipe that moves to another node (a part of the anchor).
//!
//! When a migration would leave both ends of a pipe away from its anchor
//! (the process holds both ends, or its end is the last one here and the
//! other end is a proxy elsewhere), the pipe moves to the migrating
//! process's destination, which becomes its anchor: the process gets real
//! pipe ends there, and the other end's proxies are pointed at it.
//!
//! At the old anchor (`MOVE`, served while the process is frozen here): a
//! [`Move`] holds a snapshot of the pipe's bytes (copied, not taken) and
//! of its handles' cursors; the handles answer `EAGAIN` meanwhile, so
//! that no byte goes in or out. Once the destination `PLACED` the handles
//! and the process's files here are closed (the migration succeeded: its
//! stub closed them), the move commits: the handles become [`Forward`]s
//! (`EXDEV` to their requests, `WHERE` names the new place) and the pipe
//! is freed here. A move that is aborted, or not committed within
//! [`MOVE_TIMEOUT_MS`], is dropped: the pipe never changed.
//!
//! At the destination ([`arrive`]): a new pipe of the same size, the
//! snapshot's bytes written into it in order, the handles made anew with
//! their cursors, kept as an [`Arrival`] until each of the process's fds
//! got its end.

use super::*;
use crate::proto::dynstreams::moving::{
    take_range, Ats, HandleState, Moved, Where, MAX_HANDLES, MAX_HOLDERS, MAX_PIPE, MOVED_MAX,
};

/// Largest pipe that moves.
pub(super) const MAX_PIPE_SIZE: u32 = MAX_PIPE;
/// How long a move may wait for its migration to succeed.
const MOVE_TIMEOUT_MS: u64 = 15_000;
/// How long a forward is kept for holders that did not ask yet.
const FORWARD_TIMEOUT_MS: u64 = 600_000;
/// How long an arrival waits for the rest of its process's fds.
const ARRIVAL_TIMEOUT_MS: u64 = 30_000;

/// `EXDEV`: the handle moved with its pipe; ask `WHERE`.
pub(crate) fn exdev() -> Error {
    Error::from_errno(-18)
}

pub(super) fn now_ms() -> u64 {
    (kernel::time::Ktime::ktime_get().to_ns().max(0) as u64) / 1_000_000
}

/// A pipe leaving this node.
pub(super) struct Move {
    pub(super) id: u64,
    pub(super) pipe: u64,
    dest: u8,
    /// The migrating process's files of the pipe: once only these
    /// references are left, its stub closed them.
    files: KVec<FdFile>,
    /// The pipe's bytes, then each read handle's held chunk.
    snap: KVec<u8>,
    /// The handles that move, in the answer's order.
    handles: KVec<At>,
    placed: Option<Ats>,
    started: u64,
}

/// A handle that moved with its pipe.
pub(super) struct Forward {
    pub(super) old: At,
    node: u8,
    new: At,
    /// Holders that have not asked `WHERE` (or detached) yet.
    holders: KVec<(u8, u32)>,
    started: u64,
}

/// A pipe that arrived here, until every fd of its process got its end.
pub(super) struct Arrival {
    anchor: u8,
    pipe: u64,
    read: FdFile,
    write: FdFile,
    uses: u8,
    started: u64,
}

/// A process's open files of one pipe: `(file, end, fds)`.
pub(super) struct Ends {
    files: KVec<(FdFile, End, u32)>,
    uses: u32,
}

impl Ends {
    pub(super) fn of(task: &TaskRef, pipe: u64) -> Result<Self> {
        let mut e = Ends {
            files: KVec::new(),
            uses: 0,
        };
        let mut from = 0;
        while let Some((n, g)) = task.next_file(from) {
            from = n.checked_add(1).ok_or(EINVAL)?;
            if g.inode_identity() != pipe {
                continue;
            }
            let end = end_of(&g)?;
            e.uses += 1;
            match e.files.iter_mut().find(|f| f.0.identity() == g.identity()) {
                Some(f) => f.2 += 1,
                None => e.files.push((g, end, 1), GFP_KERNEL)?,
            }
        }
        Ok(e)
    }

    pub(super) fn uses(&self) -> u32 {
        self.uses
    }

    pub(super) fn holds(&self, end: End) -> bool {
        self.files.iter().any(|f| f.1 == end)
    }

    pub(super) fn both(&self) -> bool {
        self.files.iter().any(|f| f.1 == End::Read) && self.files.iter().any(|f| f.1 == End::Write)
    }
}

impl Tables {
    pub(super) fn moving(&self, pipe: u64) -> bool {
        self.moves.iter().any(|m| m.pipe == pipe)
    }

    pub(super) fn forwarded(&self, at: At) -> bool {
        self.forwards.iter().any(|f| f.old == at)
    }

    /// References to the pipe's files of end `end` here that neither the
    /// process's fds `e` nor the handles' exports explain: other
    /// processes' (`extra`: the identity of a file the caller holds one
    /// more reference on). A file that is not the process's nor exported
    /// counts one.
    pub(super) fn others(&self, pipe: u64, e: &Ends, info: &PipeInfo, end: End, extra: u64) -> u64 {
        let mut ids: KVec<(u64, u64)> = KVec::new();
        let mut others = 0;
        for (f, _, fds) in e.files.iter().filter(|f| f.1 == end) {
            let id = f.identity();
            let mut expected = u64::from(*fds) + 1 + u64::from(id == extra);
            expected += self.export_refs(id);
            others += f.count().saturating_sub(expected);
            if ids.push((id, 0), GFP_KERNEL).is_err() {
                return u64::MAX;
            }
        }
        for h in self
            .handles
            .iter()
            .filter(|h| h.export.pipe == pipe && h.export.end == end)
        {
            let id = h.export.file.identity();
            if ids.iter().any(|i| i.0 == id) {
                continue;
            }
            others += h.export.file.count().saturating_sub(self.export_refs(id));
            if ids.push((id, 0), GFP_KERNEL).is_err() {
                return u64::MAX;
            }
        }
        let open = match end {
            End::Read => info.readers,
            End::Write => info.writers,
            End::Both => 0,
        };
        others + (open as u64).saturating_sub(ids.len() as u64)
    }

    /// The references the anchor holds on exported file `id`: the
    /// export's, and its watchers'.
    fn export_refs(&self, id: u64) -> u64 {
        let mut exported = false;
        let mut n = 0;
        for h in self
            .handles
            .iter()
            .filter(|h| h.export.file.identity() == id)
        {
            exported = true;
            n += u64::from(h.watcher.is_some());
        }
        n + u64::from(exported)
    }

    /// Whether the pipe's only users here are the process's files `e` and
    /// the handles' exports.
    pub(super) fn only_users(&self, pipe: u64, e: &Ends, info: &PipeInfo, extra: u64) -> bool {
        self.others(pipe, e, info, End::Read, extra) == 0
            && self.others(pipe, e, info, End::Write, extra) == 0
    }
}

impl Anchor {
    /// `MOVE` from node `src`: the pipe of fd `fd` of process `pid`
    /// (frozen here, migrating to `src`) is snapshotted for it.
    pub(super) fn start_move(
        &self,
        src: u8,
        (pid, fd): (u32, u32),
        ids: (u32, u32, bool),
        resp: &mut [u8],
    ) -> Result<usize> {
        let task = TaskRef::get(pid)?;
        if !task.may_attach(ids.0, ids.1, ids.2) {
            return Err(EPERM);
        }
        let f = FdFile::of_task(&task, fd)?;
        if !f.is_fifo() {
            return Err(EINVAL);
        }
        let pipe = f.inode_identity();
        let info = f.pipe_info()?;
        if info.size > MAX_PIPE {
            return Err(eopnotsupp());
        }
        let ends = Ends::of(&task, pipe)?;
        let mut t = self.tables.lock();
        if t.moving(pipe) {
            return Err(EBUSY);
        }
        let id = t.id();
        let mut hs = t.handles.iter().filter(|h| h.export.pipe == pipe);
        if hs.clone().any(|h| h.busy > 0) {
            // A read or write in progress: the destination asks again.
            return Err(EAGAIN);
        }
        if hs.clone().count() > MAX_HANDLES
            || hs.clone().any(|h| h.holders.len() > MAX_HOLDERS)
            || !t.only_users(pipe, &ends, &info, f.identity())
        {
            return Err(eopnotsupp());
        }
        // The bytes, under the lock: no handle moves any meanwhile.
        let bytes = f.pipe_nread()? as usize;
        let mut all = KVec::from_elem(0u8, bytes, GFP_KERNEL)?;
        let n = f.pipe_peek(&mut all, 0)?;
        let mut snap = KVec::new();
        snap.extend_from_slice(&all[..n], GFP_KERNEL)?;
        drop(all);
        let mut m = Moved {
            mv: id,
            size: info.size,
            bytes: n as u32,
            handles: [None; MAX_HANDLES],
        };
        let mut handles = KVec::new();
        for (slot, h) in m.handles.iter_mut().zip(&mut hs) {
            let mut holders = [(0u8, 0u32); MAX_HOLDERS];
            for (s, &hd) in holders.iter_mut().zip(h.holders.iter()) {
                *s = hd;
            }
            let (next, held) = match h.export.end {
                End::Read | End::Both => (h.read.next(), h.held.len()),
                End::Write => (h.write.next(), 0),
            };
            snap.extend_from_slice(&h.held[..held], GFP_KERNEL)?;
            *slot = Some(HandleState {
                at: At {
                    export: h.export.id,
                    handle: h.id,
                },
                end: h.export.end,
                next,
                held: held as u32,
                holders,
                nholders: h.holders.len().min(MAX_HOLDERS) as u8,
            });
            handles.push(slot.unwrap().at, GFP_KERNEL)?;
        }
        drop(hs);
        let len = m.encode(resp).ok_or(EINVAL)?;
        let mut files = KVec::new();
        for (g, _, _) in ends.files {
            files.push(g, GFP_KERNEL)?;
        }
        t.moves.push(
            Move {
                id,
                pipe,
                dest: src,
                files,
                snap,
                handles,
                placed: None,
                started: now_ms(),
            },
            GFP_KERNEL,
        )?;
        Ok(len)
    }

    /// `TAKE`: bytes of a move's snapshot, for its destination only.
    pub(super) fn take(
        &self,
        src: u8,
        mv: u64,
        offset: u32,
        count: u32,
        resp: &mut [u8],
    ) -> Result<usize> {
        let t = self.tables.lock();
        let m = t
            .moves
            .iter()
            .find(|m| m.id == mv && m.dest == src)
            .ok_or_else(estale)?;
        let r = take_range(m.snap.len(), offset, count).ok_or(EINVAL)?;
        let out = resp.get_mut(..r.len()).ok_or(EINVAL)?;
        out.copy_from_slice(&m.snap[r]);
        stats::add(&STATS.moved_out, out.len());
        Ok(out.len())
    }

    /// `PLACED`: where the move's handles are now.
    pub(super) fn placed(&self, src: u8, mv: u64, ats: Ats) -> Result<usize> {
        let mut t = self.tables.lock();
        let m = t
            .moves
            .iter_mut()
            .find(|m| m.id == mv && m.dest == src)
            .ok_or_else(estale)?;
        if ats.as_slice().len() != m.handles.len() {
            return Err(EINVAL);
        }
        m.placed = Some(ats);
        drop(t);
        // The notifier commits it once the process's files are closed.
        poke(0);
        Ok(0)
    }

    /// `ABORT`: the pipe stays.
    pub(super) fn abort(&self, src: u8, mv: u64) -> Result<usize> {
        let gone = vec::take_first(&mut self.tables.lock().moves, |m| {
            m.id == mv && m.dest == src
        });
        if gone.is_some() {
            pr_info!("pipe move {} aborted by node {}\n", mv, src);
        }
        drop(gone);
        Ok(0)
    }

    /// `WHERE`: the new place of a handle that moved.
    pub(super) fn where_is(&self, src: u8, at: At, resp: &mut [u8]) -> Result<usize> {
        let mut t = self.tables.lock();
        let f = t
            .forwards
            .iter_mut()
            .find(|f| f.old == at)
            .ok_or_else(estale)?;
        let w = Where {
            node: f.node,
            at: f.new,
        };
        // A holder that asked talks to the new anchor from now on.
        if let Some((_, c)) = f.holders.iter_mut().find(|(n, _)| *n == src) {
            *c = c.saturating_sub(1);
        }
        vec::retain(&mut f.holders, |(_, c)| *c > 0);
        if f.holders.is_empty() {
            drop(vec::take_first(&mut t.forwards, |f| f.old == at));
        }
        let out = resp.get_mut(..Where::LEN).ok_or(EINVAL)?;
        out.copy_from_slice(&w.encode());
        Ok(Where::LEN)
    }

    /// `DETACH` of a handle that moved: its new anchor hears it.
    pub(super) fn detach_forward(&self, src: u8, at: At) -> Result<usize> {
        let mut t = self.tables.lock();
        let f = t
            .forwards
            .iter_mut()
            .find(|f| f.old == at)
            .ok_or_else(estale)?;
        let (node, new) = (f.node, f.new);
        if let Some((_, c)) = f.holders.iter_mut().find(|(n, _)| *n == src) {
            *c = c.saturating_sub(1);
        }
        vec::retain(&mut f.holders, |(_, c)| *c > 0);
        if f.holders.is_empty() {
            drop(vec::take_first(&mut t.forwards, |f| f.old == at));
        }
        drop(t);
        let mut req = [0u8; 32];
        if let Some(n) = (Request::Release { at: new, node: src }).encode(&mut req) {
            if let Err(e) = ssi_api::send_oneway(node, SERVICE, &req[..n]) {
                pr_warn!("release to node {} lost: {:?}\n", node, e);
            }
        }
        Ok(0)
    }

    /// `RELEASE` from the node a handle moved from: `node` holds it no
    /// more.
    pub(super) fn release(&self, src: u8, at: At, node: u8) -> Result<usize> {
        let gone = {
            let mut t = self.tables.lock();
            let h = t
                .handles
                .iter_mut()
                .find(|h| h.id == at.handle && h.export.id == at.export)
                .ok_or_else(estale)?;
            if h.from != src {
                return Err(EPERM);
            }
            if let Some((_, c)) = h.holders.iter_mut().find(|(n, _)| *n == node) {
                *c = c.saturating_sub(1);
            }
            vec::retain(&mut h.holders, |(_, c)| *c > 0);
            if h.holders.is_empty() {
                vec::take_first(&mut t.handles, |h| h.id == at.handle)
            } else {
                None
            }
        };
        drop(gone);
        Ok(0)
    }

    /// The notifier's round: commits the moves whose process's files are
    /// closed, drops the moves, forwards and arrivals that waited too
    /// long, and tells the moved handles' watchers to ask again.
    pub(super) fn settle_moves(&self) {
        let now = now_ms();
        let mut dropped: KVec<Handle> = KVec::new();
        let mut done: KVec<Move> = KVec::new();
        let mut wake: KVec<(u8, u64, u64, u32)> = KVec::new();
        let mut stale: KVec<Arrival> = KVec::new();
        {
            let mut t = self.tables.lock();
            // Committed once the process's files have no reference left
            // but the move's and the anchor's own (an end that came back
            // here is also an export's file).
            let mut ready: KVec<(u64, bool)> = KVec::new();
            for m in t.moves.iter() {
                let closed = m.placed.is_some()
                    && m.files
                        .iter()
                        .all(|f| f.count() <= 1 + t.export_refs(f.identity()));
                if closed || now.saturating_sub(m.started) > MOVE_TIMEOUT_MS {
                    let _ = ready.push((m.id, closed), GFP_KERNEL);
                }
            }
            for &(id, closed) in ready.iter() {
                let Some(m) = vec::take_first(&mut t.moves, |m| m.id == id) else {
                    continue;
                };
                if !closed {
                    pr_info!("pipe move {} to node {} dropped: not done\n", m.id, m.dest);
                    let _ = done.push(m, GFP_KERNEL);
                    continue;
                }
                let placed = m.placed.unwrap_or_default();
                for (old, new) in m.handles.iter().zip(placed.as_slice()) {
                    let Some(h) = vec::take_first(&mut t.handles, |h| {
                        h.id == old.handle && h.export.id == old.export
                    }) else {
                        continue;
                    };
                    let mut holders = KVec::new();
                    for &hd in h.holders.iter() {
                        let _ = holders.push(hd, GFP_KERNEL);
                    }
                    for &(node, proxy, epoch, want) in h.watches.iter() {
                        let _ = wake.push((node, proxy, epoch, want), GFP_KERNEL);
                    }
                    let _ = t.forwards.push(
                        Forward {
                            old: *old,
                            node: m.dest,
                            new: *new,
                            holders,
                            started: now,
                        },
                        GFP_KERNEL,
                    );
                    let _ = dropped.push(h, GFP_KERNEL);
                }
                pr_info!(
                    "pipe moved to node {} ({} handles)\n",
                    m.dest,
                    m.handles.len()
                );
                let _ = done.push(m, GFP_KERNEL);
            }
            vec::retain(&mut t.forwards, |f| {
                now.saturating_sub(f.started) < FORWARD_TIMEOUT_MS
            });
            while let Some(a) = vec::take_first(&mut t.arrivals, |a| {
                now.saturating_sub(a.started) > ARRIVAL_TIMEOUT_MS
            }) {
                if stale.push(a, GFP_KERNEL).is_err() {
                    break;
                }
            }
        }
        drop(stale);
        // The old pipe's files close here, outside the lock.
        drop(dropped);
        drop(done);
        for (node, proxy, epoch, mask) in wake {
            let mut req = [0u8; 32];
            if let Some(n) = (Request::Ready { proxy, epoch, mask }).encode(&mut req) {
                let _ = ssi_api::send_oneway(node, SERVICE, &req[..n]);
            }
        }
    }

    /// Drops what departed nodes held in moves and forwards.
    pub(super) fn reap_moves(&self, left: &[bool; 256]) {
        let mut gone = KVec::new();
        {
            let mut t = self.tables.lock();
            for f in t.forwards.iter_mut() {
                vec::retain(&mut f.holders, |(n, _)| !left[usize::from(*n)]);
            }
            vec::retain(&mut t.forwards, |f| {
                !f.holders.is_empty() && !left[usize::from(f.node)]
            });
            while let Some(m) = vec::take_first(&mut t.moves, |m| left[usize::from(m.dest)]) {
                if gone.push(m, GFP_KERNEL).is_err() {
                    break;
                }
            }
        }
        drop(gone);
    }

    /// The end a `Move` token names, for the current task (the migrating
    /// process being restored here): the pipe moves here the first time.
    pub(super) fn arrive(&self, t: &Token, flags: u32) -> Result<FdFile> {
        let Source::Move {
            pid,
            fd,
            pipe,
            uses,
        } = t.source
        else {
            return Err(EINVAL);
        };
        let nonblock = flags & bindings::O_NONBLOCK != 0;
        {
            let mut tb = self.tables.lock();
            if let Some(a) = tb
                .arrivals
                .iter_mut()
                .find(|a| a.anchor == t.anchor && a.pipe == pipe)
            {
                let f = match t.end {
                    End::Read => a.read.try_clone()?,
                    End::Write => a.write.try_clone()?,
                    End::Both => return Err(EINVAL),
                };
                f.set_nonblock_fresh(nonblock);
                a.uses = a.uses.saturating_sub(1);
                if a.uses == 0 {
                    let gone = vec::take_first(&mut tb.arrivals, |a| {
                        a.anchor == t.anchor && a.pipe == pipe
                    });
                    drop(tb);
                    drop(gone);
                }
                return Ok(f);
            }
        }
        let (r, w) = self.bring(t.anchor, pid, fd)?;
        let f = match t.end {
            End::Read => r.try_clone()?,
            End::Write => w.try_clone()?,
            End::Both => return Err(EINVAL),
        };
        f.set_nonblock_fresh(nonblock);
        if uses > 1 {
            self.tables.lock().arrivals.push(
                Arrival {
                    anchor: t.anchor,
                    pipe,
                    read: r,
                    write: w,
                    uses: uses - 1,
                    started: now_ms(),
                },
                GFP_KERNEL,
            )?;
        }
        Ok(f)
    }

    /// Moves the pipe of fd `fd` of process `pid` at `anchor` here: its
    /// two ends.
    fn bring(&self, anchor: u8, pid: u32, fd: u32) -> Result<(FdFile, FdFile)> {
        let ids = cred::ids();
        let mut req = [0u8; 64];
        let n = Request::Move {
            pid,
            fd,
            uid: ids.uid[0],
            gid: ids.gid[0],
            privileged: cred::capable(cred::CAP_SYS_PTRACE),
        }
        .encode(&mut req)
        .ok_or(EINVAL)?;
        let mut answer = KVec::from_elem(0u8, MOVED_MAX, GFP_KERNEL)?;
        let mut tries = 0;
        let got = loop {
            match ssi_api::call_killable(anchor, SERVICE, &req[..n], &mut answer, 5000) {
                // A read or write of a handle in progress there.
                Err(e) if e == EAGAIN && tries < 200 => {
                    tries += 1;
                    crate::kernel_ext::migrate::sleep_ms(10);
                }
                r => break r?,
            }
        };
        let m = Moved::decode(answer.get(..got).ok_or(EIO)?).ok_or(EIO)?;
        match self.fill(anchor, &m) {
            Ok(ends) => Ok(ends),
            Err(e) => {
                let mut req = [0u8; 16];
                if let Some(n) = (Request::Abort { mv: m.mv }).encode(&mut req) {
                    let _ = ssi_api::send_oneway(anchor, SERVICE, &req[..n]);
                }
                pr_warn!("pipe move from node {} failed: {:?}\n", anchor, e);
                Err(e)
            }
        }
    }

    /// The new pipe of move `m` from `anchor`, filled, its handles made.
    fn fill(&self, anchor: u8, m: &Moved) -> Result<(FdFile, FdFile)> {
        let (r, w) = FdFile::new_pipe(m.size)?;
        let total = m.snapshot_len().ok_or(EINVAL)? as usize;
        let mut snap = KVec::from_elem(0u8, total, GFP_KERNEL)?;
        let mut off = 0;
        while off < total {
            let count = (total - off).min(MAX_IO);
            let mut req = [0u8; 32];
            let n = (Request::Take {
                mv: m.mv,
                offset: off as u32,
                count: count as u32,
            })
            .encode(&mut req)
            .ok_or(EINVAL)?;
            let got = ssi_api::call_killable(
                anchor,
                SERVICE,
                &req[..n],
                &mut snap[off..off + count],
                5000,
            )?;
            if got != count {
                return Err(EIO);
            }
            off += count;
        }
        stats::add(&STATS.moved_in, total);
        let bytes = m.bytes as usize;
        let mut put = 0;
        while put < bytes {
            let n = w.write_shared(&snap[put..bytes], None, true)?;
            if n == 0 {
                return Err(EIO);
            }
            put += n;
        }
        // The handles, with their cursors and holders.
        let mut made: KVec<Handle> = KVec::new();
        let mut ats = Ats::new();
        let mut held_at = bytes;
        let pipe = r.inode_identity();
        let mut exports: [Option<Arc<Export>>; 2] = [None, None];
        let mut t = self.tables.lock();
        for hs in m.handles() {
            let slot = match hs.end {
                End::Read => 0,
                End::Write => 1,
                // Only pipes move.
                End::Both => return Err(EINVAL),
            };
            let export = match &exports[slot] {
                Some(e) => e.clone(),
                None => {
                    let file = match hs.end {
                        End::Read => r.try_clone()?,
                        End::Write | End::Both => w.try_clone()?,
                    };
                    let id = t.id();
                    let e = Arc::new(
                        Export {
                            id,
                            end: hs.end,
                            file,
                            pipe,
                        },
                        GFP_KERNEL,
                    )?;
                    exports[slot] = Some(e.clone());
                    e
                }
            };
            let mut holders = KVec::new();
            for &hd in hs.holders() {
                holders.push(hd, GFP_KERNEL)?;
            }
            let id = t.id();
            let mut h = Handle::new(id, export.clone(), holders);
            h.from = anchor;
            match hs.end {
                End::Read => {
                    let held = hs.held as usize;
                    h.read = ReadCursor::resume(hs.next, held);
                    h.held
                        .extend_from_slice(&snap[held_at..held_at + held], GFP_KERNEL)?;
                    held_at += held;
                }
                End::Write | End::Both => h.write = WriteCursor::resume(hs.next),
            }
            ats.push(At {
                export: export.id,
                handle: id,
            })
            .ok_or(EINVAL)?;
            made.push(h, GFP_KERNEL)?;
        }
        drop(t);
        let mut req = [0u8; 160];
        let n = (Request::Placed { mv: m.mv, ats })
            .encode(&mut req)
            .ok_or(EINVAL)?;
        let mut answer = [0u8; 4];
        ssi_api::call_killable(anchor, SERVICE, &req[..n], &mut answer, 5000)?;
        let mut t = self.tables.lock();
        for h in made {
            t.handles.push(h, GFP_KERNEL)?;
        }
        drop(t);
        pr_info!(
            "pipe moved here from node {} ({} bytes, {} handles)\n",
            anchor,
            bytes,
            ats.as_slice().len()
        );
        Ok((r, w))
    }
}
