// SPDX-License-Identifier: GPL-2.0-only
//! SysV semaphores across the cluster (`rust/proto/src/ipc.rs`), as the
//! message queues of `msg.rs`.
//!
//! A set stays on the node that made it: its id names that node. Keyed
//! sets are made on the key directory. An operation on another node's set
//! is a request to that node, which runs it in the caller's credentials
//! and never waits: a `semop()` that would wait asks again after a pause
//! (1 ms, doubling up to 20 ms) until it is done, its timeout has passed
//! (`EAGAIN`), a signal comes (`EINTR`) or the set is removed (`EIDRM`).
//! `SEM_UNDO` on another node's set is refused (`EINVAL`).

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
    time::Ktime,
    uaccess::UserSlice,
};

use crate::kernel_ext::{
    ipc::{self, SemSets, Sembuf as KSembuf, SemidDs, SEM_UNDO},
    kthread,
};
use crate::msg::{ask_counted, directory, elsewhere, me, serve, status, Stats};
use crate::proto::ipc::{
    home_of, is_stat, put_vals, range, Op, SemAnswer, SemSet, SemStat, Sembuf, Sops, Vals, GETALL,
    GETNCNT, GETPID, GETVAL, GETZCNT, IPC_RMID, IPC_SET, IPC_STAT, MAX_SEMS, MAX_SEM_ANSWER,
    MAX_SOPS, SEM_STAT, SEM_STAT_ANY, SETALL, SETVAL,
};
use crate::ssi_api;

/// Longest pause before asking again.
const MAX_PAUSE_MS: u32 = 20;
/// `EIDRM` (include/uapi/asm-generic/errno.h).
const EIDRM: i32 = 43;

/// Counters for `/sys/kernel/ssi/containers/sem`.
pub(crate) static STATS: Stats = Stats::new();

/// Sends `op` to `node` as the current task, once.
fn ask(node: u8, op: Op<'_>, resp: &mut [u8]) -> Result<usize> {
    ask_counted(&STATS, node, op, None, resp)
}

/// The deadline of a relative timeout, in ns of `ktime_get()`.
fn deadline(t: (i64, i64)) -> Result<i64> {
    let (sec, nsec) = t;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(EINVAL);
    }
    Ok(Ktime::ktime_get()
        .to_ns()
        .saturating_add(sec.saturating_mul(1_000_000_000))
        .saturating_add(nsec))
}

/// A set's command on another node (`cmd` is one `ssi_semctl_kernel()`
/// takes).
fn ctl(
    node: u8,
    op: Op<'_>,
    cmd: i32,
    resp: &mut [u8],
) -> Result<(i32, Option<SemStat>, core::ops::Range<usize>)> {
    let n = ask(node, op, resp)?;
    let a = SemAnswer::decode(cmd, &resp[..n]).ok_or(EINVAL)?;
    // The values of a `GETALL` end the answer: their offset.
    Ok((a.ret, a.stat, n - 2 * a.vals.len()..n))
}

fn simple(id: i32, semnum: i32, cmd: i32, val: i32) -> Op<'static> {
    Op::SemCtl {
        id,
        semnum,
        cmd,
        val,
        set: SemSet::default(),
        vals: Vals::default(),
    }
}

/// This node's side of the kernel's hook.
pub(crate) struct Sets;

impl SemSets for Sets {
    fn range() -> (i32, i32) {
        range(me())
    }

    fn semget(key: i32, nsems: i32, flags: i32) -> Option<isize> {
        let dir = directory();
        if dir == me() {
            return None;
        }
        let mut resp = [0u8; 4];
        status(
            ask(dir, Op::SemGet { key, nsems, flags }, &mut resp).and_then(|n| {
                let b = resp.get(..n).filter(|_| n == 4).ok_or(EINVAL)?;
                Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as isize)
            }),
        )
    }

    fn semop(id: i32, sops: usize, nsops: u32, timeout: Option<(i64, i64)>) -> Option<isize> {
        let node = elsewhere(id)?;
        status((|| {
            let n = nsops as usize;
            if n > MAX_SOPS {
                return Err(E2BIG);
            }
            let len = n.checked_mul(Sembuf::LEN).ok_or(E2BIG)?;
            let mut raw = KVec::from_elem(0u8, len, GFP_KERNEL)?;
            UserSlice::new(sops, len).reader().read_slice(&mut raw)?;
            let mut enc = KVec::from_elem(0u8, len, GFP_KERNEL)?;
            for (i, c) in raw.chunks_exact(Sembuf::LEN).enumerate() {
                let s = Sembuf::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5]]);
                if i32::from(s.flg) & SEM_UNDO != 0 {
                    // The undo would have to outlive this process on
                    // another node: not done (containers.rst).
                    return Err(EINVAL);
                }
                s.put(&mut enc[i * Sembuf::LEN..]).ok_or(EINVAL)?;
            }
            let sops = Sops::new(&enc).ok_or(EINVAL)?;
            let end = timeout.map(deadline).transpose()?;
            let mut ms = 1u32;
            let mut waited = false;
            loop {
                let mut resp = [0u8; 1];
                match ask(node, Op::SemOp { id, sops }, &mut resp) {
                    Ok(1) if resp[0] == 0 => return Ok(0),
                    Ok(1) if resp[0] == 1 => {}
                    Ok(_) => return Err(EINVAL),
                    // The set was there and is no more: removed while
                    // this process waited, as a local waiter learns.
                    Err(e) if waited && e == EINVAL && ssi_api::is_member(node) => {
                        return Err(Error::from_errno(-EIDRM))
                    }
                    Err(e) => return Err(e),
                }
                waited = true;
                let mut pause = ms;
                if let Some(end) = end {
                    let left = end.saturating_sub(Ktime::ktime_get().to_ns());
                    if left <= 0 {
                        return Err(EAGAIN);
                    }
                    let left_ms = u32::try_from(left / 1_000_000 + 1).unwrap_or(u32::MAX);
                    pause = pause.min(left_ms);
                }
                if kthread::signal_pending() {
                    return Err(EINTR);
                }
                kthread::sleep_ms(pause);
                if kthread::signal_pending() {
                    return Err(EINTR);
                }
                ms = (ms * 2).min(MAX_PAUSE_MS);
            }
        })())
    }

    fn semctl(
        id: i32,
        semnum: i32,
        cmd: i32,
        val: i32,
        p: usize,
        ds: &mut SemidDs,
    ) -> Option<isize> {
        if !matches!(
            cmd,
            IPC_STAT
                | SEM_STAT
                | SEM_STAT_ANY
                | IPC_SET
                | IPC_RMID
                | GETVAL
                | GETALL
                | GETPID
                | GETNCNT
                | GETZCNT
                | SETVAL
                | SETALL
        ) {
            return None;
        }
        // SEM_STAT's id is an index: it names its node as well.
        let node = elsewhere(id)?;
        status((|| {
            let mut resp = KVec::from_elem(0u8, MAX_SEM_ANSWER, GFP_KERNEL)?;
            match cmd {
                IPC_SET => {
                    let set = SemSet {
                        uid: ds.sem_perm.uid,
                        gid: ds.sem_perm.gid,
                        mode: ds.sem_perm.mode as u32,
                    };
                    let op = Op::SemCtl {
                        id,
                        semnum,
                        cmd,
                        val,
                        set,
                        vals: Vals::default(),
                    };
                    ctl(node, op, cmd, &mut resp).map(|r| r.0 as isize)
                }
                SETALL => {
                    // The set's size first (read permission needed).
                    let (_, st, _) = ctl(node, simple(id, 0, IPC_STAT, 0), IPC_STAT, &mut resp)?;
                    let nsems = st.ok_or(EINVAL)?.nsems as usize;
                    if nsems > MAX_SEMS {
                        return Err(E2BIG);
                    }
                    let mut raw = KVec::from_elem(0u8, 2 * nsems, GFP_KERNEL)?;
                    UserSlice::new(p, 2 * nsems).reader().read_slice(&mut raw)?;
                    let mut enc = KVec::from_elem(0u8, 2 * nsems, GFP_KERNEL)?;
                    let vals = raw
                        .chunks_exact(2)
                        .map(|c| u16::from_ne_bytes([c[0], c[1]]));
                    put_vals(vals, &mut enc).ok_or(E2BIG)?;
                    let op = Op::SemCtl {
                        id,
                        semnum,
                        cmd,
                        val,
                        set: SemSet::default(),
                        vals: Vals::new(&enc).ok_or(E2BIG)?,
                    };
                    ctl(node, op, cmd, &mut resp).map(|r| r.0 as isize)
                }
                _ => {
                    let (ret, st, at) = ctl(node, simple(id, semnum, cmd, val), cmd, &mut resp)?;
                    if let Some(s) = st {
                        fill(ds, &s);
                    }
                    if cmd == GETALL {
                        let vals = Vals::new(resp.get(at).ok_or(EINVAL)?).ok_or(EINVAL)?;
                        let mut out = KVec::with_capacity(2 * vals.len(), GFP_KERNEL)?;
                        for v in vals.iter() {
                            out.extend_from_slice(&v.to_ne_bytes(), GFP_KERNEL)?;
                        }
                        UserSlice::new(p, out.len()).writer().write_slice(&out)?;
                    }
                    Ok(ret as isize)
                }
            }
        })())
    }
}

fn fill(ds: &mut SemidDs, s: &SemStat) {
    // The kernel's copy is not zeroed: every byte reaches user space.
    *ds = SemidDs::default();
    ds.sem_perm.key = s.key;
    ds.sem_perm.uid = s.uid;
    ds.sem_perm.gid = s.gid;
    ds.sem_perm.cuid = s.cuid;
    ds.sem_perm.cgid = s.cgid;
    ds.sem_perm.mode = s.mode as _;
    ds.sem_perm.seq = s.seq as _;
    ds.sem_otime = s.otime as _;
    ds.sem_ctime = s.ctime as _;
    ds.sem_nsems = s.nsems as _;
}

fn stat_of(ds: &SemidDs) -> SemStat {
    SemStat {
        key: ds.sem_perm.key,
        uid: ds.sem_perm.uid,
        gid: ds.sem_perm.gid,
        cuid: ds.sem_perm.cuid,
        cgid: ds.sem_perm.cgid,
        mode: ds.sem_perm.mode as u32,
        seq: u32::from(ds.sem_perm.seq),
        otime: ds.sem_otime as i64,
        ctime: ds.sem_ctime as i64,
        nsems: ds.sem_nsems as u64,
    }
}

/// Runs another node's request for this node's sets (and keys, as the
/// directory), on the core's worker thread (`msg::Service` hands it over).
pub(crate) fn handle(req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let mine = |op: &Op<'_>| match *op {
        Op::SemGet { .. } => true,
        Op::SemOp { id, .. } | Op::SemCtl { id, .. } => home_of(id) == Some(me()),
        _ => false,
    };
    serve(&STATS, req, resp, mine, run)
}

/// Runs `op` here, as the current credentials; the answer's length.
fn run(op: Op<'_>, resp: &mut [u8]) -> Result<usize> {
    match op {
        Op::SemGet { key, nsems, flags } => {
            let id = ipc::semget_here(key, nsems, flags)?;
            let b = resp.get_mut(..4).ok_or(EINVAL)?;
            b.copy_from_slice(&id.to_le_bytes());
            Ok(4)
        }
        Op::SemOp { id, sops } => {
            let mut k = KVec::with_capacity(sops.len(), GFP_KERNEL)?;
            for s in sops.iter() {
                k.push(
                    KSembuf {
                        sem_num: s.num,
                        sem_op: s.op,
                        sem_flg: s.flg,
                    },
                    GFP_KERNEL,
                )?;
            }
            let waits = ipc::semop_here(id, &mut k)?;
            *resp.first_mut().ok_or(EINVAL)? = u8::from(waits);
            Ok(1)
        }
        Op::SemCtl {
            id,
            semnum,
            cmd,
            val,
            set,
            vals,
        } => {
            let mut ds = SemidDs::default();
            let answer = |ret: isize, stat: Option<SemStat>, resp: &mut [u8]| {
                SemAnswer {
                    ret: i32::try_from(ret).map_err(|_| EINVAL)?,
                    stat,
                    vals: Vals::default(),
                }
                .encode(resp)
                .ok_or(EINVAL)
            };
            match cmd {
                _ if is_stat(cmd) => {
                    let ret = ipc::semctl_here(id, semnum, cmd, 0, None, &mut ds)?;
                    answer(ret, Some(stat_of(&ds)), resp)
                }
                GETALL => {
                    // As many values as the set has (GETALL needs the
                    // same read permission as IPC_STAT).
                    ipc::semctl_here(id, 0, IPC_STAT, 0, None, &mut ds)?;
                    let nsems = ds.sem_nsems as usize;
                    if nsems > MAX_SEMS {
                        return Err(E2BIG);
                    }
                    let mut a = KVec::from_elem(0u16, nsems, GFP_KERNEL)?;
                    let ret = ipc::semctl_here(id, semnum, cmd, val, Some(&mut a), &mut ds)?;
                    let head = answer(ret, None, resp)?;
                    let out = resp.get_mut(head..).ok_or(EINVAL)?;
                    Ok(head + put_vals(a.iter().copied(), out).ok_or(EINVAL)?)
                }
                SETALL => {
                    let mut a = KVec::with_capacity(vals.len(), GFP_KERNEL)?;
                    for v in vals.iter() {
                        a.push(v, GFP_KERNEL)?;
                    }
                    let ret = ipc::semctl_here(id, semnum, cmd, val, Some(&mut a), &mut ds)?;
                    answer(ret, None, resp)
                }
                IPC_SET => {
                    ds.sem_perm.uid = set.uid;
                    ds.sem_perm.gid = set.gid;
                    ds.sem_perm.mode = set.mode as _;
                    let ret = ipc::semctl_here(id, semnum, cmd, val, None, &mut ds)?;
                    answer(ret, None, resp)
                }
                GETVAL | GETPID | GETNCNT | GETZCNT | SETVAL | IPC_RMID => {
                    let ret = ipc::semctl_here(id, semnum, cmd, val, None, &mut ds)?;
                    answer(ret, None, resp)
                }
                _ => Err(EINVAL),
            }
        }
        _ => Err(EINVAL),
    }
}
