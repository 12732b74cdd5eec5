// SPDX-License-Identifier: GPL-2.0-only
//! The origin: `MIGRATE` checks, freezes the process at its safe point,
//! writes and sends its stream and waits for the destination's result;
//! self-migration; the permission to migrate.

use super::*;

/// How long `BEGIN` is asked again while the destination is busy.
const BUSY_MS: u32 = 10_000;
/// The pause between two `BEGIN`s refused as busy.
const BUSY_RETRY_MS: u32 = 50;

/// `BEGIN`, asked again while `dst` answers `EBUSY` (its worker's queue
/// or its places for incoming streams full, both passing), for
/// [`BUSY_MS`] at most.
fn begin(dst: u8, mig: u64, pid: u32, home: u8, hops: u32) -> Result {
    let mut waited = 0;
    loop {
        let msg = Msg::Begin {
            mig,
            pid,
            home,
            hops,
        };
        match call(dst, msg) {
            Err(e) if e == EBUSY && waited < BUSY_MS => {
                if km::killed() {
                    return Err(EINTR);
                }
                km::sleep_ms(BUSY_RETRY_MS);
                waited += BUSY_RETRY_MS;
            }
            r => return r,
        }
    }
}

/// Sends the stream in `c` to `dst`: `BEGIN`, the `DATA` window, `GO`.
fn send_stream(dst: u8, mig: u64, pid: u32, home: u8, hops: u32, c: &Chunks) -> Result {
    begin(dst, mig, pid, home, hops)?;
    let mut bufs = c.bufs().iter();
    ssi_api::send_window(dst, SERVICE, 8, CALL_TIMEOUT_MS, |out: &mut [u8]| {
        let Some(b) = bufs.next() else {
            return Ok(0);
        };
        if km::killed() {
            return Err(EINTR);
        }
        let n = DATA_HEADER + b.len();
        let o = out.get_mut(..n).ok_or(EINVAL)?;
        o[..DATA_HEADER].copy_from_slice(&data_header(mig));
        o[DATA_HEADER..].copy_from_slice(b);
        Ok(n)
    })?;
    call(dst, Msg::Go { mig })
}

/// Waits, in the frozen process, for the destination's `RESULT`.
fn wait_result(m: &Migrator, mig: u64, dst: u8, a: &mut MigrateArg) -> Result {
    let t0 = kernel::time::Ktime::ktime_get();
    loop {
        {
            let s = m.state.lock();
            let o = s.outgoing.iter().find(|o| o.mig == mig).ok_or(EINVAL)?;
            if let Some((errno, reason, detail)) = o.result {
                if errno == 0 {
                    return Ok(());
                }
                a.reason = Reason::from_u32(reason);
                a.detail = detail;
                let e = i32::try_from(errno).map_or(EINVAL, |e| Error::from_errno(-e));
                return Err(e);
            }
        }
        if km::killed() {
            return Err(EINTR);
        }
        if !member(dst) {
            return Err(crate::kernel_ext::errno::ehostdown());
        }
        if (kernel::time::Ktime::ktime_get() - t0).to_ms() > RESULT_TIMEOUT_MS {
            return Err(crate::kernel_ext::errno::etimedout());
        }
        km::sleep_ms(5);
    }
}

/// A migration being made: what it needs once the process is frozen.
struct Plan {
    m: &'static Migrator,
    pid: u32,
    dst: u8,
    /// The node of the stub; `Some` if the process came here from it.
    guest_home: Option<u8>,
    /// Its migrations so far.
    hops: u32,
    mig: u64,
    /// Pages on demand: the address space is lent until `DONE`.
    lazy: bool,
    w: Writer,
    t0: kernel::time::Ktime,
    /// Milliseconds to write and to send the stream, and its length.
    times: (i64, i64, u64),
}

impl Plan {
    /// Checks that process `a.pid` (`t`) may go to `a.node`, before
    /// anything is frozen.
    fn new(m: &'static Migrator, t: &TaskRef, a: &mut MigrateArg, own: bool) -> Result<Self> {
        let me = me();
        let dst = u8::try_from(a.node).map_err(|_| EINVAL)?;
        if dst == 0 || dst == me || !member(dst) {
            return Err(EINVAL);
        }
        let lazy = match a.flags {
            MODE_DEFAULT => crate::lazy::on_demand_default(),
            MODE_EAGER => false,
            MODE_ON_DEMAND => true,
            _ => return Err(EINVAL),
        };
        if let Some(at) = m.stub_at(a.pid) {
            a.reason = Reason::Migrated;
            a.detail = u64::from(at);
            return Err(crate::kernel_ext::errno::eremote());
        }
        if !t.may_migrate() {
            a.reason = Reason::NoMigrate;
            return Err(EPERM);
        }
        let mut path = KVVec::from_elem(0u8, PATH_MAX + 1, GFP_KERNEL)?;
        let mut d = DumpArg {
            pid: a.pid,
            fd: -1,
            flags: if own {
                crate::proto::ghost_ioctl::DUMP_SELF
            } else {
                0
            },
            reason: Reason::None,
            detail: 0,
            bytes: 0,
        };
        let checked = dump::check(t, &mut d, &mut path, true);
        (a.reason, a.detail) = (d.reason, d.detail);
        checked?;
        // A process that came here goes on from here; others leave a stub.
        let guest_home = m
            .state
            .lock()
            .guests
            .iter()
            .find(|g| g.pid == a.pid && g.running)
            .map(|g| g.home);
        let hops = m.trail(a.pid).map_or(0, |(_, moves)| moves.count);
        let mig = (u64::from(me) << 56) | m.next.fetch_add(1, Ordering::Relaxed);
        let mut w = Writer::new(Out::Mem(Chunks::new(MAX_STREAM)), path)?;
        w.lazy = lazy;
        {
            // Each migration holds its stream here until it ends: a user
            // makes only so many at once, refused before the freeze.
            let mut s = m.state.lock();
            let uid = m.charge(&s)?;
            s.outgoing.push(
                Outgoing {
                    mig,
                    dst,
                    uid,
                    result: None,
                },
                GFP_KERNEL,
            )?;
        }
        // From here on, dropping the plan forgets the migration.
        Ok(Plan {
            m,
            pid: a.pid,
            dst,
            guest_home,
            hops,
            mig,
            lazy,
            w,
            t0: kernel::time::Ktime::ktime_get(),
            times: (0, 0, 0),
        })
    }

    /// In the frozen process: the stub's record if it leaves its home,
    /// then the stream written, sent and restored there.
    fn run(&mut self, a: &mut MigrateArg) -> Result {
        let (m, pid, dst) = (self.m, self.pid, self.dst);
        let home = self.guest_home.unwrap_or_else(me);
        if self.guest_home.is_none() {
            // The record exists before the destination may report the
            // process's end.
            m.state.lock().stubs.push(
                Stub {
                    pid,
                    at: dst,
                    exit: None,
                    back: None,
                    early_exit: None,
                    prev: 0,
                    moves: Moves::next(self.hops, me()),
                },
                GFP_KERNEL,
            )?;
        }
        let r = (|| -> Result {
            self.w.stream(pid, Purpose::Migration)?;
            if self.lazy {
                // Lent before the destination may ask for a page.
                let mm = SharedMm::of(&TaskRef::get(pid)?).ok_or(ESRCH)?;
                crate::lazy::lend(self.mig, pid, dst, mm)?;
            }
            let c = self.w.chunks().ok_or(EINVAL)?;
            self.times.0 = (kernel::time::Ktime::ktime_get() - self.t0).to_ms();
            self.times.2 = c.len();
            send_stream(dst, self.mig, pid, home, self.hops, c)?;
            self.times.1 = (kernel::time::Ktime::ktime_get() - self.t0).to_ms();
            wait_result(m, self.mig, dst, a)
        })();
        let mut s = m.state.lock();
        match (&r, self.guest_home) {
            (Err(_), None) => vec::retain(&mut s.stubs, |s| s.pid != pid),
            (Err(_), Some(_)) => {}
            // The stream carried the signals pending here: the stub must
            // not forward them too.
            (Ok(()), None) => {
                signal::forget_pending(self.w.carried_signals);
                moved(pid, dst);
                // The pipes are the destination's now (this is the stub).
                drop(s);
                crate::files::drop_streams(pid);
            }
            (Ok(()), Some(home)) => {
                // The frozen copy is killed once this returns: silently.
                if let Some(g) = s.guests.iter_mut().find(|g| g.pid == pid) {
                    g.silent = true;
                }
                remember(&mut s.went, pid, home);
                drop(s);
                if dst != home {
                    m.keep_fate(pid, home, Whereabouts::Went(dst));
                    send(home, Msg::Moved { pid, node: dst });
                }
                // Signals that came after the stream was written go home,
                // after `MOVED`: its stub sends them on to `dst`.
                let (own, shared) = signal::pending();
                let late =
                    (own | shared) & !self.w.carried_signals & !crate::proto::ghost::SIGKILL_BIT;
                signal::forget_pending(late);
                for sig in (1..=64u32).filter(|n| late & (1 << (n - 1)) != 0) {
                    send(home, Msg::Signal { pid, sig });
                }
                // Killed after the stream left (its stub's kill reached
                // this copy mid-hop): home sends it on to `dst`.
                if km::killed() {
                    m.counts.kills_followed.fetch_add(1, Ordering::Relaxed);
                    send(home, Msg::Signal { pid, sig: KILLED });
                }
            }
        }
        r
    }

    /// Reports how it ended; sends `ABORT` if it failed.
    fn finish(self, a: &mut MigrateArg, ret: &Result) {
        if self.w.reason != Reason::None {
            (a.reason, a.detail) = (self.w.reason, self.w.detail);
        }
        match ret {
            Ok(()) => pr_info!(
                "pid {} migrated to node {}{}: {} bytes, frozen {} ms (stream {} ms, sent {} ms)\n",
                self.pid,
                self.dst,
                if self.lazy { " on demand" } else { "" },
                self.times.2,
                (kernel::time::Ktime::ktime_get() - self.t0).to_ms(),
                self.times.0,
                self.times.1
            ),
            Err(e) => {
                send(self.dst, Msg::Abort { mig: self.mig });
                crate::lazy::unlend(self.mig);
                pr_info!(
                    "pid {} stays: migration to node {} failed: {:?}\n",
                    self.pid,
                    self.dst,
                    e
                );
            }
        }
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        // Ended, or never started (`later` refused it): its user's
        // charge goes with it.
        vec::retain(&mut self.m.state.lock().outgoing, |o| o.mig != self.mig);
    }
}

/// `MIGRATE`: moves process `a.pid` of this node to node `a.node`; the
/// caller's own process (`a.pid` 0 or its PID) on its way back to user
/// mode, where the call returns 0 on the destination or the error here.
pub(crate) fn migrate(a: &mut MigrateArg) -> Result {
    let m = get().ok_or_else(crate::kernel_ext::errno::eshutdown)?;
    let own = a.pid == 0 || a.pid == task::current_pid();
    if own {
        a.pid = task::current_pid();
    }
    let t = TaskRef::get(a.pid)?;
    if own {
        // The ioctl returns first; the task's registers then hold its
        // result, which the destination's copy will return.
        return later_self(m, &t, a, true);
    }
    let seen = task::Seen::check(&t)?;
    let mut plan = Plan::new(m, &t, a, false)?;
    let stop = plan.guest_home.is_some();
    let pid = a.pid;
    let ret = task_work::call_in(&t, stop, || {
        // An execve() since the check: not the process the caller may move.
        plan.w.still_checked(&seen)?;
        if plan.guest_home.is_none() {
            // Runs after this work whether it succeeds or not: the stub
            // then finds its record or returns.
            km::later(move || stub_main(pid))?;
        }
        plan.run(a)
    });
    plan.finish(a, &ret);
    ret
}

/// Migrates the current process (`t`, `a.pid`) on its way back to user
/// mode; if it fails, the process goes on here, with the error in its
/// `ax` if `report` (the result of its own `MIGRATE`).
fn later_self(m: &'static Migrator, t: &TaskRef, a: &mut MigrateArg, report: bool) -> Result {
    let mut plan = Plan::new(m, t, a, true)?;
    let mut arg = MigrateArg { ..*a };
    // Counted until the work ended: the module waits for it to unload.
    let pending = Pending::new(m);
    km::later(move || {
        let ret = plan.run(&mut arg);
        let home = plan.guest_home.is_none();
        plan.finish(&mut arg, &ret);
        match ret {
            Ok(()) if home => {
                // The stub is counted on its own, and ends without
                // returning here.
                drop(pending);
                stub_main(arg.pid);
                return;
            }
            Ok(()) => crate::kernel_ext::task::kill_current(),
            Err(e) if report => {
                let mut r = regset::regs();
                r[REG_AX] = e.to_errno() as i64 as u64;
                let _ = regset::set_regs(&r);
            }
            Err(_) => {}
        }
        drop(pending);
    })
}

/// A self-migration queued and not ended yet.
struct Pending(&'static Migrator);

impl Pending {
    fn new(m: &'static Migrator) -> Self {
        m.later_pending.fetch_add(1, Ordering::AcqRel);
        Pending(m)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.later_pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The current process, which `execve()` just gave a new program, goes
/// to `node` on its way back to user mode, checked as its own `MIGRATE`
/// (its `CAN_MIGRATE`, what it holds, its user's limit): `Ok` once
/// queued. A migration that fails there leaves it running here, silently.
pub(crate) fn place_self(node: u8) -> Result {
    let m = get().ok_or_else(crate::kernel_ext::errno::eshutdown)?;
    let pid = task::current_pid();
    // Only a user process has a program to place.
    let t = TaskRef::get(pid).map_err(|_| EINVAL)?;
    if t.info().kthread {
        return Err(EINVAL);
    }
    let mut a = MigrateArg {
        pid,
        node: u32::from(node),
        flags: MODE_DEFAULT,
        reason: Reason::None,
        detail: 0,
    };
    later_self(m, &t, &mut a, false)
}

/// Whether `node` may take a process from here (another member).
pub(crate) fn may_go(node: u32) -> bool {
    u8::try_from(node).is_ok_and(|n| n != 0 && n != me() && member(n))
}

/// Sends the process just restarted here (the current one) on to `node`
/// before it runs an instruction: `ssi-restart FILE NODE`. Its stub stays
/// here, the child of `ssi-restart`.
pub(crate) fn restart_elsewhere(node: u32) -> Result {
    let m = get().ok_or_else(crate::kernel_ext::errno::eshutdown)?;
    let pid = task::current_pid();
    let t = TaskRef::get(pid)?;
    let mut a = MigrateArg {
        pid,
        node,
        flags: 0,
        reason: Reason::None,
        detail: 0,
    };
    later_self(m, &t, &mut a, false)
}

/// `MAY_MIGRATE`: reads (`flags` 0), forbids (1) or allows (2) the
/// migration of `a.pid` and of the processes it will fork. Its owner or
/// root may read and forbid; allowing again takes root
/// (`CAP_CHECKPOINT_RESTORE`). `a.detail` is 1 if it may be migrated.
pub(crate) fn may_migrate(a: &mut MigrateArg) -> Result {
    let t = TaskRef::get(a.pid)?;
    match a.flags {
        0 => {}
        1 => t.set_may_migrate(false),
        2 if crate::kernel_ext::cred::may_restore() => t.set_may_migrate(true),
        2 => return Err(EPERM),
        _ => return Err(EINVAL),
    }
    a.detail = u64::from(t.may_migrate());
    Ok(())
}
