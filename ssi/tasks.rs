// SPDX-License-Identifier: GPL-2.0-only
//! The cluster's processes in every node's `/proc`, `kill(2)` across nodes,
//! and the cluster's CPU count.
//!
//! The kernel's hooks (patches 7 to 9) call the `ssi_rs_*` functions below
//! through the ops table of `exports.c`. A global PID names its node
//! (`pid >> PID_SHIFT`); PIDs below the first range stay node-local.
//! Answers are served on the receive thread, which as a kernel thread
//! sees this node's own `/proc`.

use core::sync::atomic::Ordering;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
};

use crate::cluster::{Core, SERVICE_KILL, SERVICE_PIDS, SERVICE_TASK};
use crate::kernel_ext::{hooks, hooks::PID_SHIFT, pid};
use crate::proto::membership::NodeSet;
use crate::proto::procfs;
use crate::proto::task::{self, Kill, PidsRequest, TaskHeader, DENIED, TASK_HEADER};
use crate::rpc;

/// How long a reader waits for a node before leaving it out.
const TIMEOUT_MS: u32 = 500;
/// Most bytes served of one file (`cmdline` and `environ` are cut there).
const FILE_MAX: usize = 8192;

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
pub(crate) fn serve_pids(req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let r = PidsRequest::decode(req).ok_or(EINVAL)?;
    let max = usize::from(r.max).min(resp.len() / 4);
    let mut pids = KVec::with_capacity(max, GFP_KERNEL)?;
    pid::processes_from(r.from.max(FIRST_GLOBAL), max, &mut pids)?;
    for (out, p) in resp.chunks_exact_mut(4).zip(pids.iter()) {
        out.copy_from_slice(&p.to_le_bytes());
    }
    Ok(pids.len() * 4)
}

/// Answers `SERVICE_TASK`: a `TaskHeader` and the `/proc` files of a
/// process this node runs.
pub(crate) fn serve_task(req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let nr = u32::from_le_bytes(req.try_into().map_err(|_| EINVAL)?);
    if nr < FIRST_GLOBAL || !pid::is_process(nr) {
        return Err(ENOENT);
    }
    let (head, body) = resp.split_at_mut_checked(TASK_HEADER).ok_or(EINVAL)?;
    let mut h = TaskHeader {
        uid: 0,
        gid: 0,
        len: [DENIED; task::FILES.len()],
    };
    let mut used = 0;
    for (i, name) in task::FILES.iter().enumerate() {
        let room = body.len().checked_sub(used).ok_or(EINVAL)?.min(FILE_MAX);
        match hooks::task_read(nr, i, &mut body[used..used + room]) {
            Ok(n) => {
                h.len[i] = n as u32;
                if *name == "status" {
                    (h.uid, h.gid) = procfs::owner(&body[used..used + n]).ok_or(ENOENT)?;
                }
                used += n;
            }
            Err(e) if e == ESRCH => return Err(ENOENT),
            Err(e) => return Err(e),
        }
    }
    head.copy_from_slice(&h.encode());
    Ok(TASK_HEADER + used)
}

/// Answers `SERVICE_KILL`: delivers a kill(2) to a local process or group.
pub(crate) fn serve_kill(req: &[u8]) -> Result<usize> {
    let k = Kill::decode(req).ok_or(EINVAL)?;
    hooks::kill_local(&hooks::Kill {
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
fn pids(core: &Core, from: u32, out: &mut [i32]) -> Result<usize> {
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

/// Fetches the description of process `nr` from the node that runs it:
/// fills `info` (uid, gid, lengths) and returns the files' bytes.
fn describe(core: &Core, nr: u32, data: &mut [u8]) -> Result<TaskHeader> {
    if !core.global_proc.load(Ordering::Relaxed) {
        return Err(ENOENT);
    }
    let node = owner(core, nr).ok_or(ENOENT)?;
    let (status, answer) = rpc::call(core, node, SERVICE_TASK, &nr.to_le_bytes(), TIMEOUT_MS)?;
    if status != 0 {
        return Err(Error::from_errno(-i32::from(status)));
    }
    let Some((h, files)) = TaskHeader::decode(&answer) else {
        core.stats.dropped(crate::stats::DropCause::Malformed);
        return Err(EIO);
    };
    data.get_mut(..files.len())
        .ok_or(EIO)?
        .copy_from_slice(files);
    Ok(h)
}

/// Sends a kill(2) to the node that runs the process, or to every other
/// node for a process group: 0 if some process got it.
fn kill(core: &Core, k: &Kill) -> Result {
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
fn cpus(core: &Core) -> u32 {
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

fn errno(r: Result) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `ops->pids`: up to `max` PIDs of other nodes' processes from `from` on.
///
/// # Safety
///
/// `out` must be valid for writing `max` PIDs.
#[no_mangle]
pub unsafe extern "C" fn ssi_rs_pids(from: i32, out: *mut i32, max: u32) -> i32 {
    let Ok(from) = u32::try_from(from) else {
        return EINVAL.to_errno();
    };
    let max = (max as usize).min(u16::MAX as usize);
    // SAFETY: guaranteed by the caller.
    let out = unsafe { core::slice::from_raw_parts_mut(out, max) };
    crate::api::with_core(
        |core| match pids(core, from, out) {
            Ok(n) => n as i32,
            Err(e) => e.to_errno(),
        },
        0,
    )
}

/// `ops->task`: describes process `nr` of another node.
///
/// # Safety
///
/// `info` must be valid for writing and `data` for writing `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn ssi_rs_task(
    nr: i32,
    info: *mut kernel::bindings::ssi_task_info,
    data: *mut u8,
    cap: usize,
) -> i32 {
    let Ok(nr) = u32::try_from(nr) else {
        return ENOENT.to_errno();
    };
    // SAFETY: guaranteed by the caller.
    let data = unsafe { core::slice::from_raw_parts_mut(data, cap) };
    crate::api::with_core(
        |core| match describe(core, nr, data) {
            Ok(h) => {
                let raw = kernel::bindings::ssi_task_info {
                    uid: h.uid,
                    gid: h.gid,
                    len: h.len,
                };
                // SAFETY: guaranteed by the caller.
                unsafe { info.write(raw) };
                0
            }
            Err(e) => e.to_errno(),
        },
        ENOENT.to_errno(),
    )
}

/// `ops->kill`: delivers a kill(2) on the other nodes.
///
/// # Safety
///
/// `k` must point to a valid `struct ssi_kill`.
#[no_mangle]
pub unsafe extern "C" fn ssi_rs_kill(k: *const kernel::bindings::ssi_kill) -> i32 {
    // SAFETY: guaranteed by the caller.
    let k = unsafe { &*k };
    let k = Kill {
        sig: k.sig,
        pid: k.pid,
        sender: k.sender,
        uid: k.uid,
        euid: k.euid,
        cap_kill: k.cap_kill,
    };
    crate::api::with_core(|core| errno(kill(core, &k)), ESRCH.to_errno())
}

/// `ops->cpus`: the cluster's CPUs, or 0 for the node's own view.
#[no_mangle]
pub extern "C" fn ssi_rs_cpus() -> u32 {
    crate::api::with_core(cpus, 0)
}

/// For the `heartbeat` payload: this node's CPU count.
pub(crate) fn local_cpus() -> u16 {
    u16::try_from(pid::online_cpus()).unwrap_or(u16::MAX)
}
