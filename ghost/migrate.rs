// SPDX-License-Identifier: GPL-2.0-only
//! Live migration of a sequential process to another node, over the
//! `SERVICE` RPC service (`rust/proto/src/migrate.rs`): the pages go with
//! the stream (eager) or follow on demand (`crate::lazy`).
//!
//! The origin (`origin.rs`) freezes the process at a safe point in its own
//! context, writes its ghost stream in memory, sends it (`BEGIN`, `DATA`
//! in a window, `GO`) and waits there for the destination's `RESULT`.
//! Anything but success (refusal, timeout, the destination leaving the
//! view, the process killed meanwhile) sends `ABORT` and lets the process
//! go on unchanged. On success the process's first node (its home) keeps
//! the original task as a stub (`stub.rs`); from a later node the frozen
//! copy is killed silently and the home told where the process went. The
//! destination (`destination.rs`) starts a loader with the process's PID
//! that becomes it. This file holds the tables all three share and the
//! service that fills them, and the record of each process's migrations
//! that `/proc/<pid>/ssi` shows (`BEGIN` carries the count so far; the
//! node it arrives at keeps it, and so does its stub at home).

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
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
use crate::proto::ghost_ioctl::{DumpArg, MigrateArg, Reason, RestoreArg};
use crate::proto::migrate::{self as wire, data_header, Msg, Whereabouts, DATA_HEADER, MAX_SMALL};
use crate::restore;
use crate::ssi_api;
use crate::stream::{Chunks, Stream};

mod destination;
mod kunit;
mod origin;
mod stub;

pub(crate) use destination::restore_migrated;
use destination::worker;
pub(crate) use origin::{may_go, may_migrate, migrate, restart_elsewhere};
use stub::stub_main;

/// The ghost module's RPC service (module services are 256 and up).
pub(crate) const SERVICE: u16 = 300;
/// Largest stream a node takes (a 512 MiB guest holds two such).
const MAX_STREAM: u64 = 384 << 20;
/// Arrivals a node receives at once.
const MAX_INCOMING: usize = 4;
/// An arrival that hears nothing from its origin for this long before
/// `GO` is dropped (the origin sends its stream without pause).
const INCOMING_IDLE_MS: i64 = 30_000;
/// Migrations a user (not `CAP_SYS_ADMIN`) may make from a node at once,
/// by default: each holds its stream in this node's memory.
const MAX_PER_USER: u32 = 2;
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
/// How long a stub waits for the node its process runs on to come back
/// to the view before it takes the process as lost: a link lost for more
/// than TIPC's tolerance (a loaded host) drops a node that still runs it.
const LOST_GRACE_MS: i64 = 30_000;
/// How long a node remembers where a guest went or how it ended, for its
/// home's `WHERE` (the `MOVED` or `EXIT` may have been lost with the link).
const FATE_KEEP_MS: i64 = 2 * LOST_GRACE_MS;
/// How often a stub with no news asks the node its process runs on
/// whether it still does: a one-way `EXIT` or `MOVED` lost on a live link
/// (a full receive queue) would leave it waiting, and the parent with it,
/// until that node left the view. Well within [`FATE_KEEP_MS`].
const STUB_CHECK_MS: i64 = 20_000;

/// A stream arriving here.
struct Incoming {
    mig: u64,
    pid: u32,
    home: u8,
    origin: u8,
    /// Its migrations before this one.
    hops: u32,
    /// Taken by the restore.
    stream: Option<Chunks>,
    /// `GO` received.
    go: bool,
    /// When it last heard from its origin.
    heard: kernel::time::Ktime,
}

/// A process that left this node, its home.
struct Stub {
    pid: u32,
    /// Where it runs.
    at: u8,
    /// Its wait status, once it ended there.
    exit: Option<u32>,
    /// It comes back: `(mig, origin, stream, migrations before)`.
    back: Option<(u64, u8, Chunks, u32)>,
    /// `EXIT` from a node it hopped to, before the node it left said
    /// `MOVED` there: `(node, status)`, applied once that node does.
    early_exit: Option<(u8, u32)>,
    /// The node it ran on before `at` (0: none), which may send back the
    /// signals that reached it there during the hop.
    prev: u8,
    /// Its migrations as its home hears of them (`/proc/<pid>/ssi` here
    /// if the node that runs it cannot answer).
    moves: Moves,
}

/// What `/proc/<pid>/ssi` says of a process's migrations.
#[derive(Clone, Copy, Default)]
pub(crate) struct Moves {
    /// How many.
    pub(crate) count: u32,
    /// The node the last one came from, and when it arrived (seconds
    /// since the epoch, on the clock of the node that recorded it).
    pub(crate) from: u8,
    pub(crate) when: u64,
}

impl Moves {
    /// One more, from `from`, now.
    fn next(count: u32, from: u8) -> Self {
        Moves {
            count: count.saturating_add(1),
            from,
            when: km::wall_seconds(),
        }
    }
}

/// A process that arrived here by migration: a guest, or back home.
struct Arrival {
    pid: u32,
    /// Its start (`/proc/<pid>/stat`): a later process with its PID is
    /// another one.
    start_ticks: u64,
    home: u8,
    moves: Moves,
}

/// The start of local process `pid`, clock ticks after boot.
fn start_ticks(pid: u32) -> Option<u64> {
    let mut buf = [0u8; 512];
    let n = crate::kernel_ext::load::stat(pid, &mut buf).ok()?;
    crate::proto::sched::TaskStat::parse(&buf[..n]).map(|s| s.start_ticks)
}

/// How long a node that a process left sends back the signals that still
/// come to it there (its home learns where it went meanwhile).
const LATE_SIGNALS_MS: i64 = 30_000;

/// A process that left a node which is not its home, or that came back
/// home from `node`: signals are passed on for it until `until_ms`.
struct Left {
    pid: u32,
    node: u8,
    until_ms: i64,
}

fn now_ms() -> i64 {
    kernel::time::Ktime::ktime_get().to_ms()
}

/// Records `pid` in `list` for [`LATE_SIGNALS_MS`], dropping expired entries.
fn remember(list: &mut KVec<Left>, pid: u32, node: u8) {
    let now = now_ms();
    vec::retain(list, |l| l.until_ms > now && l.pid != pid);
    // Best effort: without the record, a late signal is refused (ESRCH).
    let _ = list.push(
        Left {
            pid,
            node,
            until_ms: now + LATE_SIGNALS_MS,
        },
        GFP_KERNEL,
    );
}

fn remembered(list: &KVec<Left>, pid: u32) -> Option<u8> {
    let now = now_ms();
    list.iter()
        .find(|l| l.pid == pid && l.until_ms > now)
        .map(|l| l.node)
}

/// A process that came here from another node.
struct Guest {
    pid: u32,
    home: u8,
    /// The node it came from (the only one that may abort it).
    origin: u8,
    mig: u64,
    /// Its parent's global PID (the parent runs on its home node).
    ppid: u32,
    /// Restored: it is the process now, and its end is reported.
    running: bool,
    /// Gone on to another node, or aborted: its end is not reported.
    silent: bool,
}

/// A guest that ended here or went on: what its home may ask (`WHERE`).
struct Fate {
    pid: u32,
    home: u8,
    what: Whereabouts,
    when: kernel::time::Ktime,
}

/// A migration this node sends.
struct Outgoing {
    mig: u64,
    /// The destination (the only node whose `RESULT` counts).
    dst: u8,
    /// The user who asked for it, charged until it ends (`None`: exempt).
    uid: Option<u32>,
    /// `(errno, reason, detail)` from the destination.
    result: Option<(u32, u32, u64)>,
}

struct State {
    incoming: KVec<Incoming>,
    stubs: KVec<Stub>,
    guests: KVec<Guest>,
    /// Guests that went on from here, with their home.
    went: KVec<Left>,
    /// Processes back in their stub here, with the node they came from.
    back: KVec<Left>,
    /// Processes whose stub here was killed, with the node last sent the
    /// kill: a process that hopped on before it arrived is sent it again.
    killed: KVec<Left>,
    outgoing: KVec<Outgoing>,
    /// Guests that ended here or went on, for [`FATE_KEEP_MS`].
    fates: KVec<Fate>,
    /// The processes that arrived here by migration and may run here.
    arrivals: KVec<Arrival>,
    /// Arrivals to start, by `mig`.
    queue: KVec<u64>,
    /// One kernel thread per guest: it started the guest and waits for it.
    waiters: KVec<(KThread, Arc<AtomicUsize>)>,
    closing: bool,
}

/// Counters, shown in `/sys/kernel/ssi/ghost/migration` and in the
/// kernel log at unload.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) malformed: AtomicU64,
    pub(crate) refused: AtomicU64,
    /// Messages about a migration from a node it does not involve.
    pub(crate) foreign: AtomicU64,
    /// Arrivals dropped: their origin left the view, or went silent.
    pub(crate) orphaned: AtomicU64,
    pub(crate) expired: AtomicU64,
    /// `MIGRATE`s refused (`EAGAIN`): the user's limit was reached.
    pub(crate) user_busy: AtomicU64,
    /// Kills that reached a node the process had just left, sent on.
    pub(crate) kills_followed: AtomicU64,
    /// Ends and moves a stub learnt by asking (their message was lost).
    pub(crate) news_asked: AtomicU64,
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
    /// Self-migrations queued for a task's return to user mode, not ended.
    later_pending: AtomicUsize,
    /// Migrations a user may make from here at once (`max_per_user`).
    pub(crate) max_per_user: AtomicU32,
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

pub(crate) fn member(node: u8) -> bool {
    ssi_api::is_member(node)
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
    // Only SIGKILL ends it: the caller is often the frozen process, whose
    // other pending signals are carried with it.
    ssi_api::call_killable(dst, SERVICE, &b[..n], &mut [], CALL_TIMEOUT_MS).map(|_| ())
}

impl Migrator {
    fn new() -> impl PinInit<Self> {
        pin_init!(Migrator {
            state <- new_mutex!(State {
                incoming: KVec::new(),
                stubs: KVec::new(),
                guests: KVec::new(),
                went: KVec::new(),
                back: KVec::new(),
                killed: KVec::new(),
                outgoing: KVec::new(),
                fates: KVec::new(),
                arrivals: KVec::new(),
                queue: KVec::new(),
                waiters: KVec::new(),
                closing: false,
            }),
            changed <- new_condvar!(),
            next: AtomicU64::new(1),
            stubs_running: AtomicUsize::new(0),
            later_pending: AtomicUsize::new(0),
            max_per_user: AtomicU32::new(MAX_PER_USER),
            counts: Counts::default(),
        })
    }

    /// Records that process `pid` (the current one, just restored) arrived
    /// here from `from` after `hops` migrations; `home` keeps its stub.
    fn arrived(&self, pid: u32, home: u8, from: u8, hops: u32) {
        let Some(start_ticks) = start_ticks(pid) else {
            return;
        };
        let a = Arrival {
            pid,
            start_ticks,
            home,
            moves: Moves::next(hops, from),
        };
        let mut s = self.state.lock();
        // Those that ended go (one with a later process's PID goes when
        // that one ends; `trail` tells them apart meanwhile).
        vec::retain(&mut s.arrivals, |old| {
            old.pid != pid && crate::kernel_ext::pid::is_process(old.pid)
        });
        if s.arrivals.push(a, GFP_KERNEL).is_err() {
            pr_warn!("pid {}: its migrations not recorded\n", pid);
        }
    }

    /// The home and migrations of local process `pid` (or of its stub
    /// here); `None` if it never migrated.
    pub(crate) fn trail(&self, pid: u32) -> Option<(u8, Moves)> {
        let (start, home, moves) = {
            let s = self.state.lock();
            if let Some(st) = s.stubs.iter().find(|x| x.pid == pid) {
                return Some((me(), st.moves));
            }
            let a = s.arrivals.iter().find(|a| a.pid == pid)?;
            (a.start_ticks, a.home, a.moves)
        };
        (start_ticks(pid) == Some(start)).then_some((home, moves))
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

/// Tells the core where process `pid`, whose stub is here, runs (0: here
/// again, or ended): other nodes' `ps` then sees it as it is there.
fn moved(pid: u32, node: u8) {
    if let Err(e) = ssi_api::task_moved(pid, node) {
        pr_warn!("pid {}: where it runs not told: {:?}\n", pid, e);
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

/// The global PID of the parent of `pid`, if it is a guest running here.
pub(crate) fn guest_ppid(pid: u32) -> Option<u32> {
    get()?
        .state
        .lock()
        .guests
        .iter()
        .find(|g| g.pid == pid && g.running && g.ppid != 0)
        .map(|g| g.ppid)
}

/// The record of migrations `/proc/<pid>/ssi` shows, offered to `ssi.ko`.
struct Trails;

impl ssi_api::Trails for Trails {
    fn trail(&self, pid: u32) -> Option<ssi_api::Trail> {
        let (home, m) = get()?.trail(pid)?;
        Some(ssi_api::Trail {
            migrations: m.count,
            home,
            from: m.from,
            when: m.when,
        })
    }
}

static TRAILS: Trails = Trails;

/// Names the guests' parents to the kernel (getppid(), `/proc`).
struct Parents;

impl km::Guests for Parents {
    fn ppid(pid: u32) -> Option<u32> {
        guest_ppid(pid)
    }
}

/// Per node, how many times it left the view: a stub whose process runs
/// there asks it again (`WHERE`) after it came back.
static LEFT: [AtomicU32; 256] = [const { AtomicU32::new(0) }; 256];

fn left(node: u8) -> u32 {
    LEFT[usize::from(node)].load(Ordering::Acquire)
}

/// Answers the service's requests and one-way messages. Runs on the
/// core's receive thread: it only updates tables and wakes threads.
struct Service;

impl ssi_api::Service for Service {
    fn handle(&self, src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        let Some(m) = get() else {
            return Err(crate::kernel_ext::errno::eshutdown());
        };
        let Some(msg) = Msg::decode(req) else {
            m.counts.malformed.fetch_add(1, Ordering::Relaxed);
            return Err(EINVAL);
        };
        if let Msg::Where { pid } = msg {
            return m.whereabouts(src, pid, resp);
        }
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
    fn changed(&self, node: u8, up: bool) {
        if !up {
            LEFT[usize::from(node)].fetch_add(1, Ordering::AcqRel);
        }
        if let (false, Some(m)) = (up, get()) {
            m.changed.notify_all();
        }
    }
}

static LISTENER: Listener = Listener;

/// The migration this module offers the others (`ssi_api::migrate`): the
/// scheduler's. The caller is a kernel thread, so the checks are those of
/// `MIGRATE` by root: the process's own `CAN_MIGRATE` and what it holds.
/// `pid` 0 is the calling process itself, after `execve()` (placement of
/// a new program): checked as its own `MIGRATE`, queued for its return
/// to user mode; if it fails there, the program runs on here.
struct Offer;

impl ssi_api::Migrator for Offer {
    fn migrate(&self, pid: u32, node: u8) -> Result {
        if pid == 0 {
            return origin::place_self(node);
        }
        if pid == crate::kernel_ext::task::current_pid() {
            return Err(EINVAL);
        }
        let mut a = MigrateArg {
            pid,
            node: u32::from(node),
            flags: MODE_DEFAULT,
            reason: Reason::None,
            detail: 0,
        };
        migrate(&mut a)
    }
}

static OFFER: Offer = Offer;

impl Migrator {
    /// Counts a message about a migration that `src` is not part of, and
    /// refuses it.
    fn foreign(&self, src: u8, what: &str) -> Result {
        if self.counts.foreign.fetch_add(1, Ordering::Relaxed) < 10 {
            pr_warn!(
                "{} from node {}, which it does not involve: dropped\n",
                what,
                src
            );
        }
        Err(EPERM)
    }

    /// Handles `msg` from `src`: only the node a migration involves may
    /// speak of it (the origin of a stream, the destination of a result,
    /// the node a process runs on for its end or its next hop, its home
    /// for its signals); anything else is dropped and counted.
    fn handle(&self, src: u8, msg: Msg<'_>) -> Result {
        let mut s = self.state.lock();
        if s.closing {
            return Err(crate::kernel_ext::errno::eshutdown());
        }
        match msg {
            Msg::Begin {
                mig,
                pid,
                home,
                hops,
            } => {
                if s.incoming.len() >= MAX_INCOMING {
                    return Err(EBUSY);
                }
                let stub = s.stubs.iter().find(|x| x.pid == pid).map(|x| x.at);
                match stub {
                    // Back home: only from where it runs.
                    Some(at) if at != src => return self.foreign(src, "BEGIN"),
                    Some(_) => {}
                    None if crate::kernel_ext::pid::is_process(pid) => return Err(EEXIST),
                    None => {}
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
                        hops,
                        stream: Some(Chunks::new(MAX_STREAM)),
                        go: false,
                        heard: kernel::time::Ktime::ktime_get(),
                    },
                    GFP_KERNEL,
                )?;
            }
            Msg::Data { mig, bytes } => {
                let Some(i) = s.incoming.iter_mut().find(|i| i.mig == mig && !i.go) else {
                    return Err(ENOENT);
                };
                if i.origin != src {
                    return self.foreign(src, "DATA");
                }
                i.heard = kernel::time::Ktime::ktime_get();
                i.stream.as_mut().ok_or(ENOENT)?.push_buf(bytes)?;
            }
            Msg::Go { mig } => {
                let k = s
                    .incoming
                    .iter()
                    .position(|i| i.mig == mig && !i.go)
                    .ok_or(ENOENT)?;
                if s.incoming[k].origin != src {
                    return self.foreign(src, "GO");
                }
                let pid = s.incoming[k].pid;
                let t = &mut *s;
                if let Some(st) = t.stubs.iter_mut().find(|x| x.pid == pid) {
                    // Back home: the stub restores itself.
                    let i = vec::swap_remove(&mut t.incoming, k);
                    if let Some((c, hops)) = i.and_then(|i| Some((i.stream?, i.hops))) {
                        st.back = Some((mig, src, c, hops));
                    }
                } else {
                    s.queue.push(mig, GFP_KERNEL)?;
                    s.incoming[k].go = true;
                }
                drop(s);
                self.changed.notify_all();
            }
            Msg::Abort { mig } => {
                let other = s.incoming.iter().any(|i| i.mig == mig && i.origin != src)
                    || s.guests.iter().any(|g| g.mig == mig && g.origin != src)
                    || s.stubs
                        .iter()
                        .any(|st| st.back.as_ref().is_some_and(|b| b.0 == mig && b.1 != src));
                if other {
                    return self.foreign(src, "ABORT");
                }
                let gone = s
                    .incoming
                    .iter()
                    .position(|i| i.mig == mig)
                    .and_then(|k| vec::swap_remove(&mut s.incoming, k));
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
                drop(s);
                drop(gone);
            }
            Msg::Result {
                mig,
                errno,
                reason,
                detail,
            } => {
                let o = s.outgoing.iter_mut().find(|o| o.mig == mig).ok_or(ENOENT)?;
                if o.dst != src {
                    return self.foreign(src, "RESULT");
                }
                o.result = Some((errno, reason, detail));
                drop(s);
                self.changed.notify_all();
            }
            Msg::Exit { pid, status } => {
                let st = s.stubs.iter_mut().find(|x| x.pid == pid).ok_or(ENOENT)?;
                if st.at == src {
                    st.exit = Some(status);
                } else if st.early_exit.is_none() && member(src) {
                    // It may have hopped on from `at`, whose `MOVED` is
                    // still on its way: kept until `at` says so.
                    st.early_exit = Some((src, status));
                    return Ok(());
                } else {
                    return self.foreign(src, "EXIT");
                }
                drop(s);
                self.changed.notify_all();
            }
            Msg::Moved { pid, node } => {
                if remembered(&s.killed, pid) == Some(src) {
                    // Its stub was killed: the kill follows it.
                    remember(&mut s.killed, pid, node);
                    drop(s);
                    self.counts.kills_followed.fetch_add(1, Ordering::Relaxed);
                    send(node, Msg::Signal { pid, sig: KILLED });
                    return Ok(());
                }
                let st = s.stubs.iter_mut().find(|x| x.pid == pid).ok_or(ENOENT)?;
                if st.at != src {
                    return self.foreign(src, "MOVED");
                }
                self.went(st, node);
                drop(s);
                moved(pid, node);
                self.changed.notify_all();
            }
            // Answered by `whereabouts`.
            Msg::Where { .. } => return Err(EINVAL),
            Msg::Signal { pid, sig } => {
                // To a process that migrated here, from its home (frozen in
                // a hop, the hop sends back what it did not carry).
                if let Some(g) = s
                    .guests
                    .iter()
                    .find(|g| g.pid == pid && g.running && !g.silent)
                {
                    if g.home != src {
                        return self.foreign(src, "SIGNAL");
                    }
                    drop(s);
                    return km::signal(pid, sig);
                }
                // Sent before its home heard it went on: back home.
                if let Some(home) = remembered(&s.went, pid) {
                    if home != src {
                        return self.foreign(src, "SIGNAL");
                    }
                    drop(s);
                    send(home, Msg::Signal { pid, sig });
                    return Ok(());
                }
                // Sent back by a node it ran on: to its stub, which sends it
                // on, or to itself, back here.
                let from_its_node = s
                    .stubs
                    .iter()
                    .any(|x| x.pid == pid && (x.at == src || x.prev == src))
                    || remembered(&s.back, pid) == Some(src);
                if !from_its_node && remembered(&s.killed, pid).is_some() {
                    // Its stub was killed, and the kill sent on (`MOVED`).
                    return Ok(());
                }
                if !from_its_node {
                    return if s.guests.iter().any(|g| g.pid == pid)
                        || s.stubs.iter().any(|x| x.pid == pid)
                    {
                        self.foreign(src, "SIGNAL")
                    } else {
                        Err(ESRCH)
                    };
                }
                drop(s);
                km::signal(pid, sig)?;
            }
        }
        Ok(())
    }

    /// Stub `st`'s process went on to `node` (`MOVED`, or the answer to
    /// `WHERE`): an end that node reported early is its end.
    fn went(&self, st: &mut Stub, node: u8) {
        st.moves = Moves::next(st.moves.count, st.at);
        st.prev = st.at;
        st.at = node;
        match st.early_exit.take() {
            Some((n, status)) if n == node => st.exit = Some(status),
            // An end reported by a node it did not go to.
            Some((n, _)) => {
                let _ = self.foreign(n, "EXIT");
            }
            None => {}
        }
    }

    /// `WHERE` from `home`: whether its process `pid` runs here, ended
    /// here (its wait status) or went on (the node), into `resp`.
    fn whereabouts(&self, home: u8, pid: u32, resp: &mut [u8]) -> Result<usize> {
        let s = self.state.lock();
        if s.guests
            .iter()
            .any(|g| g.pid == pid && g.home == home && g.running && !g.silent)
        {
            return Ok(0);
        }
        // The latest, if it came and left more than once.
        let f = s
            .fates
            .iter()
            .filter(|f| f.pid == pid && f.home == home)
            .max_by_key(|f| f.when.to_ns())
            .ok_or(ESRCH)?;
        let n = match f.what {
            Whereabouts::Here => return Ok(0),
            Whereabouts::Ended(status) => {
                let b = wire::ended(status);
                resp.get_mut(..b.len()).ok_or(EINVAL)?.copy_from_slice(&b);
                b.len()
            }
            Whereabouts::Went(node) => {
                let b = wire::went(node);
                resp.get_mut(..b.len()).ok_or(EINVAL)?.copy_from_slice(&b);
                b.len()
            }
        };
        Ok(n)
    }

    /// Remembers, for its home's `WHERE`, how guest `pid` left here.
    fn keep_fate(&self, pid: u32, home: u8, what: Whereabouts) {
        let f = Fate {
            pid,
            home,
            what,
            when: kernel::time::Ktime::ktime_get(),
        };
        if self.state.lock().fates.push(f, GFP_KERNEL).is_err() {
            pr_warn!("pid {}: its end not kept for its home\n", pid);
        }
    }

    /// Drops the arrivals whose origin left the view or has been silent
    /// for [`INCOMING_IDLE_MS`] before `GO`: a crashed origin would hold
    /// their memory, and a place among [`MAX_INCOMING`], for ever.
    fn expire(&self) {
        let now = kernel::time::Ktime::ktime_get();
        let mut gone = KVec::new();
        {
            let mut s = self.state.lock();
            vec::retain(&mut s.fates, |f| (now - f.when).to_ms() <= FATE_KEEP_MS);
            let mut k = 0;
            while k < s.incoming.len() {
                let i = &s.incoming[k];
                let lost = !member(i.origin);
                let idle = !i.go && (now - i.heard).to_ms() > INCOMING_IDLE_MS;
                if !(lost && !i.go) && !idle {
                    k += 1;
                    continue;
                }
                let c = if lost {
                    &self.counts.orphaned
                } else {
                    &self.counts.expired
                };
                c.fetch_add(1, Ordering::Relaxed);
                pr_info!(
                    "pid {} arriving from node {}: dropped ({})\n",
                    i.pid,
                    i.origin,
                    if lost { "it left" } else { "silent" }
                );
                let mig = i.mig;
                vec::retain(&mut s.queue, |&q| q != mig);
                if let Some(i) = vec::swap_remove(&mut s.incoming, k) {
                    // Freed once the lock is released.
                    let _ = gone.push(i, GFP_KERNEL);
                }
            }
        }
        drop(gone);
    }

    /// Charges a migration to the calling user: `Ok(None)` if exempt
    /// (`CAP_SYS_ADMIN`), `Ok(Some(uid))` if charged, `EAGAIN` past the
    /// limit.
    fn charge(&self, s: &State) -> Result<Option<u32>> {
        if crate::kernel_ext::cred::capable(crate::kernel_ext::cred::CAP_SYS_ADMIN) {
            return Ok(None);
        }
        let uid = crate::kernel_ext::cred::ids().uid[0];
        let max = self.max_per_user.load(Ordering::Relaxed) as usize;
        if s.outgoing.iter().filter(|o| o.uid == Some(uid)).count() >= max {
            self.counts.user_busy.fetch_add(1, Ordering::Relaxed);
            return Err(EAGAIN);
        }
        Ok(Some(uid))
    }

    /// `(incoming, outgoing, stubs, guests)`: the tables' sizes.
    pub(crate) fn census(&self) -> [usize; 4] {
        let s = self.state.lock();
        [
            s.incoming.len(),
            s.outgoing.len(),
            s.stubs.len(),
            s.guests.len(),
        ]
    }
}

/// The module's migrator, for the sysfs files.
pub(crate) fn migrator() -> Option<&'static Migrator> {
    get()
}

fn result_msg(mig: u64, e: Error, reason: Reason, detail: u64) -> Msg<'static> {
    Msg::Result {
        mig,
        errno: e.to_errno().unsigned_abs(),
        reason: reason as u32,
        detail,
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

/// Migration while the module is loaded: the service, the listener and
/// the worker thread.
pub(crate) struct Running {
    m: Arc<Migrator>,
    worker: Option<KThread>,
    service: Option<ssi_api::ServiceRegistration>,
    listener: Option<ssi_api::ListenerRegistration>,
    offer: Option<ssi_api::MigratorRegistration>,
    trails: Option<ssi_api::TrailsRegistration>,
    parents: Option<km::GuestRegistration<Parents>>,
}

impl Running {
    pub(crate) fn start(module: &'static ThisModule) -> Result<Self> {
        let m = Arc::pin_init(Migrator::new(), GFP_KERNEL)?;
        MIGRATOR.publish(&m);
        let mut r = Running {
            m,
            worker: None,
            service: None,
            listener: None,
            offer: None,
            trails: None,
            parents: None,
        };
        let sm = get().ok_or(EINVAL)?;
        r.worker = Some(KThread::spawn(c_str!("ssi_ghost"), move || worker(sm))?);
        r.service = Some(ssi_api::register_service(SERVICE, &SERVICE_IMPL)?);
        r.listener = Some(ssi_api::register_listener(&LISTENER)?);
        r.offer = Some(ssi_api::register_migrator(&OFFER)?);
        r.trails = Some(ssi_api::register_trails(&TRAILS)?);
        r.parents = Some(km::GuestRegistration::new(module)?);
        Ok(r)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Waits for the migrations other modules asked for.
        self.offer = None;
        self.trails = None;
        self.parents = None;
        self.listener = None;
        self.service = None;
        {
            let mut s = self.m.state.lock();
            s.closing = true;
            // Processes that came here end; their waiters report it to
            // their homes, whose stubs end with them. A loader that is not
            // the process yet ends silently (its origin hears of it).
            for g in s.guests.iter_mut() {
                g.silent |= !g.running;
                let _ = km::signal(g.pid, KILLED);
            }
        }
        self.m.changed.notify_all();
        while self.m.stubs_running.load(Ordering::Acquire) != 0
            || self.m.later_pending.load(Ordering::Acquire) != 0
        {
            km::sleep_ms(10);
        }
        self.worker = None;
        let waiters = core::mem::take(&mut self.m.state.lock().waiters);
        drop(waiters);
        let c = &self.m.counts;
        pr_info!(
            "migration: {} malformed, {} refused, {} foreign messages; {} arrivals orphaned, {} expired; {} refused to their user\n",
            c.malformed.load(Ordering::Relaxed),
            c.refused.load(Ordering::Relaxed),
            c.foreign.load(Ordering::Relaxed),
            c.orphaned.load(Ordering::Relaxed),
            c.expired.load(Ordering::Relaxed),
            c.user_busy.load(Ordering::Relaxed)
        );
        // SAFETY: the service and listener are unregistered, the worker
        // and waiters stopped, no stub runs, and no ioctl can (the device
        // went first, see `Ghost`).
        unsafe { MIGRATOR.withdraw() };
    }
}
