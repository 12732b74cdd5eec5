// SPDX-License-Identifier: GPL-2.0-only
//! SysV shared memory across the cluster: ids and permissions as the
//! message queues of `msg.rs`, pages kept coherent by the protocol of
//! `rust/proto/src/dsm/` (Documentation/ssi/containers.rst).
//!
//! A segment stays on the node that made it (its *home*): its id names
//! that node, keyed segments are made on the key directory, and
//! `shmctl()` of it is a request to it. `shmat()` on another node asks the
//! home to check the caller's permission, then maps a segment of this node
//! (the *shadow*, root's, mode 0600) that holds this node's copy of the
//! pages. Every attach of a segment of the cluster's range, on its home
//! too, is mapped with write-notify: a fault asks this file for the page
//! (`fetch`), which follows the page's `dsm::Copy` (`READ_REQ` or
//! `WRITE_REQ` to the home, which runs its `dsm::Home`), and maps it only
//! if, with the page locked, the copy still allows the access (`valid`).
//! A copy given away is unmapped with the page locked. The home's memory
//! is its own segment's page: the home node's copy and the home's memory
//! are one page, so a message a node sends itself carries no page.

use core::sync::atomic::AtomicU64;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec, KVec},
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
};

use crate::kernel_ext::{
    global::Published,
    ipc::{self, ShmFile, ShmSegs, ShmidDs, PAGE_SIZE},
    kthread,
    vec::{retain, swap_remove},
};
use crate::msg::{ask_counted, count, directory, elsewhere, me, serve, status, Stats};
use crate::proto::dsm::{Access, Copy, Dir, Home, Msg, Obj, State, MAX_HEAD};
use crate::proto::ipc::{
    home_of, range, Op, SemSet, ShmStat, IPC_RMID, IPC_SET, IPC_STAT, SHM_STAT_LEN,
};
use crate::ssi_api;

/// The coherence protocol's one-way messages (`dsm::Msg`, then the page
/// for `DATA` and `WRITE_BACK`).
pub(crate) const DSM_SERVICE: u16 = 304;
/// Requests of one page that may wait at its home: one per node.
const QUEUE: usize = 16;
/// Most pages of a segment shared across nodes (16 MiB).
const MAX_PAGES: usize = 4096;
/// How long a fault waits before it looks whether the home is still there.
const WAIT_MS: u32 = 100;

/// Counters of the `shmget`/`shmat`/`shmctl` requests.
pub(crate) static STATS: Stats = Stats::new();

/// Counters of the coherence protocol.
pub(crate) struct Coherence {
    /// Faults of this node that asked a home for a page or for the right
    /// to write.
    pub(crate) faults: AtomicU64,
    /// Requests this node served as a home.
    pub(crate) served: AtomicU64,
    /// Copies this node dropped because another node wanted to write.
    pub(crate) invalidations: AtomicU64,
    /// Bytes of pages this node sent.
    pub(crate) bytes: AtomicU64,
    /// Messages dropped as malformed.
    pub(crate) malformed: AtomicU64,
    /// Messages refused: not one the page's state expects, of no segment.
    pub(crate) refused: AtomicU64,
}

pub(crate) static DSM: Coherence = Coherence {
    faults: AtomicU64::new(0),
    served: AtomicU64::new(0),
    invalidations: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
    malformed: AtomicU64::new(0),
    refused: AtomicU64::new(0),
};

/// A segment of the cluster this node uses.
struct Seg {
    /// Its id (the home's).
    id: i32,
    /// This node's segment that holds its pages: `id` on the home, the
    /// shadow elsewhere.
    local: i32,
    home: u8,
    /// `local`'s memory: kept while the entry lives, so that a segment
    /// removed (`IPC_RMID`) while other nodes hold copies keeps serving
    /// them, as a segment stays while it is attached.
    file: Arc<ShmFile>,
    /// This node's copy of each page.
    copies: KVVec<Copy>,
    /// The directory of each page (on the home only).
    dir: KVVec<Home<QUEUE>>,
}

struct Segs {
    list: KVec<Seg>,
}

impl Segs {
    fn by_local(&mut self, local: i32) -> Option<&mut Seg> {
        self.list.iter_mut().find(|s| s.local == local)
    }

    fn by_id(&mut self, id: i32) -> Option<&mut Seg> {
        self.list.iter_mut().find(|s| s.id == id)
    }

    /// Whether `id` is a shadow of this node (never served to others).
    fn is_shadow(&self, id: i32) -> bool {
        self.list.iter().any(|s| s.local == id && s.id != id)
    }
}

/// The segments, and the wait of faults for their pages.
#[pin_data]
pub(crate) struct Shm {
    #[pin]
    segs: Mutex<Segs>,
    #[pin]
    changed: CondVar,
}

static SHM: Published<Shm> = Published::new();

/// Makes the table and publishes it until the returned guard is dropped
/// (after the hook and the services that reach it).
pub(crate) fn start() -> Result<Started> {
    let s = Arc::pin_init(
        pin_init!(Shm {
            segs <- new_mutex!(Segs { list: KVec::new() }),
            changed <- new_condvar!(),
        }),
        GFP_KERNEL,
    )?;
    SHM.publish(&s);
    Ok(Started)
}

/// Withdraws the table on drop.
pub(crate) struct Started;

impl Drop for Started {
    fn drop(&mut self) {
        // SAFETY: the module struct drops this after the kernel's hook and
        // the services, which are the only callers of `SHM.get()`, have
        // been unregistered and have returned.
        unsafe { SHM.withdraw() };
    }
}

fn pages_of(size: usize) -> usize {
    size.div_ceil(PAGE_SIZE)
}

fn new_copies(id: i32, home: u8, pages: usize) -> Result<KVVec<Copy>> {
    let mut v = KVVec::with_capacity(pages, GFP_KERNEL)?;
    for p in 0..pages {
        let obj = Obj {
            container: id as u32,
            index: p as u64,
        };
        v.push(Copy::new(obj, home), GFP_KERNEL)?;
    }
    Ok(v)
}

/// The entry of this node's segment `id`, made if `id` is a segment of
/// this node's range (not a shadow) small enough to share.
fn ensure_home(segs: &mut Segs, id: i32) -> Result<&mut Seg> {
    if segs.is_shadow(id) || home_of(id) != Some(me()) || me() == 0 {
        return Err(EINVAL);
    }
    if let Some(i) = segs.list.iter().position(|s| s.id == id) {
        return Ok(&mut segs.list[i]);
    }
    let (file, size) = ShmFile::of(id)?;
    let pages = pages_of(size);
    if pages > MAX_PAGES {
        return Err(EFBIG);
    }
    // Entries of this node's segments removed since, of which no other
    // node holds a copy, go first.
    retain(&mut segs.list, |s| {
        s.home != me() || ShmFile::of(s.id).is_ok() || !s.dir.iter().all(only_home)
    });
    let mut dir = KVVec::with_capacity(pages, GFP_KERNEL)?;
    for p in 0..pages {
        dir.push(
            Home::new(Obj {
                container: id as u32,
                index: p as u64,
            }),
            GFP_KERNEL,
        )?;
    }
    let seg = Seg {
        id,
        local: id,
        home: me(),
        file: Arc::new(file, GFP_KERNEL)?,
        copies: new_copies(id, me(), pages)?,
        dir,
    };
    segs.list.push(seg, GFP_KERNEL)?;
    let n = segs.list.len();
    Ok(&mut segs.list[n - 1])
}

/// Whether only the home's memory and copy hold a page, and nothing waits.
fn only_home(d: &Home<QUEUE>) -> bool {
    let alone = match d.dir() {
        Dir::Uncached => true,
        Dir::Exclusive(o) => o == me(),
        Dir::Shared(set) => set.iter().all(|n| n == me()),
    };
    alone && d.serving().is_none() && d.waiting() == 0
}

/// Whether `s` allows a read, or a write.
fn allows(s: State, write: bool) -> bool {
    matches!((s, write), (State::Modified, _) | (State::Shared, false))
}

/// A message to handle here or to send, with the page it carries when it
/// goes to another node.
struct Item {
    to: u8,
    msg: Msg,
    page: Option<KVec<u8>>,
}

fn page_buf() -> Result<KVec<u8>> {
    KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL).map_err(|_| ENOMEM)
}

fn as_page(v: &mut [u8]) -> Result<&mut [u8; PAGE_SIZE]> {
    v.try_into().map_err(|_| EINVAL)
}

fn send(it: &Item) {
    let mut head = [0u8; MAX_HEAD];
    let n = it.msg.encode(&mut head);
    let mut b = match KVec::with_capacity(n + PAGE_SIZE, GFP_KERNEL) {
        Ok(b) => b,
        Err(_) => {
            pr_warn!("shm: no memory for a message to node {}\n", it.to);
            return;
        }
    };
    let _ = b.extend_from_slice(&head[..n], GFP_KERNEL);
    if let Some(p) = &it.page {
        let _ = b.extend_from_slice(p, GFP_KERNEL);
        count_by(&DSM.bytes, p.len() as u64);
    }
    if let Err(e) = ssi_api::send_oneway(it.to, DSM_SERVICE, &b) {
        pr_warn!("shm: message to node {} lost: {:?}\n", it.to, e);
    }
}

fn count_by(c: &AtomicU64, n: u64) {
    c.fetch_add(n, core::sync::atomic::Ordering::Relaxed);
}

/// Handles `first` (from `from`), then every message it makes this node
/// send itself; sends the others.
fn run(shm: &Shm, from: u8, first: Msg, payload: &[u8]) {
    let mut work: KVec<(u8, Msg)> = KVec::new();
    let mut out: KVec<Item> = KVec::new();
    deliver(shm, from, first, payload, &mut out);
    loop {
        while let Some(it) = swap_remove(&mut out, 0) {
            if it.to == me() {
                let _ = work.push((me(), it.msg), GFP_KERNEL);
            } else {
                send(&it);
            }
        }
        // Links need not keep order (`dsm`): any order will do.
        let Some((f, m)) = swap_remove(&mut work, 0) else {
            return;
        };
        deliver(shm, f, m, &[], &mut out);
    }
}

/// Handles one message of the protocol: the page's directory (on the
/// home) or this node's copy. A message refused changes nothing.
fn deliver(shm: &Shm, from: u8, msg: Msg, payload: &[u8], out: &mut KVec<Item>) {
    if let Err(e) = try_handle(shm, from, msg, payload, out) {
        if e != ENOMEM {
            count(&DSM.refused);
        }
    }
}

fn try_handle(shm: &Shm, from: u8, msg: Msg, payload: &[u8], out: &mut KVec<Item>) -> Result {
    let obj = msg.obj();
    let id = obj.container as i32;
    let index = obj.index;
    let file = {
        let mut g = shm.segs.lock();
        let s = if msg.to_home() {
            ensure_home(&mut g, id)?
        } else {
            g.by_id(id).ok_or(EINVAL)?
        };
        s.file.clone()
    };
    let i = usize::try_from(index).map_err(|_| EINVAL)?;
    // Another node's page, read under the page's lock.
    let mut buf = page_buf()?;
    // The page's lock first, then the table's: as a fault's `valid`.
    let page = file.lock_page(index)?;
    let mut g = shm.segs.lock();
    let seg = g.by_id(id).ok_or(EINVAL)?;
    let home = seg.home;
    let r = if msg.to_home() {
        let d = seg.dir.get_mut(i).ok_or(EINVAL)?;
        let r = d.on_msg(from, msg).map_err(|_| EINVAL)?;
        match msg {
            Msg::ReadReq { .. } | Msg::WriteReq { .. } => count(&DSM.served),
            // The old owner's page is the home's memory again.
            Msg::WriteBack { .. } if from != me() => page.write(as_page(&mut buf_from(payload)?)?),
            _ => {}
        }
        r
    } else {
        let c = seg.copies.get_mut(i).ok_or(EINVAL)?;
        let r = c.on_msg(from, msg).map_err(|_| EINVAL)?;
        match msg {
            Msg::Data { .. } if from != me() => page.write(as_page(&mut buf_from(payload)?)?),
            Msg::Inv { .. } => {
                file.zap(index);
                count(&DSM.invalidations);
            }
            Msg::Fwd { excl, .. } => {
                // Read-only from now (shared) or gone (exclusive): the
                // processes of this node fault again.
                file.zap(index);
                if excl {
                    count(&DSM.invalidations);
                }
            }
            _ => {}
        }
        if r.granted {
            // The access that waited is done by the fault that waits (it
            // maps the page only if the copy still allows it, under the
            // page's lock): the home may serve the next request.
            if let Some(d) = c.done() {
                out.push(
                    Item {
                        to: home,
                        msg: d,
                        page: None,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        r
    };
    let mut read = false;
    for (to, m) in r.sends() {
        let page_of = if m.carries_object() && to != me() {
            if !read {
                page.read(as_page(&mut buf)?);
                read = true;
            }
            let mut p = page_buf()?;
            p.copy_from_slice(&buf);
            Some(p)
        } else {
            None
        };
        out.push(
            Item {
                to,
                msg: m,
                page: page_of,
            },
            GFP_KERNEL,
        )?;
    }
    drop(g);
    drop(page);
    shm.changed.notify_all();
    Ok(())
}

/// A page's payload as a buffer: exactly a page, or malformed.
fn buf_from(payload: &[u8]) -> Result<KVec<u8>> {
    if payload.len() != PAGE_SIZE {
        count(&DSM.malformed);
        return Err(EINVAL);
    }
    let mut b = KVec::with_capacity(PAGE_SIZE, GFP_KERNEL)?;
    b.extend_from_slice(payload, GFP_KERNEL)?;
    Ok(b)
}

/// Runs the messages of the protocol that other nodes send this one, on
/// the core's lane (a fault waits for them).
pub(crate) struct DsmService;

impl ssi_api::Service for DsmService {
    fn handle(&self, src: u8, req: &[u8], _resp: &mut [u8]) -> Result<usize> {
        let Some((msg, payload)) = Msg::decode(req) else {
            count(&DSM.malformed);
            return Err(EINVAL);
        };
        if msg.carries_object() && payload.len() != PAGE_SIZE {
            count(&DSM.malformed);
            return Err(EINVAL);
        }
        let shm = SHM.get().ok_or(EINVAL)?;
        run(shm, src, msg, payload);
        Ok(0)
    }
}

/// This node's side of the kernel's hook.
pub(crate) struct Segments;

impl ShmSegs for Segments {
    fn range() -> (i32, i32) {
        range(me())
    }

    fn shmget(key: i32, size: usize, flags: i32) -> Option<isize> {
        let dir = directory();
        if dir == me() {
            return None;
        }
        let mut resp = [0u8; 4];
        let op = Op::ShmGet {
            key,
            size: size as u64,
            flags,
        };
        status(ask_counted(&STATS, dir, op, None, &mut resp).and_then(|n| {
            let b = resp.get(..n).filter(|_| n == 4).ok_or(EINVAL)?;
            Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as isize)
        }))
    }

    fn shmat(id: i32, flags: i32) -> Option<isize> {
        let node = elsewhere(id)?;
        status((|| {
            let mut resp = [0u8; 8];
            let n = ask_counted(&STATS, node, Op::ShmAt { id, flags }, None, &mut resp)?;
            let b: [u8; 8] = resp
                .get(..n)
                .ok_or(EINVAL)?
                .try_into()
                .map_err(|_| EINVAL)?;
            let size = usize::try_from(u64::from_le_bytes(b)).map_err(|_| EINVAL)?;
            let pages = pages_of(size);
            if pages > MAX_PAGES || pages == 0 {
                return Err(EFBIG);
            }
            let shm = SHM.get().ok_or(EINVAL)?;
            if let Some(s) = shm.segs.lock().by_id(id) {
                return Ok(s.local as isize);
            }
            let copies = new_copies(id, node, pages)?;
            let local = ipc::shadow_new(size)?;
            let file = Arc::new(ShmFile::of(local)?.0, GFP_KERNEL)?;
            let mut g = shm.segs.lock();
            if let Some(s) = g.by_id(id) {
                // Another attach made one first (this one stays unused).
                return Ok(s.local as isize);
            }
            g.list.push(
                Seg {
                    id,
                    local,
                    home: node,
                    file,
                    copies,
                    dir: KVVec::new(),
                },
                GFP_KERNEL,
            )?;
            Ok(local as isize)
        })())
    }

    fn shmctl(id: i32, cmd: i32, ds: &mut ShmidDs) -> Option<isize> {
        let node = elsewhere(id)?;
        let set = if cmd == IPC_SET {
            SemSet {
                uid: ds.shm_perm.uid,
                gid: ds.shm_perm.gid,
                mode: ds.shm_perm.mode as u32,
            }
        } else {
            SemSet::default()
        };
        let mut resp = [0u8; SHM_STAT_LEN];
        status(
            ask_counted(&STATS, node, Op::ShmCtl { id, cmd, set }, None, &mut resp).and_then(|n| {
                if cmd == IPC_STAT {
                    let s = ShmStat::decode(&resp[..n]).ok_or(EINVAL)?;
                    fill(ds, &s);
                }
                Ok(0)
            }),
        )
    }

    fn coherent(id: i32) -> bool {
        let Some(shm) = SHM.get() else {
            return false;
        };
        let mut g = shm.segs.lock();
        g.by_local(id).is_some() || ensure_home(&mut g, id).is_ok()
    }

    fn fetch(id: i32, pgoff: u64, write: bool) -> Result {
        let shm = SHM.get().ok_or(EINVAL)?;
        let i = usize::try_from(pgoff).map_err(|_| EFAULT)?;
        loop {
            let mut g = shm.segs.lock();
            let Some(seg) = g.by_local(id) else {
                // Not (or no longer) shared: this node's memory alone.
                return Ok(());
            };
            let home = seg.home;
            let c = seg.copies.get_mut(i).ok_or(EFAULT)?;
            if allows(c.state(), write) && !c.busy() {
                return Ok(());
            }
            match c.access(write) {
                Access::Hit => return Ok(()),
                Access::Miss(m) => {
                    drop(g);
                    count(&DSM.faults);
                    if home == me() {
                        run(shm, me(), m, &[]);
                    } else {
                        send(&Item {
                            to: home,
                            msg: m,
                            page: None,
                        });
                    }
                }
                Access::Wait => {
                    let _ = shm.changed.wait_interruptible_timeout(
                        &mut g,
                        kernel::time::msecs_to_jiffies(WAIT_MS),
                    );
                    drop(g);
                    if !ssi_api::is_member(home) {
                        // The home left: the page is lost (issue 15,
                        // item 6, not done).
                        return Err(crate::kernel_ext::errno::ehostdown());
                    }
                    if crate::kernel_ext::migrate::killed() {
                        // The task dies: its fault need not end well (a
                        // page whose only copy was on a lost node would
                        // keep it waiting, unkillable, otherwise).
                        return Err(EINTR);
                    }
                    if kthread::signal_pending() {
                        // Not a spin while a signal waits for the fault's
                        // end: the answer comes within milliseconds.
                        kthread::sleep_ms(1);
                    }
                }
            }
        }
    }

    fn global(id: i32) -> Result<i32> {
        let shm = SHM.get().ok_or(ENOENT)?;
        let mut g = shm.segs.lock();
        if let Some(s) = g.by_local(id) {
            return Ok(s.id);
        }
        // One of this node's segments, shared once it is mapped here.
        ensure_home(&mut g, id).map(|s| s.id)
    }

    fn valid(id: i32, pgoff: u64, write: bool) -> bool {
        let Some(shm) = SHM.get() else {
            return true;
        };
        let mut g = shm.segs.lock();
        let Some(seg) = g.by_local(id) else {
            return true;
        };
        usize::try_from(pgoff)
            .ok()
            .and_then(|i| seg.copies.get(i))
            .is_some_and(|c| allows(c.state(), write))
    }
}

fn fill(ds: &mut ShmidDs, s: &ShmStat) {
    // The kernel's copy is not zeroed: every byte reaches user space.
    *ds = ShmidDs::default();
    ds.shm_perm.key = s.key;
    ds.shm_perm.uid = s.uid;
    ds.shm_perm.gid = s.gid;
    ds.shm_perm.cuid = s.cuid;
    ds.shm_perm.cgid = s.cgid;
    ds.shm_perm.mode = s.mode as _;
    ds.shm_perm.seq = s.seq as _;
    ds.shm_segsz = s.segsz as _;
    ds.shm_atime = s.atime as _;
    ds.shm_dtime = s.dtime as _;
    ds.shm_ctime = s.ctime as _;
    ds.shm_cpid = s.cpid;
    ds.shm_lpid = s.lpid;
    ds.shm_nattch = s.nattch as _;
}

fn stat_of(ds: &ShmidDs) -> ShmStat {
    ShmStat {
        key: ds.shm_perm.key,
        uid: ds.shm_perm.uid,
        gid: ds.shm_perm.gid,
        cuid: ds.shm_perm.cuid,
        cgid: ds.shm_perm.cgid,
        mode: ds.shm_perm.mode as u32,
        seq: u32::from(ds.shm_perm.seq),
        cpid: ds.shm_cpid,
        lpid: ds.shm_lpid,
        atime: ds.shm_atime as i64,
        dtime: ds.shm_dtime as i64,
        ctime: ds.shm_ctime as i64,
        segsz: ds.shm_segsz as u64,
        nattch: ds.shm_nattch as u64,
    }
}

/// Runs another node's request for this node's segments (and keys, as the
/// directory), on the core's worker thread (`msg::Service` hands it over).
pub(crate) fn handle(req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let shadow = |id| SHM.get().is_some_and(|s| s.segs.lock().is_shadow(id));
    let mine = |op: &Op<'_>| match *op {
        Op::ShmGet { .. } => true,
        Op::ShmAt { id, .. } | Op::ShmCtl { id, .. } => home_of(id) == Some(me()) && !shadow(id),
        _ => false,
    };
    serve(&STATS, req, resp, mine, run_request)
}

/// Runs `op` here, as the current credentials; the answer's length.
fn run_request(op: Op<'_>, resp: &mut [u8]) -> Result<usize> {
    match op {
        Op::ShmGet { key, size, flags } => {
            let size = usize::try_from(size).map_err(|_| EINVAL)?;
            let id = ipc::shmget_here(key, size, flags)?;
            let b = resp.get_mut(..4).ok_or(EINVAL)?;
            b.copy_from_slice(&id.to_le_bytes());
            Ok(4)
        }
        Op::ShmAt { id, flags } => {
            let size = ipc::shmat_check_here(id, flags)?;
            // The home's entry, before any page is asked for.
            let shm = SHM.get().ok_or(EINVAL)?;
            ensure_home(&mut shm.segs.lock(), id)?;
            let b = resp.get_mut(..8).ok_or(EINVAL)?;
            b.copy_from_slice(&(size as u64).to_le_bytes());
            Ok(8)
        }
        Op::ShmCtl { id, cmd, set } => {
            let mut ds = ShmidDs::default();
            match cmd {
                IPC_STAT => {
                    ipc::shmctl_here(id, cmd, &mut ds)?;
                    stat_of(&ds).encode(resp).ok_or(EINVAL)
                }
                IPC_SET => {
                    ds.shm_perm.uid = set.uid;
                    ds.shm_perm.gid = set.gid;
                    ds.shm_perm.mode = set.mode as _;
                    ipc::shmctl_here(id, cmd, &mut ds).map(|_| 0)
                }
                IPC_RMID => ipc::shmctl_here(id, cmd, &mut ds).map(|_| 0),
                _ => Err(EINVAL),
            }
        }
        _ => Err(EINVAL),
    }
}
