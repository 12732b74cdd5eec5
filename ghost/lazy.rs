// SPDX-License-Identifier: GPL-2.0-only
//! Migration on demand: a process arrives with its registers and layout,
//! and its anonymous pages follow when it touches them.
//!
//! The stream lists the pages that hold data as lazy runs
//! (`rust/proto/src/ghost/`). The destination maps the areas empty and
//! marked (`kernel_ext::remote`, patch 0019); a fault in a marked area asks
//! [`Pager::fill`] here, which brings the page and up to `readahead` pages
//! after it from the node the process left (`FETCH` of the page service,
//! `rust/proto/src/pages.rs`), keeping the extra ones until they are
//! touched. That node lends the process's address space (a user reference
//! on it) until the destination says `DONE`: every page arrived, or the
//! process ended, or the destination left the view.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox, KVVec, KVec},
    c_str, new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

use crate::kernel_ext::{
    global::Published,
    kthread::{self, KThread},
    mm::{self, Mm, SharedMm},
    remote::{self, HeldMm, MmName, Pager, PAGE},
    task::{self, TaskRef},
    vec,
};
use crate::proto::ghost::PATH_MAX;
use crate::proto::pages::{self as pp, Msg, Run, MAX_FETCH, MAX_MSG};
use crate::ssi_api;

/// The page service (module services are 256 and up).
pub(crate) const SERVICE_PAGES: u16 = 301;
const CALL_TIMEOUT_MS: u32 = 5_000;
/// A fault asks again this many times after a transient error (a busy
/// node or worker, a timeout) while the page's node is a member; the waits
/// between grow from [`RETRY_FIRST_MS`] to [`RETRY_MAX_MS`].
const RETRIES: u32 = 12;
const RETRY_FIRST_MS: u32 = 20;
const RETRY_MAX_MS: u32 = 1_000;
/// Pages brought after a faulting one, by default.
const READAHEAD: u32 = MAX_FETCH - 1;
/// How far ahead of the process's last fault the prefetch thread keeps
/// bringing pages (four full requests).
const PREFETCH: u64 = 4 * MAX_FETCH as u64;
/// Prefetch threads, each with one request in flight.
const PREFETCHERS: usize = 3;
/// Most pages kept ahead per process (they are looked up linearly).
const MAX_AHEAD: usize = 256;

/// A process here whose pages are partly on `origin`.
struct Pulled {
    mm: HeldMm,
    /// The process (killed if the module goes while it waits for pages).
    pid: u32,
    origin: u8,
    mig: u64,
    runs: KVec<Run>,
    pending: u64,
    /// Pages brought ahead, not touched yet.
    ahead: KVec<(u64, KBox<[u8; PAGE]>)>,
    /// Nothing pending any more: to unmark and forget.
    finished: bool,
    /// The last page the process faulted on, and where the prefetch
    /// thread goes on from.
    last: u64,
    next: u64,
    /// Pages the prefetch threads are bringing, one run per thread.
    in_flight: [Option<(u64, u32)>; PREFETCHERS],
}

/// A process that left here, whose pages `dst` may still ask for.
struct Lent {
    mig: u64,
    pid: u32,
    dst: u8,
    mm: SharedMm,
}

struct State {
    pulled: KVec<Pulled>,
    lent: KVec<Lent>,
}

impl State {
    /// The entry of `mm` that still waits for pages (a finished one of the
    /// same mm may wait for `tick`).
    fn pulling(&mut self, mm: MmName) -> Option<&mut Pulled> {
        self.pulled
            .iter_mut()
            .find(|x| x.mm.name() == mm && !x.finished)
    }
}

/// Counters, shown in `/sys/kernel/ssi/ghost/pages`.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) fetches: AtomicU64,
    pub(crate) fetched: AtomicU64,
    pub(crate) ahead_used: AtomicU64,
    pub(crate) prefetched: AtomicU64,
    pub(crate) served: AtomicU64,
    pub(crate) malformed: AtomicU64,
    /// Fault requests asked again after a transient error.
    pub(crate) retried: AtomicU64,
    pub(crate) failed: AtomicU64,
}

#[pin_data]
pub(crate) struct Pages {
    #[pin]
    state: Mutex<State>,
    /// Default mode of `MIGRATE`: on demand (else eager).
    pub(crate) on_demand: AtomicBool,
    pub(crate) readahead: AtomicU32,
    pub(crate) counts: Counts,
    /// Wakes the prefetch thread.
    #[pin]
    more: CondVar,
    /// Told when a lending ends (the migration layer registers it).
    lending_ended: fn(),
}

static PAGES: Published<Pages> = Published::new();

fn get() -> Option<&'static Pages> {
    PAGES.get()
}

impl Pages {
    fn new(lending_ended: fn()) -> impl PinInit<Self> {
        pin_init!(Pages {
            state <- new_mutex!(State {
                pulled: KVec::new(),
                lent: KVec::new(),
            }),
            on_demand: AtomicBool::new(false),
            readahead: AtomicU32::new(READAHEAD),
            counts: Counts::default(),
            more <- new_condvar!(),
            lending_ended,
        })
    }

    /// `(processes pulling pages here, pages they wait for, processes
    /// lent from here)`.
    pub(crate) fn census(&self) -> (usize, u64, usize) {
        let s = self.state.lock();
        let waiting = s.pulled.iter().map(|p| p.pending).sum();
        (s.pulled.len(), waiting, s.lent.len())
    }
}

/// Whether `MIGRATE` moves pages on demand unless told.
pub(crate) fn on_demand_default() -> bool {
    get().is_some_and(|p| p.on_demand.load(Ordering::Relaxed))
}

fn send(dst: u8, m: Msg) {
    let mut b = [0u8; MAX_MSG];
    let n = m.encode(&mut b);
    if let Err(e) = ssi_api::send_oneway(dst, SERVICE_PAGES, &b[..n]) {
        pr_warn!("page message to node {} lost: {:?}\n", dst, e);
    }
}

/// What one attempt of a fault to get its page came to.
enum Attempt {
    /// The page is filled, or no longer awaited (nothing to fill).
    Done,
    /// The request to `origin` failed with this error.
    Failed(u8, Error),
}

/// One attempt to fill page `index` of `mm`: from the pages brought
/// ahead, the prefetch in flight, or a request to its origin.
fn fill_once(p: &Pages, mm: MmName, index: u64, page: &mut [u8; PAGE]) -> Result<Attempt> {
    let mut waited = 0;
    let (origin, mig, n) = loop {
        let mut s = p.state.lock();
        let Some(x) = s.pulling(mm) else {
            return Ok(Attempt::Done);
        };
        if !pp::pending(&x.runs, index) {
            return Ok(Attempt::Done);
        }
        x.last = index;
        if let Some((_, a)) = x.ahead.iter().find(|a| a.0 == index) {
            page.copy_from_slice(&a[..]);
            p.counts.ahead_used.fetch_add(1, Ordering::Relaxed);
            drop(s);
            p.more.notify_all();
            return Ok(Attempt::Done);
        }
        // The prefetch thread is bringing it: wait for it (1 s at most).
        let coming = x
            .in_flight
            .iter()
            .flatten()
            .any(|&(i, n)| index >= i && index < i + u64::from(n));
        if coming && waited < 1000 {
            drop(s);
            crate::kernel_ext::migrate::sleep_ms(1);
            waited += 1;
            continue;
        }
        let max = 1 + p.readahead.load(Ordering::Relaxed).min(MAX_FETCH - 1);
        let n = pp::batch(&x.runs, index, max);
        // Behind the prefetch or far from it: it starts again here.
        if index >= x.next || index + 2 * PREFETCH < x.next {
            x.next = index + u64::from(n);
        }
        break (x.origin, x.mig, n);
    };
    p.more.notify_all();
    // A kernel thread reading the process's memory (a /proc file served
    // to another node) may be one the answer needs: it gets an error, and
    // the page stays to come when the process touches it.
    if TaskRef::get(task::current_pid()).is_ok_and(|t| t.info().kthread) {
        return Err(EAGAIN);
    }
    let mut buf = KVVec::from_elem(0u8, n as usize * PAGE, GFP_KERNEL)?;
    let mut req = [0u8; MAX_MSG];
    let len = Msg::Fetch {
        mig,
        index,
        count: n,
    }
    .encode(&mut req);
    p.counts.fetches.fetch_add(1, Ordering::Relaxed);
    let got = ssi_api::call_killable(
        origin,
        SERVICE_PAGES,
        &req[..len],
        &mut buf,
        CALL_TIMEOUT_MS,
    );
    match got {
        Ok(g) if g == buf.len() => {}
        Ok(_) => return Ok(Attempt::Failed(origin, EIO)),
        Err(e) => return Ok(Attempt::Failed(origin, e)),
    }
    page.copy_from_slice(&buf[..PAGE]);
    p.counts.fetched.fetch_add(u64::from(n), Ordering::Relaxed);
    keep_ahead(p, mm, index + 1, &buf[PAGE..])?;
    Ok(Attempt::Done)
}

/// Whether a failed page request may succeed if made again: the origin's
/// call slots, worker queue or worker were busy, or it answered late.
/// Anything else (the node left, the lending ended, a malformed answer)
/// is final.
fn transient(e: Error) -> bool {
    e == EBUSY || e == EAGAIN || e == ENOMEM || e == crate::kernel_ext::errno::etimedout()
}

/// Sleeps `ms` unless SIGKILL comes first; `false` if it did.
fn nap_killable(ms: u32) -> bool {
    let mut left = ms;
    while left > 0 {
        if crate::kernel_ext::migrate::killed() {
            return false;
        }
        crate::kernel_ext::migrate::sleep_ms(left.min(10));
        left = left.saturating_sub(10);
    }
    !crate::kernel_ext::migrate::killed()
}

/// The fault-path side.
pub(crate) struct Remote;

impl Pager for Remote {
    /// Fills page `index` of `mm`. A transient failure is tried again,
    /// [`RETRIES`] times at most, while the page's node is a member and
    /// the process is not killed; the fault fails (SIGBUS) only when the
    /// page cannot come any more.
    fn fill(mm: MmName, index: u64, page: &mut [u8; PAGE]) -> Result {
        let Some(p) = get() else {
            return Ok(());
        };
        let mut wait = RETRY_FIRST_MS;
        let mut tries = 0;
        let (origin, e) = loop {
            let (origin, e) = match fill_once(p, mm, index, page)? {
                Attempt::Done => return Ok(()),
                Attempt::Failed(origin, e) => (origin, e),
            };
            if !transient(e)
                || tries == RETRIES
                || !ssi_api::is_member(origin)
                || !nap_killable(wait)
            {
                break (origin, e);
            }
            tries += 1;
            wait = (wait * 2).min(RETRY_MAX_MS);
            p.counts.retried.fetch_add(1, Ordering::Relaxed);
        };
        p.counts.failed.fetch_add(1, Ordering::Relaxed);
        // Mapped meanwhile by another fault: this page is not used.
        let still = waiting_for(mm, index);
        pr_warn!(
            "page {:#x} from node {}: {:?} after {} tries{}\n",
            index * PAGE as u64,
            origin,
            e,
            tries + 1,
            if still { "" } else { " (arrived meanwhile)" }
        );
        if still {
            Err(EIO)
        } else {
            Ok(())
        }
    }

    fn mapped(mm: MmName, index: u64) {
        settle(mm, index, index + 1);
    }

    fn discard(mm: MmName, first: u64, end: u64) {
        settle(mm, first, end);
    }

    fn fork(mm: MmName) -> Result {
        if waiting(mm) {
            pull_all()?;
        }
        Ok(())
    }
}

/// Pages `[first, end)` of `mm` are here, or discarded: none of them is
/// pending any more.
fn settle(mm: MmName, first: u64, end: u64) {
    let Some(p) = get() else {
        return;
    };
    let mut s = p.state.lock();
    if let Some(x) = s.pulling(mm) {
        let n = if end == first + 1 {
            u64::from(pp::take(&mut x.runs, first))
        } else {
            pp::take_range(&mut x.runs, first, end)
        };
        x.pending = x.pending.saturating_sub(n);
        vec::retain(&mut x.ahead, |a| a.0 < first || a.0 >= end);
        x.finished |= x.pending == 0;
    }
}

/// Keeps the pages of `buf`, from page `first` on, that `mm` still waits
/// for and does not hold yet.
fn keep_ahead(p: &Pages, mm: MmName, first: u64, buf: &[u8]) -> Result {
    let mut s = p.state.lock();
    let Some(x) = s.pulling(mm) else {
        return Ok(());
    };
    for (k, data) in buf.chunks_exact(PAGE).enumerate() {
        let i = first + k as u64;
        if x.ahead.len() >= MAX_AHEAD {
            break;
        }
        if !pp::pending(&x.runs, i) || x.ahead.iter().any(|a| a.0 == i) {
            continue;
        }
        let mut b = KBox::new([0u8; PAGE], GFP_KERNEL)?;
        b.copy_from_slice(data);
        x.ahead.push((i, b), GFP_KERNEL)?;
    }
    Ok(())
}

/// What the prefetch thread brings next: `(mm, origin, mig, first, count)`.
fn next_prefetch(s: &mut State, me: usize) -> Option<(MmName, u8, u64, u64, u32)> {
    for x in s.pulled.iter_mut() {
        let coming = x.in_flight.iter().flatten().count() * MAX_FETCH as usize;
        if x.finished
            || x.in_flight[me].is_some()
            || x.ahead.len() + coming + MAX_FETCH as usize > MAX_AHEAD
        {
            continue;
        }
        // The first pending page from `next` on that is neither here nor
        // coming.
        let mut i = x.next;
        let first = loop {
            let Some(j) = pp::next_pending(&x.runs, i) else {
                break None;
            };
            let flying = x
                .in_flight
                .iter()
                .flatten()
                .any(|&(f, n)| j >= f && j < f + u64::from(n));
            if !flying && !x.ahead.iter().any(|a| a.0 == j) {
                break Some(j);
            }
            i = j + 1;
        };
        let Some(first) = first else {
            continue;
        };
        if first >= x.last.saturating_add(PREFETCH) {
            continue;
        }
        let n = pp::batch(&x.runs, first, MAX_FETCH);
        x.in_flight[me] = Some((first, n));
        x.next = first + u64::from(n);
        return Some((x.mm.name(), x.origin, x.mig, first, n));
    }
    None
}

/// The prefetch thread: keeps up to [`PREFETCH`] pages arriving ahead of
/// each process's last fault, so that a process reading its memory in
/// order finds most pages here.
fn prefetch(p: &'static Pages, me: usize) {
    let mut buf = match KVVec::from_elem(0u8, MAX_FETCH as usize * PAGE, GFP_KERNEL) {
        Ok(b) => b,
        Err(_) => return,
    };
    while !kthread::should_stop() {
        let mut s = p.state.lock();
        let Some((mm, origin, mig, first, n)) = next_prefetch(&mut s, me) else {
            let _ = p
                .more
                .wait_interruptible_timeout(&mut s, msecs_to_jiffies(100));
            continue;
        };
        drop(s);
        let mut req = [0u8; MAX_MSG];
        let len = Msg::Fetch {
            mig,
            index: first,
            count: n,
        }
        .encode(&mut req);
        let out = &mut buf[..n as usize * PAGE];
        let got = ssi_api::call(origin, SERVICE_PAGES, &req[..len], out, CALL_TIMEOUT_MS);
        if got.is_ok_and(|g| g == out.len()) {
            p.counts
                .prefetched
                .fetch_add(u64::from(n), Ordering::Relaxed);
            let _ = keep_ahead(p, mm, first, out);
        } else {
            p.counts.failed.fetch_add(1, Ordering::Relaxed);
        }
        let mut s = p.state.lock();
        if let Some(x) = s.pulled.iter_mut().find(|x| x.mm.name() == mm) {
            x.in_flight[me] = None;
        }
    }
}

/// Whether `mm` still waits for pages.
fn waiting(mm: MmName) -> bool {
    get().is_some_and(|p| p.state.lock().pulling(mm).is_some())
}

/// The first page at or after `from` that `mm` still waits for.
fn next_waiting(mm: MmName, from: u64) -> Option<u64> {
    get().and_then(|p| {
        p.state
            .lock()
            .pulling(mm)
            .and_then(|x| pp::next_pending(&x.runs, from))
    })
}

/// Whether `mm` still waits for page `index`.
fn waiting_for(mm: MmName, index: u64) -> bool {
    get().is_some_and(|p| {
        p.state
            .lock()
            .pulling(mm)
            .is_some_and(|x| pp::pending(&x.runs, index))
    })
}

/// The current process, restored here, has its pages in `runs` on
/// `origin` (migration `mig`): its marked areas ask for them from now on.
pub(crate) fn adopt(origin: u8, mig: u64, runs: KVec<Run>) -> Result {
    let p = get().ok_or(EINVAL)?;
    let mm = HeldMm::current().ok_or(ESRCH)?;
    let pending = pp::count(&runs);
    p.state.lock().pulled.push(
        Pulled {
            mm,
            pid: task::current_pid(),
            origin,
            mig,
            runs,
            pending,
            ahead: KVec::new(),
            finished: pending == 0,
            last: 0,
            next: 0,
            in_flight: [None; PREFETCHERS],
        },
        GFP_KERNEL,
    )?;
    Ok(())
}

/// Brings every page the current process still waits for (before it is
/// copied by `fork()`, checkpointed or migrated again). Pages of areas
/// unmapped since are forgotten.
pub(crate) fn pull_all() -> Result {
    let Some(me) = remote::current_name() else {
        return Ok(());
    };
    if !waiting(me) {
        return Ok(());
    }
    let m = Mm::current().ok_or(ESRCH)?;
    let mut path = KVVec::from_elem(0u8, PATH_MAX + 1, GFP_KERNEL)?;
    let mut addr = 0;
    while let Some(v) = m.vma_from(addr, &mut path)? {
        addr = v.end;
        if v.vm_flags & remote::VM_REMOTE == 0 {
            continue;
        }
        let end = v.pgoff + (v.end - v.start) / PAGE as u64;
        let mut i = v.pgoff;
        while let Some(k) = next_waiting(me, i).filter(|&k| k < end) {
            // The read fault brings it (and the pages after it).
            mm::touch(v.start + (k - v.pgoff) * PAGE as u64)?;
            i = k + 1;
        }
    }
    if let Some(p) = get() {
        let mut s = p.state.lock();
        if let Some(x) = s.pulling(me) {
            if x.pending != 0 {
                pr_info!("{} pages of unmapped areas forgotten\n", x.pending);
            }
            pp::take_range(&mut x.runs, 0, u64::MAX);
            x.pending = 0;
            x.ahead = KVec::new();
            x.finished = true;
        }
    }
    Ok(())
}

/// Lends process `pid`'s address space to `dst` for migration `mig`.
pub(crate) fn lend(mig: u64, pid: u32, dst: u8, mm: SharedMm) -> Result {
    let p = get().ok_or(EINVAL)?;
    p.state
        .lock()
        .lent
        .push(Lent { mig, pid, dst, mm }, GFP_KERNEL)?;
    Ok(())
}

/// Ends the lending of migration `mig` (it failed, or it is done).
pub(crate) fn unlend(mig: u64) {
    if let Some(p) = get() {
        let gone = {
            let mut s = p.state.lock();
            s.lent
                .iter()
                .position(|l| l.mig == mig)
                .and_then(|k| vec::swap_remove(&mut s.lent, k))
        };
        // The address space's last user reference may go here.
        drop(gone);
    }
}

/// Whether process `pid`'s address space is lent (its stub keeps it).
pub(crate) fn lending(pid: u32) -> bool {
    get().is_some_and(|p| p.state.lock().lent.iter().any(|l| l.pid == pid))
}

/// Housekeeping, from the ghost worker thread: forgets the processes that
/// have all their pages or ended (telling their origin), and the lendings
/// to nodes that left.
pub(crate) fn tick(member: impl Fn(u8) -> bool) {
    let Some(p) = get() else {
        return;
    };
    loop {
        let x = {
            let mut s = p.state.lock();
            match s.pulled.iter().position(|x| x.finished || !x.mm.live()) {
                Some(k) => vec::swap_remove(&mut s.pulled, k),
                None => None,
            }
        };
        let Some(x) = x else {
            break;
        };
        if x.mm.live() {
            x.mm.clear_marks();
        }
        send(x.origin, Msg::Done { mig: x.mig });
    }
    let gone = {
        let mut s = p.state.lock();
        let mut gone = KVec::new();
        let mut k = 0;
        while k < s.lent.len() {
            if member(s.lent[k].dst) {
                k += 1;
            } else if let Some(l) = vec::swap_remove(&mut s.lent, k) {
                let _ = gone.push(l, GFP_KERNEL);
            }
        }
        gone
    };
    drop(gone);
}

/// Serves `FETCH` and `DONE` on the core's worker thread.
struct Service;

impl ssi_api::Service for Service {
    fn handle(&self, src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        let p = get().ok_or_else(crate::kernel_ext::errno::eshutdown)?;
        let Some(msg) = Msg::decode(req) else {
            p.counts.malformed.fetch_add(1, Ordering::Relaxed);
            return Err(EINVAL);
        };
        match msg {
            Msg::Fetch { mig, index, count } => {
                let n = count as usize * PAGE;
                let out = resp.get_mut(..n).ok_or(EINVAL)?;
                let s = p.state.lock();
                let l = s
                    .lent
                    .iter()
                    .find(|l| l.mig == mig && l.dst == src)
                    .ok_or(ENOENT)?;
                l.mm.read(index * PAGE as u64, out)?;
                p.counts
                    .served
                    .fetch_add(u64::from(count), Ordering::Relaxed);
                Ok(n)
            }
            Msg::Done { mig } => {
                let gone = {
                    let mut s = p.state.lock();
                    s.lent
                        .iter()
                        .position(|l| l.mig == mig && l.dst == src)
                        .and_then(|k| vec::swap_remove(&mut s.lent, k))
                };
                drop(gone);
                (p.lending_ended)();
                Ok(0)
            }
        }
    }
}

static SERVICE_IMPL: Service = Service;

/// Migration on demand while the module is loaded.
pub(crate) struct Running {
    p: Arc<Pages>,
    service: Option<ssi_api::ServiceRegistration>,
    pager: Option<remote::PagerRegistration<Remote>>,
    prefetchers: KVec<KThread>,
}

impl Running {
    /// Starts the page service and the pager; `lending_ended` is called
    /// when a node tells that it has every page it borrowed.
    pub(crate) fn start(module: &'static ThisModule, lending_ended: fn()) -> Result<Self> {
        let p = Arc::pin_init(Pages::new(lending_ended), GFP_KERNEL)?;
        PAGES.publish(&p);
        let mut r = Running {
            p,
            service: None,
            pager: None,
            prefetchers: KVec::new(),
        };
        let pp = get().ok_or(EINVAL)?;
        for me in 0..PREFETCHERS {
            let t = KThread::spawn(c_str!("ssi_ghost_pf"), move || prefetch(pp, me))?;
            r.prefetchers.push(t, GFP_KERNEL)?;
        }
        // Its own worker: a fault must not wait behind `/proc` reads and
        // remote files on the core's shared worker.
        r.service = Some(ssi_api::register_lane_service(
            SERVICE_PAGES,
            &SERVICE_IMPL,
        )?);
        r.pager = Some(remote::PagerRegistration::new(module)?);
        Ok(r)
    }

    pub(crate) fn pages(&self) -> Arc<Pages> {
        self.p.clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Their pages cannot come any more: killed before a fault could
        // find no pager and read zero. Their origins stop lending.
        let mut done = KVec::new();
        for x in self.p.state.lock().pulled.iter() {
            if !x.finished && x.mm.live() {
                pr_warn!("pid {} killed: its pages are on node {}\n", x.pid, x.origin);
                let _ = crate::kernel_ext::migrate::signal(x.pid, 9);
            }
            let _ = done.push((x.origin, x.mig), GFP_KERNEL);
        }
        for (origin, mig) in done {
            send(origin, Msg::Done { mig });
        }
        self.pager = None;
        self.prefetchers = KVec::new();
        self.service = None;
        let c = &self.p.counts;
        pr_info!(
            "pages on demand: {} fetches, {} pages fetched, {} read ahead used, {} served, {} retried, {} failed, {} malformed\n",
            c.fetches.load(Ordering::Relaxed),
            c.fetched.load(Ordering::Relaxed),
            c.ahead_used.load(Ordering::Relaxed),
            c.served.load(Ordering::Relaxed),
            c.retried.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed),
            c.malformed.load(Ordering::Relaxed)
        );
        // SAFETY: the pager and the service are unregistered (both wait for
        // the callbacks in flight); the migration worker, which calls
        // `tick`, stopped before (see `Ghost`).
        unsafe { PAGES.withdraw() };
    }
}
