// SPDX-License-Identifier: GPL-2.0-only
//! SysV message queues across the cluster (`rust/proto/src/ipc.rs`).
//!
//! A queue stays on the node that made it: its id names that node. Keyed
//! queues are made on the key directory, the lowest-numbered member, so
//! that `msgget()` of a key finds the same queue from every node. An
//! operation on another node's queue is a request to that node, which
//! runs it in the caller's credentials and never waits: a blocking
//! `msgsnd()` or `msgrcv()` asks again after a pause (1 ms, doubling up to
//! 20 ms) until it is done or a signal comes.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
    uaccess::UserSlice,
};

use crate::kernel_ext::{
    cred::{Creds, Prepared},
    ipc::{self, MsgQueues, MsqidDs, IPC_NOWAIT, MSG_COPY},
    kthread,
};
use crate::proto::ipc::{
    home_of, range, Caller, Op, Request, Set, Stat, IPC_RMID, IPC_SET, IPC_STAT, MAX_GROUPS,
    MAX_REQUEST, MAX_TEXT, RCV_HEAD, SERVICE, STAT_LEN,
};
use crate::ssi_api;

/// How long one request may take (the queue's node never waits: this is
/// for a busy worker or a lost node).
const CALL_TIMEOUT_MS: u32 = 5000;
/// Longest pause before asking again.
const MAX_PAUSE_MS: u32 = 20;
/// `ENOMSG` (include/uapi/asm-generic/errno.h).
const ENOMSG: i32 = 42;

/// Counters for `/sys/kernel/ssi/containers/msg`.
pub(crate) struct Stats {
    /// Requests this node sent for another node's queue or key.
    pub(crate) sent: AtomicU64,
    /// Requests of other nodes this node ran.
    pub(crate) served: AtomicU64,
    /// Requests dropped as malformed.
    pub(crate) malformed: AtomicU64,
    /// Requests refused: a queue that is not this node's, credentials
    /// that cannot be built.
    pub(crate) refused: AtomicU64,
}

impl Stats {
    pub(crate) const fn new() -> Self {
        Stats {
            sent: AtomicU64::new(0),
            served: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }
}

pub(crate) static STATS: Stats = Stats::new();

pub(crate) fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A counter now.
pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// This node's id (0 while unset).
pub(crate) fn me() -> u8 {
    ssi_api::node_id().map_or(0, |n| n.get() as u8)
}

/// The key directory: the lowest-numbered member.
pub(crate) fn directory() -> u8 {
    let Ok(m) = ssi_api::members() else {
        return me();
    };
    (1..=255u8)
        .find(|&k| m[usize::from(k / 8)] & (1 << (k % 8)) != 0)
        .unwrap_or_else(me)
}

/// The current task as a [`Caller`] (at most [`MAX_GROUPS`] groups: the
/// others are left out, which can only refuse more).
pub(crate) fn caller() -> Result<Caller> {
    let mut groups = [0u32; MAX_GROUPS];
    let c = Creds::current(&mut groups);
    if !c.init_user_ns {
        return Err(EPERM);
    }
    Ok(Caller {
        uid: c.uid,
        gid: c.gid,
        caps: [
            c.inheritable,
            c.permitted,
            c.effective,
            c.bounding,
            c.ambient,
        ],
        securebits: c.securebits,
        ngroups: c.ngroups.min(MAX_GROUPS as u32) as u8,
        groups,
    })
}

/// The credentials a request runs in on this node.
pub(crate) fn prepare(c: &Caller) -> Result<Prepared> {
    let creds = Creds {
        uid: c.uid,
        gid: c.gid,
        inheritable: c.caps[0],
        permitted: c.caps[1],
        effective: c.caps[2],
        bounding: c.caps[3],
        ambient: c.caps[4],
        securebits: c.securebits,
        ngroups: u32::from(c.ngroups),
        no_new_privs: false,
        seccomp: 0,
        init_user_ns: true,
        dumpable: 0,
    };
    Prepared::new(&creds, c.groups())
}

/// Waits before asking again; `ERESTARTNOHAND` on a signal, as a local
/// queue's wait.
fn pause(ms: &mut u32) -> Result {
    if kthread::signal_pending() {
        return Err(ERESTARTNOHAND);
    }
    kthread::sleep_ms(*ms);
    *ms = (*ms * 2).min(MAX_PAUSE_MS);
    if kthread::signal_pending() {
        return Err(ERESTARTNOHAND);
    }
    Ok(())
}

/// Sends `op` to `node` as the current task; asks again after a pause
/// while the answer is `again` and the call may wait.
fn ask(node: u8, op: Op<'_>, again: Option<Error>, resp: &mut [u8]) -> Result<usize> {
    ask_counted(&STATS, node, op, again, resp)
}

/// [`ask`] for queues, semaphore sets or segments: each request sent is
/// counted in `stats.sent`.
pub(crate) fn ask_counted(
    stats: &Stats,
    node: u8,
    op: Op<'_>,
    again: Option<Error>,
    resp: &mut [u8],
) -> Result<usize> {
    if !ssi_api::is_member(node) {
        // No such object any more (its node left): as an unknown id.
        return Err(EINVAL);
    }
    let mut req = KVec::from_elem(0u8, MAX_REQUEST, GFP_KERNEL)?;
    let n = Request {
        caller: caller()?,
        op,
    }
    .encode(&mut req)
    .ok_or(EINVAL)?;
    let mut ms = 1;
    loop {
        count(&stats.sent);
        // Only SIGKILL ends a call: the object's node may have done the
        // operation (a message taken off the queue) when a signal, or a
        // migration's freeze, would end the wait for its answer, which
        // the caller then saw as EINTR. Signals end the pauses between
        // calls, as a local queue's wait.
        match ssi_api::call_killable(node, SERVICE, &req[..n], resp, CALL_TIMEOUT_MS) {
            Err(e) if Some(e) == again => pause(&mut ms)?,
            r => return r,
        }
    }
}

pub(crate) fn status(r: Result<isize>) -> Option<isize> {
    Some(r.unwrap_or_else(|e| e.to_errno() as isize))
}

/// The node of queue (or semaphore set) `id` if it is not this one.
pub(crate) fn elsewhere(id: i32) -> Option<u8> {
    // Node 0 names none: queues made before this module loaded.
    home_of(id).filter(|&k| k != me() && k != 0)
}

/// This node's side of the kernel's hook.
pub(crate) struct Queues;

impl MsgQueues for Queues {
    fn range() -> (i32, i32) {
        range(me())
    }

    fn msgget(key: i32, flags: i32) -> Option<isize> {
        let dir = directory();
        if dir == me() {
            return None;
        }
        let mut resp = [0u8; 4];
        status(
            ask(dir, Op::Get { key, flags }, None, &mut resp).and_then(|n| {
                let b = resp.get(..n).filter(|_| n == 4).ok_or(EINVAL)?;
                Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as isize)
            }),
        )
    }

    fn msgsnd(id: i32, mtype: i64, text: usize, size: usize, flags: i32) -> Option<isize> {
        let node = elsewhere(id)?;
        status((|| {
            if size > MAX_TEXT {
                return Err(EINVAL);
            }
            let mut t = KVec::from_elem(0u8, size, GFP_KERNEL)?;
            UserSlice::new(text, size).reader().read_slice(&mut t)?;
            let again = (flags & IPC_NOWAIT == 0).then_some(EAGAIN);
            let op = Op::Snd {
                id,
                mtype,
                flags: flags | IPC_NOWAIT,
                text: &t,
            };
            ask(node, op, again, &mut []).map(|_| 0)
        })())
    }

    fn msgrcv(id: i32, msgp: usize, size: usize, msgtyp: i64, flags: i32) -> Option<isize> {
        let node = elsewhere(id)?;
        status((|| {
            if flags & MSG_COPY != 0 {
                return Err(EINVAL);
            }
            let want = size.min(MAX_TEXT);
            let mut resp = KVec::from_elem(0u8, RCV_HEAD + want, GFP_KERNEL)?;
            let again = (flags & IPC_NOWAIT == 0).then(|| Error::from_errno(-ENOMSG));
            let op = Op::Rcv {
                id,
                msgtyp,
                flags: flags | IPC_NOWAIT,
                size: want as u32,
            };
            let n = ask(node, op, again, &mut resp)?;
            let text = resp.get(RCV_HEAD..n).ok_or(EINVAL)?;
            // `struct msgbuf`: the type (a `long`), then the text.
            let mut w = UserSlice::new(msgp, RCV_HEAD + text.len()).writer();
            w.write_slice(&resp[..RCV_HEAD])?;
            w.write_slice(text)?;
            Ok(text.len() as isize)
        })())
    }

    fn msgctl(id: i32, cmd: i32, ds: &mut MsqidDs) -> Option<isize> {
        let node = elsewhere(id)?;
        let set = if cmd == IPC_SET {
            Set {
                uid: ds.msg_perm.uid,
                gid: ds.msg_perm.gid,
                mode: ds.msg_perm.mode as u32,
                qbytes: ds.msg_qbytes as u64,
            }
        } else {
            Set::default()
        };
        let mut resp = [0u8; STAT_LEN];
        status(
            ask(node, Op::Ctl { id, cmd, set }, None, &mut resp).and_then(|n| {
                if cmd == IPC_STAT {
                    let s = Stat::decode(&resp[..n]).ok_or(EINVAL)?;
                    fill(ds, &s);
                }
                Ok(0)
            }),
        )
    }
}

fn fill(ds: &mut MsqidDs, s: &Stat) {
    // The kernel's copy is not zeroed: every byte reaches user space.
    *ds = MsqidDs::default();
    ds.msg_perm.key = s.key;
    ds.msg_perm.uid = s.uid;
    ds.msg_perm.gid = s.gid;
    ds.msg_perm.cuid = s.cuid;
    ds.msg_perm.cgid = s.cgid;
    ds.msg_perm.mode = s.mode as _;
    ds.msg_perm.seq = s.seq as _;
    ds.msg_stime = s.stime as _;
    ds.msg_rtime = s.rtime as _;
    ds.msg_ctime = s.ctime as _;
    ds.msg_cbytes = s.cbytes as _;
    ds.msg_qnum = s.qnum as _;
    ds.msg_qbytes = s.qbytes as _;
    ds.msg_lspid = s.lspid;
    ds.msg_lrpid = s.lrpid;
}

fn stat_of(ds: &MsqidDs) -> Stat {
    Stat {
        key: ds.msg_perm.key,
        uid: ds.msg_perm.uid,
        gid: ds.msg_perm.gid,
        cuid: ds.msg_perm.cuid,
        cgid: ds.msg_perm.cgid,
        mode: ds.msg_perm.mode as u32,
        seq: u32::from(ds.msg_perm.seq),
        stime: ds.msg_stime as i64,
        rtime: ds.msg_rtime as i64,
        ctime: ds.msg_ctime as i64,
        cbytes: ds.msg_cbytes as u64,
        qnum: ds.msg_qnum as u64,
        qbytes: ds.msg_qbytes as u64,
        lspid: ds.msg_lspid,
        lrpid: ds.msg_lrpid,
    }
}

/// Runs other nodes' requests for this node's queues (and keys, as the
/// directory), on the core's worker thread.
pub(crate) struct Service;

impl ssi_api::Service for Service {
    fn handle(&self, _src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        if crate::proto::ipc::is_sem(req) {
            return crate::sem::handle(req, resp);
        }
        if crate::proto::ipc::is_shm(req) {
            return crate::shm::handle(req, resp);
        }
        let mine = |op: &Op<'_>| match *op {
            Op::Get { .. } => true,
            Op::Snd { id, .. } | Op::Rcv { id, .. } | Op::Ctl { id, .. } => {
                home_of(id) == Some(me())
            }
            // Semaphores' and segments' requests went to their modules.
            _ => false,
        };
        serve(&STATS, req, resp, mine, run)
    }
}

/// Runs another node's request `req` here: dropped and counted in `stats`
/// if malformed, refused and counted unless `mine` says it is this node's
/// to run (and its caller's credentials can be built), else `run` as the
/// caller; the answer's length.
pub(crate) fn serve(
    stats: &Stats,
    req: &[u8],
    resp: &mut [u8],
    mine: impl FnOnce(&Op<'_>) -> bool,
    run: impl FnOnce(Op<'_>, &mut [u8]) -> Result<usize>,
) -> Result<usize> {
    let Some(r) = Request::decode(req) else {
        count(&stats.malformed);
        return Err(EINVAL);
    };
    let creds = match mine(&r.op).then(|| prepare(&r.caller)) {
        Some(Ok(c)) => c,
        _ => {
            count(&stats.refused);
            return Err(EINVAL);
        }
    };
    count(&stats.served);
    creds.act(|| run(r.op, resp))
}

/// Runs `op` here, as the current credentials; the answer's length.
fn run(op: Op<'_>, resp: &mut [u8]) -> Result<usize> {
    match op {
        Op::Get { key, flags } => {
            let id = ipc::msgget_here(key, flags)?;
            let b = resp.get_mut(..4).ok_or(EINVAL)?;
            b.copy_from_slice(&id.to_le_bytes());
            Ok(4)
        }
        Op::Snd {
            id,
            mtype,
            flags,
            text,
        } => ipc::msgsnd_here(id, mtype, text, flags).map(|_| 0),
        Op::Rcv {
            id,
            msgtyp,
            flags,
            size,
        } => {
            let end = RCV_HEAD.checked_add(size as usize).ok_or(EINVAL)?;
            let buf = resp.get_mut(RCV_HEAD..end).ok_or(EINVAL)?;
            let (mtype, n) = ipc::msgrcv_here(id, buf, msgtyp, flags & !MSG_COPY)?;
            resp[..RCV_HEAD].copy_from_slice(&mtype.to_le_bytes());
            Ok(RCV_HEAD + n)
        }
        Op::Ctl { id, cmd, set } => {
            let mut ds = MsqidDs::default();
            match cmd {
                IPC_STAT => {
                    ipc::msgctl_here(id, cmd, &mut ds)?;
                    stat_of(&ds).encode(resp).ok_or(EINVAL)
                }
                IPC_SET => {
                    ds.msg_perm.uid = set.uid;
                    ds.msg_perm.gid = set.gid;
                    ds.msg_perm.mode = set.mode as _;
                    ds.msg_qbytes = set.qbytes as _;
                    ipc::msgctl_here(id, cmd, &mut ds).map(|_| 0)
                }
                IPC_RMID => ipc::msgctl_here(id, cmd, &mut ds).map(|_| 0),
                _ => Err(EINVAL),
            }
        }
        _ => Err(EINVAL),
    }
}
