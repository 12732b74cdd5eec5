// SPDX-License-Identifier: GPL-2.0-only
//! The cluster's processes in every node's `/proc`, `kill(2)` across nodes,
//! and the cluster's CPU count.
//!
//! The kernel's hooks (patches 7 to 9 and 42) call the `ssi_rs_*` entry
//! points (`entry.rs`, through the ops table of `exports.c`), which call
//! [`pids`], [`describe`], [`proc_ssi`], [`kill`] and [`cpus`]. A global PID names its
//! node (`pid >> PID_SHIFT`); PIDs below the first range stay node-local.
//! Answers are served on the worker thread, which as a kernel thread sees
//! this node's own `/proc`.

use core::sync::atomic::Ordering;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    prelude::*,
};

use crate::cluster::{now_ns, Core};
use crate::kernel_ext::{errno, hooks, hooks::PID_SHIFT, pid};
use crate::proto::membership::NodeSet;
use crate::proto::proc_ssi::ProcSsi;
use crate::proto::procfs;
use crate::proto::task::{
    self, Kill, PidsRequest, TaskEntry, TaskHeader, TaskRequest, DENIED, ENTRY_HEADER, SSI,
};
use crate::rpc::{self, Mode};

/// Request `PidsRequest`: this node's global PIDs.
pub(crate) const SERVICE_PIDS: u16 = 6;
/// Request `TaskRequest`: the `/proc` files of processes this node runs.
pub(crate) const SERVICE_TASK: u16 = 7;
/// Request `Kill`: a kill(2) for a local process or process group.
pub(crate) const SERVICE_KILL: u16 = 8;

/// Registers the services, on the worker thread (they read other
/// processes' memory and `/proc` files).
pub(crate) fn register(core: &Core) -> Result {
    let mode = Mode::DEFERRED.requests_only();
    rpc::register_builtin(
        core,
        SERVICE_PIDS,
        |_, _, req, resp| serve_pids(req, resp),
        mode,
    )?;
    rpc::register_builtin(
        core,
        SERVICE_TASK,
        |core, _, req, resp| serve_task(core, req, resp),
        mode,
    )?;
    rpc::register_builtin(core, SERVICE_KILL, |_, _, req, _| serve_kill(req), mode)
}

/// How long a reader waits for a node before leaving it out.
const TIMEOUT_MS: u32 = 500;
/// Most bytes served of one file (`cmdline` and `environ` are cut there).
const FILE_MAX: usize = 8192;
/// Processes described per request: the one looked up and those after it.
const READ_AHEAD: u8 = 16;
/// How long a read-ahead description may wait for its lookup: as long as
/// the kernel keeps a description (`task_valid_ms` in exports.c).
const CACHE_NS: i64 = 1_000_000_000;
/// Descriptions kept for lookups to come.
const CACHE_SLOTS: usize = 64;

/// A description fetched ahead of its lookup.
pub(crate) struct Cached {
    pid: u32,
    fetched_ns: i64,
    header: TaskHeader,
    data: KVec<u8>,
}

/// Read-ahead descriptions of other nodes' processes, used once each.
pub(crate) struct TaskCache {
    slots: KVec<Option<Cached>>,
}

impl TaskCache {
    pub(crate) fn new() -> Result<Self> {
        let mut slots = KVec::with_capacity(CACHE_SLOTS, GFP_KERNEL)?;
        for _ in 0..CACHE_SLOTS {
            slots.push(None, GFP_KERNEL)?;
        }
        Ok(TaskCache { slots })
    }

    /// The fresh description of `pid`, if one was fetched ahead.
    fn take(&mut self, pid: u32, now: i64) -> Option<Cached> {
        let slot = self.slots.iter_mut().find(|c| {
            c.as_ref()
                .is_some_and(|c| c.pid == pid && now - c.fetched_ns < CACHE_NS)
        })?;
        slot.take()
    }

    /// Keeps `c` in a free or stale slot, else in place of the oldest.
    fn insert(&mut self, c: Cached, now: i64) {
        let age = |s: &Option<Cached>| s.as_ref().map_or(i64::MAX, |c| now - c.fetched_ns);
        let mut best = 0;
        for (i, s) in self.slots.iter().enumerate() {
            if s.as_ref().is_some_and(|old| old.pid == c.pid) {
                best = i;
                break;
            }
            if age(s) > age(&self.slots[best]) {
                best = i;
            }
        }
        self.slots[best] = Some(c);
    }
}

const FIRST_GLOBAL: u32 = 1 << PID_SHIFT;

/// The other members, if the cluster view is on.
fn others(core: &Core) -> NodeSet {
    let s = core.state.lock();
    if s.detached || !core.global_proc.load(Ordering::Relaxed) {
        return NodeSet::new();
    }
    let mut set = s.membership.view().members;
    set.remove(core.me());
    set
}

/// The node that runs global PID `nr`, if it is another member.
fn owner(core: &Core, nr: u32) -> Option<u8> {
    let node = u8::try_from(nr >> PID_SHIFT).ok()?;
    let s = core.state.lock();
    (node != core.me() && !s.detached && s.membership.view().members.contains(node)).then_some(node)
}

fn nodes(set: NodeSet) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    for id in set.iter() {
        v.push(id, GFP_KERNEL)?;
    }
    Ok(v)
}

/// Answers `SERVICE_PIDS`: this node's processes from the request on.
fn serve_pids(req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let r = PidsRequest::decode(req).ok_or(EINVAL)?;
    let max = usize::from(r.max).min(resp.len() / 4);
    let mut pids = KVec::with_capacity(max, GFP_KERNEL)?;
    pid::processes_from(r.from.max(FIRST_GLOBAL), max, &mut pids)?;
    for (out, p) in resp.chunks_exact_mut(4).zip(pids.iter()) {
        out.copy_from_slice(&p.to_le_bytes());
    }
    Ok(pids.len() * 4)
}

/// `/proc/<pid>/ssi` of local process `pid`: this node runs it, or (its
/// stub is here) the node it left for; its home and migrations as the
/// ghost module recorded them, or, if it never migrated, this node.
pub(crate) fn proc_ssi(core: &Core, pid: u32) -> Result<ProcSsi> {
    let me = core.me();
    if me == 0 {
        return Err(ENOENT);
    }
    let node = moved_to(core, pid).unwrap_or(me);
    Ok(match core.trails.trail(pid) {
        Some(t) => ProcSsi {
            node,
            home: t.home,
            migrations: t.migrations,
            last_from: t.from,
            last_time: t.when,
        },
        None => ProcSsi {
            node,
            home: me,
            migrations: 0,
            last_from: 0,
            last_time: 0,
        },
    })
}

/// The `ssi` file of a description: `None` if missing or malformed (the
/// node that runs the process writes it, [`proc_ssi`]).
fn ssi_of(e: &TaskEntry<'_>) -> Option<ProcSsi> {
    e.file(SSI).and_then(ProcSsi::parse)
}

/// Writes the description of local process `nr` into `out` (PID,
/// header, files); returns its size. `EOVERFLOW` if it does not fit.
fn describe_local(core: &Core, nr: u32, out: &mut [u8]) -> Result<usize> {
    let body = out.get_mut(ENTRY_HEADER..).ok_or_else(errno::eoverflow)?;
    let mut h = TaskHeader {
        uid: 0,
        gid: 0,
        len: [DENIED; task::FILES.len()],
    };
    let mut used = 0;
    for (i, name) in task::FILES.iter().enumerate() {
        let room = (body.len() - used).min(FILE_MAX);
        let dst = &mut body[used..used + room];
        let n = if i == SSI {
            let mut w = procfs::SliceWriter::new(dst);
            proc_ssi(core, nr)?
                .write(&mut w)
                .map_err(|_| errno::eoverflow())?;
            w.written().len()
        } else {
            match hooks::task_read(nr, i, dst) {
                // environ, where its owner could not read it here (patch 0024).
                Err(e) if e == EACCES => continue,
                r => r?,
            }
        };
        h.len[i] = n as u32;
        if *name == "status" {
            (h.uid, h.gid) = procfs::owner(&body[used..used + n]).ok_or(ENOENT)?;
        }
        used += n;
    }
    task::encode_entry_header(nr, &h, out).ok_or_else(errno::eoverflow)?;
    Ok(ENTRY_HEADER + used)
}

/// Answers `SERVICE_TASK`: the descriptions of the processes this node
/// runs from the requested PID on, as many as asked and as fit whole.
fn serve_task(core: &Core, req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let r = TaskRequest::decode(req).ok_or(EINVAL)?;
    let mut pids = KVec::new();
    pid::processes_from(r.pid.max(FIRST_GLOBAL), usize::from(r.count), &mut pids)?;
    let mut used = 0;
    for &nr in pids.iter() {
        // Later entries only where their largest files still fit whole.
        if used > 0 && resp.len() - used < 3 * FILE_MAX {
            break;
        }
        // A process that left (its stub is here) is described where it runs.
        let d = match moved_to(core, nr) {
            Some(node) => describe_moved(core, node, nr, &mut resp[used..])
                .or_else(|_| describe_local(core, nr, &mut resp[used..])),
            None => describe_local(core, nr, &mut resp[used..]),
        };
        match d {
            Ok(n) => used += n,
            // It exited meanwhile.
            Err(e) if e == ESRCH || e == ENOENT => {}
            Err(e) if used > 0 && e == errno::eoverflow() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(used)
}

/// How long a node waits for the node that runs one of its processes.
const MOVED_TIMEOUT_MS: u32 = 200;

/// Writes the description of process `nr`, which left for `node`, as that
/// node gives it; an error if it does not describe `nr` (it moved on).
fn describe_moved(core: &Core, node: u8, nr: u32, out: &mut [u8]) -> Result<usize> {
    let req = TaskRequest { pid: nr, count: 1 };
    let (status, answer) = rpc::call(core, node, SERVICE_TASK, &req.encode(), MOVED_TIMEOUT_MS)?;
    if status != 0 {
        return Err(ENOENT);
    }
    let Some(mut entries) = task::decode_tasks(&answer, &req) else {
        core.stats.dropped(crate::stats::DropCause::Malformed);
        return Err(EIO);
    };
    let e = entries.next().filter(|e| e.pid == nr).ok_or(ENOENT)?;
    // The node that runs it says so.
    if ssi_of(&e).map(|p| p.node) != Some(node) {
        core.stats.dropped(crate::stats::DropCause::Malformed);
        return Err(EIO);
    }
    let len = task::ENTRY_HEADER + e.data.len();
    let dst = out.get_mut(..len).ok_or_else(errno::eoverflow)?;
    dst.copy_from_slice(answer.get(..len).ok_or(EIO)?);
    Ok(len)
}

/// Where process `pid` of this node runs, if it left.
fn moved_to(core: &Core, pid: u32) -> Option<u8> {
    let m = core.moved.lock();
    m.iter().find(|e| e.0 == pid).map(|e| e.1)
}

/// Records that process `pid` of this node runs on `node` (0: here again,
/// or ended).
pub(crate) fn set_moved(core: &Core, pid: u32, node: u8) -> Result {
    let mut m = core.moved.lock();
    crate::kernel_ext::vec::retain(&mut m, |e| e.0 != pid);
    if node != 0 {
        m.push((pid, node), GFP_KERNEL)?;
    }
    Ok(())
}

/// Answers `SERVICE_KILL`: delivers a kill(2) to a local process or group.
fn serve_kill(req: &[u8]) -> Result<usize> {
    let k = Kill::decode(req).ok_or(EINVAL)?;
    hooks::kill_local(&bindings::ssi_kill {
        sig: k.sig,
        pid: k.pid,
        sender: k.sender,
        uid: k.uid,
        euid: k.euid,
        cap_kill: k.cap_kill,
    })?;
    Ok(0)
}

/// Merges every other member's PIDs from `from` on into `out` (at most
/// `out.len()`, increasing); returns how many.
pub(crate) fn pids(core: &Core, from: u32, out: &mut [i32]) -> Result<usize> {
    let max = u16::try_from(out.len()).map_err(|_| EINVAL)?;
    let req = PidsRequest { from, max };
    let dsts = nodes(others(core))?;
    let answers = rpc::call_many(core, &dsts, SERVICE_PIDS, &req.encode(), TIMEOUT_MS)?;
    let mut lists = KVec::new();
    for a in answers.iter() {
        // A node that does not answer in time is left out.
        let Ok((0, data)) = a else { continue };
        let Some(list) = task::decode_pids(data, &req) else {
            core.stats.dropped(crate::stats::DropCause::Malformed);
            continue;
        };
        let mut v = KVec::new();
        for p in list {
            v.push(p, GFP_KERNEL)?;
        }
        lists.push((v, 0usize), GFP_KERNEL)?;
    }
    // Merge the increasing lists; a PID two nodes list (a process in
    // flight) is shown once.
    let mut n = 0;
    while n < out.len() {
        let Some(min) = lists.iter().filter_map(|(v, i)| v.get(*i)).min().copied() else {
            break;
        };
        for (v, i) in lists.iter_mut() {
            if v.get(*i) == Some(&min) {
                *i += 1;
            }
        }
        out[n] = i32::try_from(min).map_err(|_| EINVAL)?;
        n += 1;
    }
    Ok(n)
}

/// Copies a description into the kernel's buffer.
fn hand_over(c: &Cached, data: &mut [u8]) -> Result<TaskHeader> {
    data.get_mut(..c.data.len())
        .ok_or(EIO)?
        .copy_from_slice(&c.data);
    Ok(c.header)
}

/// Describes process `nr` from the node that runs it: from the read-ahead
/// cache, else with a request that also fetches the processes after it.
/// Fills `data` with the files and returns the header.
pub(crate) fn describe(core: &Core, nr: u32, data: &mut [u8]) -> Result<TaskHeader> {
    if !core.global_proc.load(Ordering::Relaxed) {
        return Err(ENOENT);
    }
    let (node, count) = match owner(core, nr) {
        Some(node) => (node, READ_AHEAD),
        // A stub here (patch 0034): its process, from the node that runs it.
        None => (moved_to(core, nr).ok_or(ENOENT)?, 1),
    };
    if let Some(c) = core.task_cache.lock().take(nr, now_ns()) {
        return hand_over(&c, data);
    }
    let req = TaskRequest { pid: nr, count };
    let (status, answer) = rpc::call(core, node, SERVICE_TASK, &req.encode(), TIMEOUT_MS)?;
    if status != 0 {
        return Err(Error::from_errno(-i32::from(status)));
    }
    let Some(entries) = task::decode_tasks(&answer, &req) else {
        core.stats.dropped(crate::stats::DropCause::Malformed);
        return Err(EIO);
    };
    let now = now_ns();
    let mut found = None;
    for e in entries {
        // Where it runs, its home and migrations, as written (all nodes
        // show the same text): anything else is dropped.
        if ssi_of(&e).is_none() {
            core.stats.dropped(crate::stats::DropCause::Malformed);
            continue;
        }
        let mut copy = KVec::new();
        copy.extend_from_slice(e.data, GFP_KERNEL)?;
        let c = Cached {
            pid: e.pid,
            fetched_ns: now,
            header: e.header,
            data: copy,
        };
        // Only PIDs of that node: another's would be its to describe.
        if e.pid == nr {
            found = Some(c);
        } else if e.pid >> PID_SHIFT == nr >> PID_SHIFT {
            core.task_cache.lock().insert(c, now);
        }
    }
    hand_over(&found.ok_or(ENOENT)?, data)
}

/// Sends a kill(2) to the node that runs the process, or to every other
/// node for a process group: 0 if some process got it.
pub(crate) fn kill(core: &Core, k: &Kill) -> Result {
    let dsts = if k.pid > 0 {
        let node = owner(core, k.pid as u32).ok_or(ESRCH)?;
        let mut v = KVec::new();
        v.push(node, GFP_KERNEL)?;
        v
    } else {
        let mut set = core.state.lock().membership.view().members;
        set.remove(core.me());
        nodes(set)?
    };
    let answers = rpc::call_many(core, &dsts, SERVICE_KILL, &k.encode(), TIMEOUT_MS)?;
    let mut err = ESRCH;
    for a in answers.iter() {
        match a {
            Ok((0, _)) => return Ok(()),
            Ok((s, _)) if i32::from(*s) == EPERM.to_errno().abs() => err = EPERM,
            _ => {}
        }
    }
    Err(err)
}

/// CPUs of the whole cluster while the cluster view is on, else 0.
pub(crate) fn cpus(core: &Core) -> u32 {
    if !core.global_proc.load(Ordering::Relaxed) {
        return 0;
    }
    let s = core.state.lock();
    if s.detached {
        return 0;
    }
    let mut n = pid::online_cpus();
    for id in s.membership.view().members.iter() {
        if id != core.me() {
            n += u32::from(s.peers[usize::from(id)].cpus);
        }
    }
    n
}
