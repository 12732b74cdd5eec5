// SPDX-License-Identifier: GPL-2.0-only
//! Live migration of a sequential process to another node (eager: every
//! page goes with it), over the `SERVICE` RPC service
//! (`rust/proto/src/migrate.rs`).
//!
//! Origin: `MIGRATE` freezes the process at a safe point in its own
//! context, writes its ghost stream in memory, sends it (`BEGIN`, `DATA`
//! in a window, `GO`) and waits there for the destination's `RESULT`.
//! Anything but success (refusal, timeout, the destination leaving the
//! view, the process killed meanwhile) sends `ABORT` and lets the process
//! go on unchanged. On success the process's first node (its home) keeps
//! the original task as a stub: the parent's child, holding the fd table,
//! it forwards the signals it receives to where the process runs and ends
//! with the exit status that node reports. From a later node the frozen
//! copy is killed silently and the home told where the process went.
//!
//! Destination: a kernel thread per arriving process starts a loader with
//! the process's PID (`ssi_ghost_spawn`), which asks to become the
//! process (`RESTORE_MIGRATED`), reaps it and reports its exit status to
//! the home. A process coming back to its home restores into its stub.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec, KVec},
    c_str, new_condvar, new_mutex,
    prelude::*,
    str::CStr,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

use crate::dump::{self, Out, Writer};
use crate::kernel_ext::{
    global::Published,
    kthread::{self, KThread},
    migrate as km,
    mm::{self, Mm, SharedMm, TASK_SIZE},
    regset, signal,
    task::{self, TaskRef},
    task_work, vec,
};
use crate::proto::ghost::{Purpose, PATH_MAX};
use crate::proto::migrate::{data_header, Msg, DATA_HEADER, MAX_SMALL};
use crate::restore;
use crate::ssi_api;
use crate::stream::{Chunks, Stream};
use crate::{DumpArg, MigrateArg, Reason, RestoreArg};

/// The ghost module's RPC service (module services are 256 and up).
pub(crate) const SERVICE: u16 = 300;
/// Largest stream a node takes (a 512 MiB guest holds two such).
const MAX_STREAM: u64 = 384 << 20;
/// Arrivals a node receives at once.
const MAX_INCOMING: usize = 4;
const CALL_TIMEOUT_MS: u32 = 5_000;
/// How long the origin waits for the destination to restore the process.
const RESULT_TIMEOUT_MS: i64 = 60_000;
/// `MIGRATE` flags: the mode knob's choice, eager, on demand.
const MODE_DEFAULT: u32 = 0;
const MODE_EAGER: u32 = 1;
const MODE_ON_DEMAND: u32 = 2;
/// The program a new process runs until it becomes the migrated one.
const LOADER: &CStr = c_str!("/usr/bin/ssi-restart");
const LOADER_ARG: &CStr = c_str!("--migrated");
/// Index of `ax` in `struct user_regs_struct`.
const REG_AX: usize = 10;
/// Wait status of a process killed by SIGKILL.
const KILLED: u32 = 9;

/// A stream arriving here.
struct Incoming {
    mig: u64,
    pid: u32,
    home: u8,
    origin: u8,
    /// Taken by the restore.
    stream: Option<Chunks>,
    /// `GO` received.
    go: bool,
}

/// A process that left this node, its home.
struct Stub {
    pid: u32,
    /// Where it runs.
    at: u8,
    /// Its wait status, once it ended there.
    exit: Option<u32>,
    /// It comes back: `(mig, origin, stream)`.
    back: Option<(u64, u8, Chunks)>,
}

/// A process that came here from another node.
struct Guest {
    pid: u32,
    home: u8,
    mig: u64,
    /// Restored: it is the process now, and its end is reported.
    running: bool,
    /// Gone on to another node, or aborted: its end is not reported.
    silent: bool,
}

/// A migration this node sends.
struct Outgoing {
    mig: u64,
    /// `(errno, reason, detail)` from the destination.
    result: Option<(u32, u32, u64)>,
}

struct State {
    incoming: KVec<Incoming>,
    stubs: KVec<Stub>,
    guests: KVec<Guest>,
    outgoing: KVec<Outgoing>,
    /// Arrivals to start, by `mig`.
    queue: KVec<u64>,
    /// One kernel thread per guest: it started the guest and waits for it.
    waiters: KVec<(KThread, Arc<AtomicUsize>)>,
    closing: bool,
}

/// Counters, shown in the kernel log at unload and by the tests' logs.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) malformed: AtomicU64,
    pub(crate) refused: AtomicU64,
}

#[pin_data]
pub(crate) struct Migrator {
    #[pin]
    state: Mutex<State>,
    #[pin]
    changed: CondVar,
    next: AtomicU64,
    /// Stubs running the module's code.
    stubs_running: AtomicUsize,
    pub(crate) counts: Counts,
}

/// The module's migrator, while it is loaded.
static MIGRATOR: Published<Migrator> = Published::new();

fn get() -> Option<&'static Migrator> {
    MIGRATOR.get()
}

fn me() -> u8 {
    ssi_api::node_id().map_or(0, |n| n.get() as u8)
}

fn member(node: u8) -> bool {
    ssi_api::members().is_ok_and(|m| m[usize::from(node / 8)] & (1 << (node % 8)) != 0)
}

fn send(dst: u8, m: Msg<'_>) {
    let mut b = [0u8; MAX_SMALL];
    let n = m.encode(&mut b);
    if let Err(e) = ssi_api::send_oneway(dst, SERVICE, &b[..n]) {
        pr_warn!("message to node {} lost: {:?}\n", dst, e);
    }
}

fn call(dst: u8, m: Msg<'_>) -> Result {
    let mut b = [0u8; MAX_SMALL];
    let n = m.encode(&mut b);
    ssi_api::call(dst, SERVICE, &b[..n], &mut [], CALL_TIMEOUT_MS).map(|_| ())
}

impl Migrator {
    fn new() -> impl PinInit<Self> {
        pin_init!(Migrator {
            state <- new_mutex!(State {
                incoming: KVec::new(),
                stubs: KVec::new(),
                guests: KVec::new(),
                outgoing: KVec::new(),
                queue: KVec::new(),
                waiters: KVec::new(),
                closing: false,
            }),
            changed <- new_condvar!(),
            next: AtomicU64::new(1),
            stubs_running: AtomicUsize::new(0),
            counts: Counts::default(),
        })
    }

    /// Whether `pid` is a stub here; where its process runs.
    pub(crate) fn stub_at(&self, pid: u32) -> Option<u8> {
        self.state
            .lock()
            .stubs
            .iter()
            .find(|s| s.pid == pid)
            .map(|s| s.at)
    }
}

/// Wakes the stubs and the worker (a lending ended).
pub(crate) fn wake() {
    if let Some(m) = get() {
        m.changed.notify_all();
    }
}

/// Whether `pid` is a stub here: where its process runs.
pub(crate) fn stub_at(pid: u32) -> Option<u8> {
    get()?.stub_at(pid)
}

/// Answers the service's requests and one-way messages. Runs on the
/// core's receive thread: it only updates tables and wakes threads.
struct Service;

impl ssi_api::Service for Service {
    fn handle(&self, src: u8, req: &[u8], _resp: &mut [u8]) -> Result<usize> {
        let Some(m) = get() else {
            return Err(crate::kernel_ext::errno::eshutdown());
        };
        let Some(msg) = Msg::decode(req) else {
            m.counts.malformed.fetch_add(1, Ordering::Relaxed);
            return Err(EINVAL);
        };
        let r = m.handle(src, msg);
        if r.is_err() {
            m.counts.refused.fetch_add(1, Ordering::Relaxed);
        }
        r.map(|()| 0)
    }
}

static SERVICE_IMPL: Service = Service;

/// Wakes the stubs and waits when a node leaves.
struct Listener;

impl ssi_api::MembershipListener for Listener {
    fn changed(&self, _node: u8, up: bool) {
        if let (false, Some(m)) = (up, get()) {
            m.changed.notify_all();
        }
    }
}

static LISTENER: Listener = Listener;

impl Migrator {
    fn handle(&self, src: u8, msg: Msg<'_>) -> Result {
        let mut s = self.state.lock();
        if s.closing {
            return Err(crate::kernel_ext::errno::eshutdown());
        }
        match msg {
            Msg::Begin { mig, pid, home } => {
                if s.incoming.len() >= MAX_INCOMING {
                    return Err(EBUSY);
                }
                let stub = s.stubs.iter().any(|x| x.pid == pid);
                if !stub && crate::kernel_ext::pid::is_process(pid) {
                    return Err(EEXIST);
                }
                if s.incoming.iter().any(|i| i.pid == pid || i.mig == mig) {
                    return Err(EEXIST);
                }
                s.incoming.push(
                    Incoming {
                        mig,
                        pid,
                        home,
                        origin: src,
                        stream: Some(Chunks::new(MAX_STREAM)),
                        go: false,
                    },
                    GFP_KERNEL,
                )?;
            }
            Msg::Data { mig, bytes } => {
                let i = s
                    .incoming
                    .iter_mut()
                    .find(|i| i.mig == mig && i.origin == src && !i.go)
                    .ok_or(ENOENT)?;
                i.stream.as_mut().ok_or(ENOENT)?.push_buf(bytes)?;
            }
            Msg::Go { mig } => {
                let k = s
                    .incoming
                    .iter()
                    .position(|i| i.mig == mig && i.origin == src && !i.go)
                    .ok_or(ENOENT)?;
                let pid = s.incoming[k].pid;
                let t = &mut *s;
                if let Some(st) = t.stubs.iter_mut().find(|x| x.pid == pid) {
                    // Back home: the stub restores itself.
                    let i = vec::swap_remove(&mut t.incoming, k);
                    if let Some(c) = i.and_then(|i| i.stream) {
                        st.back = Some((mig, src, c));
                    }
                } else {
                    s.queue.push(mig, GFP_KERNEL)?;
                    s.incoming[k].go = true;
                }
                drop(s);
                self.changed.notify_all();
            }
            Msg::Abort { mig } => {
                vec::retain(&mut s.incoming, |i| !(i.mig == mig && i.origin == src));
                vec::retain(&mut s.queue, |&q| q != mig);
                if let Some(g) = s.guests.iter_mut().find(|g| g.mig == mig) {
                    g.silent = true;
                    let _ = km::signal(g.pid, KILLED);
                }
                for st in s.stubs.iter_mut() {
                    if st.back.as_ref().is_some_and(|b| b.0 == mig) {
                        st.back = None;
                    }
                }
            }
            Msg::Result {
                mig,
                errno,
                reason,
                detail,
            } => {
                let o = s.outgoing.iter_mut().find(|o| o.mig == mig).ok_or(ENOENT)?;
                o.result = Some((errno, reason, detail));
                drop(s);
                self.changed.notify_all();
            }
            Msg::Exit { pid, status } => {
                let st = s.stubs.iter_mut().find(|x| x.pid == pid).ok_or(ENOENT)?;
                st.exit = Some(status);
                drop(s);
                self.changed.notify_all();
            }
            Msg::Moved { pid, node } => {
                let st = s.stubs.iter_mut().find(|x| x.pid == pid).ok_or(ENOENT)?;
                st.at = node;
            }
            Msg::Signal { pid, sig } => {
                // Only to a process that migrated here.
                if !s.guests.iter().any(|g| g.pid == pid && g.running) {
                    return Err(ESRCH);
                }
                drop(s);
                km::signal(pid, sig)?;
            }
        }
        Ok(())
    }
}

/// Starts the processes whose streams arrived, one waiter thread each.
fn worker(m: &'static Migrator) {
    loop {
        let mut s = m.state.lock();
        // Reap the waiters that are done.
        let mut k = 0;
        while k < s.waiters.len() {
            if s.waiters[k].1.load(Ordering::Acquire) != 0 {
                let w = vec::swap_remove(&mut s.waiters, k);
                drop(s);
                drop(w);
                s = m.state.lock();
            } else {
                k += 1;
            }
        }
        if kthread::should_stop() {
            return;
        }
        drop(s);
        crate::lazy::tick(member);
        s = m.state.lock();
        let Some(mig) = vec::swap_remove(&mut s.queue, 0) else {
            let _ = m
                .changed
                .wait_interruptible_timeout(&mut s, msecs_to_jiffies(200));
            continue;
        };
        let Some(i) = s.incoming.iter().find(|i| i.mig == mig) else {
            continue;
        };
        let (pid, home, origin) = (i.pid, i.home, i.origin);
        let done = match Arc::new(AtomicUsize::new(0), GFP_KERNEL) {
            Ok(d) => d,
            Err(_) => {
                vec::retain(&mut s.incoming, |i| i.mig != mig);
                drop(s);
                send(origin, result_msg(mig, ENOMEM, Reason::None, 0));
                continue;
            }
        };
        if s.guests
            .push(
                Guest {
                    pid,
                    home,
                    mig,
                    running: false,
                    silent: false,
                },
                GFP_KERNEL,
            )
            .is_err()
        {
            vec::retain(&mut s.incoming, |i| i.mig != mig);
            drop(s);
            send(origin, result_msg(mig, ENOMEM, Reason::None, 0));
            continue;
        }
        drop(s);
        let d2 = done.clone();
        match KThread::spawn(c_str!("ssi_ghost_wait"), move || {
            guest_life(m, pid, mig, origin);
            d2.store(1, Ordering::Release);
        }) {
            Ok(t) => {
                let mut s = m.state.lock();
                if s.waiters.push((t, done), GFP_KERNEL).is_err() {
                    pr_err!("waiter of pid {} not kept\n", pid);
                }
            }
            Err(e) => {
                let mut s = m.state.lock();
                vec::retain(&mut s.guests, |g| g.pid != pid);
                vec::retain(&mut s.incoming, |i| i.mig != mig);
                drop(s);
                send(origin, result_msg(mig, e, Reason::None, 0));
            }
        }
    }
}

fn result_msg(mig: u64, e: Error, reason: Reason, detail: u64) -> Msg<'static> {
    Msg::Result {
        mig,
        errno: e.to_errno().unsigned_abs(),
        reason: reason as u32,
        detail,
    }
}

/// A guest's life on this node, in its waiter thread: start the loader
/// with its PID, wait for its end, report it home.
fn guest_life(m: &'static Migrator, pid: u32, mig: u64, origin: u8) {
    if let Err(e) = km::spawn(pid, LOADER, LOADER_ARG) {
        pr_warn!("pid {} arriving from node {}: {:?}\n", pid, origin, e);
        let mut s = m.state.lock();
        vec::retain(&mut s.guests, |g| g.pid != pid);
        vec::retain(&mut s.incoming, |i| i.mig != mig);
        drop(s);
        send(origin, result_msg(mig, e, Reason::None, 0));
        return;
    }
    let status = km::wait(pid).unwrap_or(KILLED);
    let mut s = m.state.lock();
    // A loader that ended before it took its stream never told the origin.
    let untaken = s.incoming.iter().any(|i| i.mig == mig);
    vec::retain(&mut s.incoming, |i| i.mig != mig);
    let g = s
        .guests
        .iter()
        .position(|g| g.pid == pid && g.mig == mig)
        .and_then(|k| vec::swap_remove(&mut s.guests, k));
    drop(s);
    if untaken {
        send(origin, result_msg(mig, ENOEXEC, Reason::None, 0));
    }
    if let Some(g) = g {
        if g.running && !g.silent && g.home != me() {
            send(g.home, Msg::Exit { pid, status });
        }
    }
}

/// `RESTORE_MIGRATED`: the loader with a guest's PID becomes the process.
pub(crate) fn restore_migrated(a: &mut RestoreArg) -> Result {
    let m = get().ok_or_else(crate::kernel_ext::errno::eshutdown)?;
    let pid = task::current_pid();
    let (mig, origin, stream) = {
        let mut s = m.state.lock();
        if !s.guests.iter().any(|g| g.pid == pid && !g.running) {
            return Err(ENOENT);
        }
        let k = s
            .incoming
            .iter()
            .position(|i| i.pid == pid && i.go)
            .ok_or(ENOENT)?;
        let i = vec::swap_remove(&mut s.incoming, k).ok_or(ENOENT)?;
        (i.mig, i.origin, i.stream.ok_or(ENOENT)?)
    };
    let ret = restore::restore(
        Stream::Mem(&stream),
        Purpose::Migration,
        Some((origin, mig)),
        a,
    );
    drop(stream);
    match ret {
        Ok(()) => {
            let mut s = m.state.lock();
            if let Some(g) = s.guests.iter_mut().find(|g| g.pid == pid) {
                g.running = true;
            }
            drop(s);
            crate::kernel_ext::file::close_fd(a.dev_fd);
            send(origin, result_msg_ok(mig));
            Ok(())
        }
        Err(e) => {
            send(origin, result_msg(mig, e, a.reason, a.detail));
            Err(e)
        }
    }
}

fn result_msg_ok(mig: u64) -> Msg<'static> {
    Msg::Result {
        mig,
        errno: 0,
        reason: 0,
        detail: 0,
    }
}

/// Sends the stream in `c` to `dst`: `BEGIN`, the `DATA` window, `GO`.
fn send_stream(dst: u8, mig: u64, pid: u32, home: u8, c: &Chunks) -> Result {
    call(dst, Msg::Begin { mig, pid, home })?;
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
            flags: if own { crate::DUMP_SELF } else { 0 },
            reason: Reason::None,
            detail: 0,
            bytes: 0,
        };
        let checked = dump::check(t, &mut d, &mut path);
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
        let mig = (u64::from(me) << 56) | m.next.fetch_add(1, Ordering::Relaxed);
        m.state
            .lock()
            .outgoing
            .push(Outgoing { mig, result: None }, GFP_KERNEL)?;
        let mut w = Writer::new(Out::Mem(Chunks::new(MAX_STREAM)), path)?;
        w.lazy = lazy;
        Ok(Plan {
            m,
            pid: a.pid,
            dst,
            guest_home,
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
            send_stream(dst, self.mig, pid, home, c)?;
            self.times.1 = (kernel::time::Ktime::ktime_get() - self.t0).to_ms();
            wait_result(m, self.mig, dst, a)
        })();
        let mut s = m.state.lock();
        match (&r, self.guest_home) {
            (Err(_), None) => vec::retain(&mut s.stubs, |s| s.pid != pid),
            (Err(_), Some(_)) => {}
            // The stream carried the signals pending here: the stub must
            // not forward them too.
            (Ok(()), None) => signal::forget_pending(self.w.carried_signals),
            (Ok(()), Some(home)) => {
                // The frozen copy is killed once this returns: silently.
                if let Some(g) = s.guests.iter_mut().find(|g| g.pid == pid) {
                    g.silent = true;
                }
                drop(s);
                if dst != home {
                    send(home, Msg::Moved { pid, node: dst });
                }
            }
        }
        r
    }

    /// Reports how it ended; sends `ABORT` if it failed.
    fn finish(self, a: &mut MigrateArg, ret: &Result) {
        vec::retain(&mut self.m.state.lock().outgoing, |o| o.mig != self.mig);
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
    let mut plan = Plan::new(m, &t, a, false)?;
    let stop = plan.guest_home.is_some();
    let pid = a.pid;
    let ret = task_work::call_in(&t, stop, || {
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
    km::later(move || {
        let ret = plan.run(&mut arg);
        let home = plan.guest_home.is_none();
        plan.finish(&mut arg, &ret);
        match ret {
            Ok(()) if home => stub_main(arg.pid),
            Ok(()) => crate::kernel_ext::task::kill_current(),
            Err(e) if report => {
                let mut r = regset::regs();
                r[REG_AX] = e.to_errno() as i64 as u64;
                let _ = regset::set_regs(&r);
            }
            Err(_) => {}
        }
    })
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

/// Frees the stub's memory but the area of its arguments and environment
/// (its `/proc` files keep showing them).
fn shrink() {
    let Some(m) = Mm::current() else {
        return;
    };
    let l = m.layout();
    let mut path = [0u8; 1];
    let keep = m.vma_from(l.arg_start, &mut path).ok().flatten();
    drop(m);
    match keep {
        Some(v) if v.start <= l.arg_start => {
            let _ = mm::unmap(0, v.start);
            let _ = mm::unmap(v.end, TASK_SIZE);
        }
        _ => {
            let _ = mm::unmap(0, TASK_SIZE);
        }
    }
}

/// The stub of `pid`, in the original task on its home node, for as long
/// as the process runs elsewhere.
fn stub_main(pid: u32) {
    let Some(m) = get() else {
        return;
    };
    if m.stub_at(pid).is_none() {
        return;
    }
    m.stubs_running.fetch_add(1, Ordering::AcqRel);
    let end = stub_loop(m, pid);
    vec::retain(&mut m.state.lock().stubs, |s| s.pid != pid);
    m.stubs_running.fetch_sub(1, Ordering::AcqRel);
    m.changed.notify_all();
    if let Some(status) = end {
        km::exit(status);
    }
}

/// Returns the wait status to end with, or `None` when the process is
/// back in this task (restored) or killed here.
fn stub_loop(m: &Migrator, pid: u32) -> Option<u32> {
    // Its memory goes once the destination has every page it lent.
    let mut shrunk = false;
    // Every signal must wake the stub: nothing blocked.
    if let Ok(mut s) = signal::new_signals() {
        signal::signals(&mut s);
        s.blocked = 0;
        signal::set_signals(&s);
    }
    loop {
        if !shrunk && !crate::lazy::lending(pid) {
            shrink();
            shrunk = true;
        }
        let at = m.stub_at(pid)?;
        if km::killed() {
            send(at, Msg::Signal { pid, sig: KILLED });
            return None;
        }
        while let Some(sig) = km::next_signal() {
            send(at, Msg::Signal { pid, sig });
        }
        let mut s = m.state.lock();
        if s.closing {
            return Some(KILLED);
        }
        let st = s.stubs.iter_mut().find(|x| x.pid == pid)?;
        if let Some(status) = st.exit {
            return Some(status);
        }
        if let Some((mig, origin, c)) = st.back.take() {
            drop(s);
            let mut a = RestoreArg {
                fd: -1,
                dev_fd: -1,
                node: 0,
                reason: Reason::None,
                detail: 0,
            };
            match restore::restore(
                Stream::Mem(&c),
                Purpose::Migration,
                Some((origin, mig)),
                &mut a,
            ) {
                Ok(()) => {
                    send(origin, result_msg_ok(mig));
                    return None;
                }
                Err(e) => {
                    send(origin, result_msg(mig, e, a.reason, a.detail));
                    continue;
                }
            }
        }
        if !member(at) {
            pr_warn!("pid {} lost with node {}\n", pid, at);
            return Some(KILLED);
        }
        let _ = m
            .changed
            .wait_interruptible_timeout(&mut s, msecs_to_jiffies(1000));
    }
}

/// Migration while the module is loaded: the service, the listener and
/// the worker thread.
pub(crate) struct Running {
    m: Arc<Migrator>,
    worker: Option<KThread>,
    service: Option<ssi_api::ServiceRegistration>,
    listener: Option<ssi_api::ListenerRegistration>,
}

impl Running {
    pub(crate) fn start() -> Result<Self> {
        let m = Arc::pin_init(Migrator::new(), GFP_KERNEL)?;
        MIGRATOR.publish(&m);
        let mut r = Running {
            m,
            worker: None,
            service: None,
            listener: None,
        };
        let sm = get().ok_or(EINVAL)?;
        r.worker = Some(KThread::spawn(c_str!("ssi_ghost"), move || worker(sm))?);
        r.service = Some(ssi_api::register_service(SERVICE, &SERVICE_IMPL)?);
        r.listener = Some(ssi_api::register_listener(&LISTENER)?);
        Ok(r)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.listener = None;
        self.service = None;
        {
            let mut s = self.m.state.lock();
            s.closing = true;
            for g in s.guests.iter_mut() {
                g.silent = true;
                let _ = km::signal(g.pid, KILLED);
            }
        }
        self.m.changed.notify_all();
        while self.m.stubs_running.load(Ordering::Acquire) != 0 {
            km::sleep_ms(10);
        }
        self.worker = None;
        let waiters = core::mem::take(&mut self.m.state.lock().waiters);
        drop(waiters);
        pr_info!(
            "migration: {} malformed, {} refused messages\n",
            self.m.counts.malformed.load(Ordering::Relaxed),
            self.m.counts.refused.load(Ordering::Relaxed)
        );
        // SAFETY: the service and listener are unregistered, the worker
        // and waiters stopped, no stub runs, and no ioctl can (the device
        // went first, see `Ghost`).
        unsafe { MIGRATOR.withdraw() };
    }
}
