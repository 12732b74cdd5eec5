// SPDX-License-Identifier: GPL-2.0-only
//! KUnit suites for the ssi-rs kernel-side pieces; they run when this
//! module loads (after `ssi.ko`).

use core::fmt::Write;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    c_str,
    prelude::*,
    sync::Arc,
};

#[path = "../../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../../rust/proto/kernel.rs"]
mod proto;
#[path = "../../rust/ssi_api.rs"]
mod ssi_api;
#[allow(dead_code)]
#[path = "../../ghost/stream.rs"]
mod stream;

use core::sync::atomic::{AtomicBool, Ordering};
use kernel_ext::kthread::KThread;
use kernel_ext::kunit::Test;
use kernel_ext::sysfs::{Attribute, ShowBuf, SysfsDir};
use kernel_ext::tipc::{self, EventKind, Kind, TipcSocket};
use proto::knob::{parse_node_id, KnobError};

module! {
    type: SsiKunit,
    name: "ssi_kunit",
    author: "ssi-rs",
    description: "KUnit suites for ssi-rs",
    license: "GPL",
}

struct SsiKunit;

impl kernel::Module for SsiKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(SsiKunit)
    }
}

fn knob_accepts_node_ids(t: &Test) {
    kunit_expect!(t, parse_node_id(b"1").map(|i| i.get()) == Ok(1));
    kunit_expect!(t, parse_node_id(b"255\n").map(|i| i.get()) == Ok(255));
}

fn knob_rejects_bad_writes(t: &Test) {
    kunit_expect!(t, parse_node_id(b"0") == Err(KnobError::OutOfRange));
    kunit_expect!(t, parse_node_id(b"256") == Err(KnobError::OutOfRange));
    kunit_expect!(t, parse_node_id(b"") == Err(KnobError::Empty));
    kunit_expect!(t, parse_node_id(b"1 ") == Err(KnobError::NotDecimal));
    kunit_expect!(
        t,
        parse_node_id(b"4294967296") == Err(KnobError::OutOfRange)
    );
}

kunit_suite!(name: "ssi_proto", cases: [knob_accepts_node_ids, knob_rejects_bad_writes]);

fn showbuf_bounds(t: &Test) {
    let mut page = [0u8; 8];
    let mut out = ShowBuf::new(&mut page);
    kunit_expect!(t, write!(out, "1234").is_ok());
    kunit_expect!(t, write!(out, "56789").is_err());
    kunit_expect!(t, out.as_bytes() == b"1234");
    kunit_expect!(t, write!(out, "5678").is_ok());
    kunit_expect!(t, out.as_bytes() == b"12345678");
}

struct Probe(u32);

fn show_probe(p: &Probe, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", p.0).map_err(|_| EINVAL)
}

static PROBE_ATTRS: [Attribute<Probe>; 1] = [Attribute::ro(c_str!("probe"), show_probe)];

fn sysfs_dir_create_and_remove(t: &Test) {
    let Ok(ctx) = Arc::new(Probe(7), GFP_KERNEL) else {
        return kunit_expect!(t, false);
    };
    let first = SysfsDir::new(c_str!("ssi_kunit_probe"), &PROBE_ATTRS, ctx.clone());
    kunit_expect!(t, first.is_ok());
    drop(first);
    // The name is free again only if drop removed the directory.
    let second = SysfsDir::new(c_str!("ssi_kunit_probe"), &PROBE_ATTRS, ctx.clone());
    kunit_expect!(t, second.is_ok());
    drop(second);
    // Only our reference remains: the directory released its own.
    kunit_expect!(t, ctx.into_unique_or_drop().is_some());
}

/// init is a process, kthreadd (PID 2) a kernel thread: listed or not.
fn pid_lists_processes_not_kthreads(t: &Test) {
    let mut v = KVec::new();
    kunit_expect!(t, kernel_ext::pid::processes_from(1, 1, &mut v).is_ok());
    kunit_expect!(t, v.first() == Some(&1));
    kunit_expect!(t, kernel_ext::pid::is_process(1));
    kunit_expect!(t, !kernel_ext::pid::is_process(2));
    kunit_expect!(t, !kernel_ext::pid::is_process(u32::MAX));
    let mut v = KVec::new();
    kunit_expect!(t, kernel_ext::pid::processes_from(2, 1, &mut v).is_ok());
    kunit_expect!(t, v.first().is_none_or(|&p| p > 2));
}

/// `ssi_task_read` shows /proc/1's files as /proc does; a file that does
/// not fit is refused, not cut; `ssi` and what is no file are refused.
fn task_read_shows_init(t: &Test) {
    let mut buf = [0u8; 1024];
    kunit_expect!(t, kernel_ext::hooks::task_read(1, 1, &mut buf) == Ok(5));
    kunit_expect!(t, &buf[..5] == b"init\n");
    let stat = kernel_ext::hooks::task_read(1, 3, &mut buf);
    kunit_expect!(
        t,
        matches!(stat, Ok(n) if buf[..n].starts_with(b"1 (init) "))
    );
    kunit_expect!(
        t,
        kernel_ext::hooks::task_read(1, 3, &mut buf[..4]).is_err()
    );
    // `ssi` (6) is the module's to write, and 7 is no file.
    kunit_expect!(t, kernel_ext::hooks::task_read(1, 6, &mut buf).is_err());
    kunit_expect!(t, kernel_ext::hooks::task_read(1, 7, &mut buf).is_err());
    kunit_expect!(
        t,
        kernel_ext::hooks::task_read(4_000_000, 1, &mut buf).is_err()
    );
}

/// The scheduler's probe: init is a process and kthreadd is not; init's
/// `/proc/1/stat` as the scheduler reads it; memory adds up.
fn load_samples_processes(t: &Test) {
    let mut v = KVec::new();
    let runnable = kernel_ext::load::sample(&mut v);
    kunit_expect!(t, runnable.is_ok());
    kunit_expect!(t, v.iter().any(|p| p.pid == 1 && p.threads == 1));
    kunit_expect!(t, !v.iter().any(|p| p.pid == 2));
    let mut buf = [0u8; 512];
    let st = kernel_ext::load::stat(1, &mut buf)
        .ok()
        .and_then(|n| proto::sched::TaskStat::parse(&buf[..n]));
    kunit_expect!(t, st.is_some_and(|s| s.threads == 1 && s.rss_pages > 0));
    kunit_expect!(t, kernel_ext::load::stat(u32::MAX, &mut buf).is_err());
    let (total, free) = kernel_ext::load::memory_kb();
    kunit_expect!(t, total > 0 && free > 0 && free <= total);
    let avail = kernel_ext::load::available_kb();
    kunit_expect!(t, avail > 0 && avail <= total);
}

kunit_suite!(
    name: "ssi_kernel_ext",
    cases: [
        showbuf_bounds,
        sysfs_dir_create_and_remove,
        pid_lists_processes_not_kthreads,
        task_read_shows_init,
        load_samples_processes
    ]
);

const TEST_TYPE: u32 = 0x5353_49ff;

fn rdm(t: &Test, instance: u32) -> Option<TipcSocket> {
    let s = TipcSocket::new(Kind::Rdm);
    kunit_expect!(t, s.is_ok());
    let s = s.ok()?;
    kunit_expect!(t, s.bind(TEST_TYPE, instance).is_ok());
    Some(s)
}

fn tipc_unicast_and_multicast(t: &Test) {
    let (Some(a), Some(b)) = (rdm(t, 1), rdm(t, 2)) else {
        return;
    };
    let mut buf = [0u8; 64];
    kunit_expect!(t, a.send_to(TEST_TYPE, 2, b"hello").is_ok());
    let got = b.recv_within(&mut buf, 2000);
    kunit_expect!(
        t,
        matches!(got, Ok((5, from)) if from.node != 0 && from.port != 0)
    );
    kunit_expect!(t, &buf[..5] == b"hello");
    kunit_expect!(t, a.multicast(TEST_TYPE, 2, 2, b"all").is_ok());
    kunit_expect!(t, matches!(b.recv_within(&mut buf, 2000), Ok((3, _))));
    kunit_expect!(t, &buf[..3] == b"all");
    // Nothing else is queued: the receive times out.
    kunit_expect!(t, b.recv_within(&mut buf, 200).is_err());
}

fn tipc_truncation_is_reported(t: &Test) {
    let (Some(a), Some(b)) = (rdm(t, 3), rdm(t, 4)) else {
        return;
    };
    let mut small = [0u8; 4];
    kunit_expect!(t, a.send_to(TEST_TYPE, 4, b"too long").is_ok());
    kunit_expect!(t, b.recv_within(&mut small, 2000).is_err());
}

fn tipc_topology_reports_publication(t: &Test) {
    let Ok(topo) = TipcSocket::new(Kind::SeqPacket) else {
        return kunit_expect!(t, false);
    };
    kunit_expect!(t, topo.connect_topology().is_ok());
    kunit_expect!(t, topo.subscribe(TEST_TYPE).is_ok());
    let sock = rdm(t, 9);
    let ev = topo.recv_event_within(2000);
    kunit_expect!(
        t,
        matches!(ev, Ok(e) if e.kind == EventKind::Published && e.instance == 9)
    );
    drop(sock);
    let ev = topo.recv_event_within(2000);
    kunit_expect!(
        t,
        matches!(ev, Ok(e) if e.kind == EventKind::Withdrawn && e.instance == 9)
    );
}

fn tipc_sender_is_checked_against_the_name_table(t: &Test) {
    let (Some(a), Some(b)) = (rdm(t, 5), rdm(t, 6)) else {
        return;
    };
    let Ok(c) = TipcSocket::new(Kind::Rdm) else {
        return kunit_expect!(t, false);
    };
    let mut buf = [0u8; 16];
    kunit_expect!(t, a.send_to(TEST_TYPE, 6, b"a").is_ok());
    let Ok((_, from_a)) = b.recv_within(&mut buf, 2000) else {
        return kunit_expect!(t, false);
    };
    kunit_expect!(t, c.send_to(TEST_TYPE, 6, b"c").is_ok());
    let Ok((_, from_c)) = b.recv_within(&mut buf, 2000) else {
        return kunit_expect!(t, false);
    };
    kunit_expect!(t, from_a.node == from_c.node && from_a.port != from_c.port);
    kunit_expect!(t, tipc::published_by(TEST_TYPE, 5, from_a));
    // Another instance, another socket of the same node, another type.
    kunit_expect!(t, !tipc::published_by(TEST_TYPE, 6, from_a));
    kunit_expect!(t, !tipc::published_by(TEST_TYPE, 5, from_c));
    kunit_expect!(t, !tipc::published_by(TEST_TYPE - 1, 5, from_a));
    drop(a);
    kunit_expect!(t, !tipc::published_by(TEST_TYPE, 5, from_a));
}

/// A message its receiver refuses (queue full) is dropped there by
/// default; made returnable, it comes back to its sender with TIPC's error
/// and its first bytes, which `proto::cmsg` decodes.
fn tipc_refused_messages_come_back_when_returnable(t: &Test) {
    let (Some(a), Some(b)) = (rdm(t, 7), rdm(t, 8)) else {
        return;
    };
    let (Ok(mut big), Ok(mut ctl)) = (
        KVec::from_elem(0x5au8, 60_000, GFP_KERNEL),
        KVec::from_elem(0u8, tipc::RECV_CONTROL, GFP_KERNEL),
    ) else {
        return kunit_expect!(t, false);
    };
    big[..4].copy_from_slice(b"ssi!");
    // 40 x 60 kB: more than the 2 MB that b queues at low importance.
    let flood = |a: &TipcSocket| {
        for _ in 0..40 {
            let _ = a.send_to(TEST_TYPE, 8, &big);
        }
    };
    let drain = |b: &TipcSocket, buf: &mut [u8]| {
        let mut n = 0;
        while b.recv_within(buf, 0).is_ok() {
            n += 1;
        }
        n
    };
    let mut buf = [0u8; 2048];
    flood(&a);
    let got = a.recv_with_control_within(&mut buf, &mut ctl, 300);
    kunit_expect!(t, got.is_err());
    let mut rx = KVec::from_elem(0u8, 60_000, GFP_KERNEL).unwrap_or_default();
    let first = drain(&b, &mut rx);
    kunit_expect!(t, first > 0 && first < 40);
    kunit_expect!(t, a.set_returnable(true).is_ok());
    flood(&a);
    let mut back = 0;
    while let Ok(r) = a.recv_with_control_within(&mut buf, &mut ctl, 300) {
        let Some(ret) = proto::cmsg::returned(&ctl[..r.control]) else {
            return kunit_expect!(t, false);
        };
        kunit_expect!(t, r.len == 0 && ret.error == tipc::ERR_OVERLOAD);
        kunit_expect!(t, ret.data.len() == 1024 && ret.data.starts_with(b"ssi!"));
        back += 1;
    }
    let second = drain(&b, &mut rx);
    kunit_expect!(t, back > 0 && back + second == 40);
}

fn tipc_tolerance_range(t: &Test) {
    kunit_expect!(t, kernel_ext::tipc::set_link_tolerance(10).is_err());
    kunit_expect!(t, kernel_ext::tipc::set_link_tolerance(30_001).is_err());
    // The harness enabled a bearer, and ssi.ko set 800 ms (4/5 of 1000).
    kunit_expect!(t, kernel_ext::tipc::set_link_tolerance(800).is_ok());
}

fn kthread_runs_and_stops(t: &Test) {
    let Ok(flag) = Arc::new(AtomicBool::new(false), GFP_KERNEL) else {
        return kunit_expect!(t, false);
    };
    let f = flag.clone();
    let th = KThread::spawn(c_str!("ssi_kunit"), move || f.store(true, Ordering::SeqCst));
    kunit_expect!(t, th.is_ok());
    for _ in 0..200 {
        if flag.load(Ordering::SeqCst) {
            break;
        }
        kernel_ext::kthread::sleep_ms(10);
    }
    kunit_expect!(t, flag.load(Ordering::SeqCst));
    drop(th);
    // A thread stopped before it ran frees its body without running it.
    let Ok(ran) = Arc::new(AtomicBool::new(false), GFP_KERNEL) else {
        return kunit_expect!(t, false);
    };
    let r = ran.clone();
    drop(KThread::spawn(c_str!("ssi_kunit"), move || {
        r.store(true, Ordering::SeqCst)
    }));
    // Run or not, the body (and its Arc clone) is gone after drop.
    kunit_expect!(t, ran.into_unique_or_drop().is_some());
}

kunit_suite!(name: "ssi_transport", cases: [
    tipc_unicast_and_multicast,
    tipc_truncation_is_reported,
    tipc_topology_reports_publication,
    tipc_sender_is_checked_against_the_name_table,
    tipc_refused_messages_come_back_when_returnable,
    tipc_tolerance_range,
    kthread_runs_and_stops,
]);

fn core_reports_node_id(t: &Test) {
    // The harness always loads ssi.ko with node_id=K.
    kunit_expect!(t, ssi_api::node_id().is_some());
}

/// Answers with the request reversed; fails requests starting with 0xff.
struct Reverse;

impl ssi_api::Service for Reverse {
    fn handle(&self, _src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        if req.first() == Some(&0xff) {
            return Err(EPERM);
        }
        let out = resp.get_mut(..req.len()).ok_or(EINVAL)?;
        for (o, i) in out.iter_mut().zip(req.iter().rev()) {
            *o = *i;
        }
        Ok(req.len())
    }
}

static REVERSE: Reverse = Reverse;
const TEST_SERVICE: u16 = 999;

fn rpc_across_modules(t: &Test) {
    let Some(me) = ssi_api::node_id() else {
        return kunit_expect!(t, false);
    };
    let me = me.get() as u8;
    let reg = ssi_api::register_service(TEST_SERVICE, &REVERSE);
    kunit_expect!(t, reg.is_ok());
    let mut resp = [0u8; 16];
    // A call to this very node goes through TIPC and the receive thread.
    let n = ssi_api::call(me, TEST_SERVICE, b"abc", &mut resp, 2000);
    kunit_expect!(t, n == Ok(3));
    kunit_expect!(t, &resp[..3] == b"cba");
    kunit_expect!(
        t,
        ssi_api::call(me, TEST_SERVICE, &[0xff], &mut resp, 2000) == Err(EPERM)
    );
    // A second registration of the same id is refused.
    kunit_expect!(
        t,
        ssi_api::register_service(TEST_SERVICE, &REVERSE).err() == Some(EEXIST)
    );
    // Core ids (< 256) are not for modules.
    kunit_expect!(
        t,
        ssi_api::register_service(1, &REVERSE).err() == Some(EINVAL)
    );
    drop(reg);
}

/// Counts the chunks and bytes it is sent; refuses a chunk of 0xff.
struct Count;

static COUNTED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl ssi_api::Service for Count {
    fn handle(&self, _src: u8, req: &[u8], _resp: &mut [u8]) -> Result<usize> {
        if req.first() == Some(&0xff) {
            return Err(EPERM);
        }
        COUNTED.fetch_add(req.len() as u64, Ordering::Relaxed);
        Ok(0)
    }
}

static COUNT: Count = Count;

/// A windowed bulk transfer to this node: every byte arrives; a refused
/// chunk stops it with the handler's error.
fn send_window_delivers_every_chunk(t: &Test) {
    let Some(me) = ssi_api::node_id() else {
        return kunit_expect!(t, false);
    };
    let me = me.get() as u8;
    let reg = ssi_api::register_service(TEST_SERVICE + 2, &COUNT);
    kunit_expect!(t, reg.is_ok());
    COUNTED.store(0, Ordering::Relaxed);
    let mut left = 100u32;
    let sent = ssi_api::send_window(me, TEST_SERVICE + 2, 8, 2000, |buf| {
        if left == 0 {
            return Ok(0);
        }
        left -= 1;
        buf[..1000].fill(1);
        Ok(1000)
    });
    kunit_expect!(t, sent == Ok(100_000));
    kunit_expect!(t, COUNTED.load(Ordering::Relaxed) == 100_000);
    let mut first = true;
    let r = ssi_api::send_window(me, TEST_SERVICE + 2, 8, 2000, |buf| {
        if !first {
            return Ok(0);
        }
        first = false;
        buf[0] = 0xff;
        Ok(1)
    });
    kunit_expect!(t, r == Err(EPERM));
    // A source that fails aborts the transfer with its error.
    let r = ssi_api::send_window(me, TEST_SERVICE + 2, 8, 2000, |_| Err(ENOSPC));
    kunit_expect!(t, r == Err(ENOSPC));
    drop(reg);
}

const DEFERRED_SERVICE: u16 = 998;

/// A deferred service answers from the worker thread like any other.
fn deferred_service_answers(t: &Test) {
    let Some(me) = ssi_api::node_id() else {
        return kunit_expect!(t, false);
    };
    let me = me.get() as u8;
    let reg = ssi_api::register_deferred_service(DEFERRED_SERVICE, &REVERSE);
    kunit_expect!(t, reg.is_ok());
    let mut resp = [0u8; 16];
    let n = ssi_api::call(me, DEFERRED_SERVICE, b"xyz", &mut resp, 2000);
    kunit_expect!(t, n == Ok(3) && &resp[..3] == b"zyx");
    kunit_expect!(
        t,
        ssi_api::call(me, DEFERRED_SERVICE, &[0xff], &mut resp, 2000) == Err(EPERM)
    );
    drop(reg);
    kunit_expect!(
        t,
        ssi_api::call(me, DEFERRED_SERVICE, b"xyz", &mut resp, 2000).is_err()
    );
}

fn unregistered_service_is_refused(t: &Test) {
    let Some(me) = ssi_api::node_id() else {
        return kunit_expect!(t, false);
    };
    let reg = ssi_api::register_service(TEST_SERVICE + 1, &REVERSE);
    kunit_expect!(t, reg.is_ok());
    drop(reg);
    let mut resp = [0u8; 4];
    let r = ssi_api::call(me.get() as u8, TEST_SERVICE + 1, b"x", &mut resp, 2000);
    kunit_expect!(t, r.is_err());
}

fn members_include_this_node(t: &Test) {
    let (Some(me), Ok(m)) = (ssi_api::node_id(), ssi_api::members()) else {
        return kunit_expect!(t, false);
    };
    let me = me.get() as usize;
    kunit_expect!(t, m[me / 8] & (1 << (me % 8)) != 0);
}

struct NoMigrator;

impl ssi_api::Migrator for NoMigrator {
    fn migrate(&self, _pid: u32, _node: u8) -> Result {
        Err(EPERM)
    }
}

static NO_MIGRATOR: NoMigrator = NoMigrator;

/// The ghost module offers its migration: another offer is refused, a
/// migration of init to this very node reaches ghost and is refused there
/// (not `ENOSYS`), and so is the placement of the caller (pid 0), a
/// kernel thread; init is no stub.
fn migrator_offered_by_ghost(t: &Test) {
    let Some(me) = ssi_api::node_id() else {
        return kunit_expect!(t, false);
    };
    kunit_expect!(
        t,
        ssi_api::register_migrator(&NO_MIGRATOR).err() == Some(EBUSY)
    );
    kunit_expect!(t, ssi_api::migrate(1, me.get() as u8) == Err(EINVAL));
    kunit_expect!(t, ssi_api::migrate(0, 2) == Err(EINVAL));
    kunit_expect!(t, ssi_api::task_at(1).is_none());
}

kunit_suite!(name: "ssi_api", cases: [
    core_reports_node_id,
    migrator_offered_by_ghost,
    rpc_across_modules,
    send_window_delivers_every_chunk,
    deferred_service_answers,
    unregistered_service_is_refused,
    members_include_this_node,
]);

fn dev_requests_roundtrip(t: &Test) {
    use proto::dev::{Access, Dev, Request};
    let mut buf = [0u8; 16];
    for r in [
        Request::Open {
            dev: Dev::Console,
            access: Access::Write,
            uid: 1000,
        },
        Request::Read {
            handle: 0x0102_0304,
            count: 60_000,
        },
        Request::Write {
            handle: 9,
            data: b"MARK\n",
        },
        Request::Close { handle: 9 },
    ] {
        let n = r.encode(&mut buf);
        kunit_expect!(t, n.is_some());
        kunit_expect!(t, Request::decode(&buf[..n.unwrap_or(0)]) == Some(r));
    }
    // A count over the limit, a bad device, a short close: refused.
    kunit_expect!(
        t,
        Request::decode(&[2, 1, 0, 0, 0, 0x61, 0xea, 0, 0]).is_none()
    );
    kunit_expect!(t, Request::decode(&[1, 4, 0, 0, 0, 0, 0]).is_none());
    kunit_expect!(t, Request::decode(&[1, 1, 0]).is_none());
    kunit_expect!(t, Request::decode(&[4, 1, 0, 0]).is_none());
}

fn dev_handles_belong_to_their_node(t: &Test) {
    use proto::dev::{HandleError, Handles};
    let mut h: Handles<u32, 4> = Handles::new(2);
    let a = h.insert(2, 20);
    kunit_expect!(t, a.is_ok());
    let a = a.unwrap_or(0);
    kunit_expect!(t, h.get_mut(3, a) == Err(HandleError::Unknown));
    kunit_expect!(t, h.get_mut(2, a ^ 0x100) == Err(HandleError::Unknown));
    kunit_expect!(t, h.insert(2, 21).is_ok());
    kunit_expect!(t, h.insert(2, 22) == Err(22));
    kunit_expect!(t, h.remove_any(2).is_some());
    kunit_expect!(t, h.remove_any(2).is_some());
    kunit_expect!(t, h.remove_any(2).is_none());
}

/// The kernel-side file reads /dev/zero and writes /dev/null, which
/// `kernel_read`/`kernel_write` refuse.
fn file_reads_zero_writes_null(t: &Test) {
    use kernel::bindings;
    use kernel_ext::file::File;
    let mut buf = [0xffu8; 100];
    match File::open(
        c_str!("/dev/zero"),
        bindings::O_RDONLY | bindings::O_NONBLOCK,
    ) {
        Ok(mut f) => {
            kunit_expect!(t, f.read(&mut buf) == Ok(100));
            kunit_expect!(t, buf.iter().all(|&b| b == 0));
        }
        Err(_) => kunit_expect!(t, false),
    }
    match File::open(c_str!("/dev/null"), bindings::O_WRONLY) {
        Ok(mut f) => kunit_expect!(t, f.write(&buf) == Ok(100)),
        Err(_) => kunit_expect!(t, false),
    }
    kunit_expect!(
        t,
        File::open(c_str!("/dev/ssi-no-such"), bindings::O_RDONLY).is_err()
    );
}

kunit_suite!(name: "ssi_dev", cases: [
    dev_requests_roundtrip,
    dev_handles_belong_to_their_node,
    file_reads_zero_writes_null,
]);

/// The checkpoint wrappers on init (PID 1): a user process of one thread
/// whose areas include a file's and the vDSO.
fn ghost_walks_init(t: &Test) {
    use kernel_ext::{mm, task::TaskRef};
    let Ok(init) = TaskRef::get(1) else {
        kunit_expect!(t, false);
        return;
    };
    let i = init.info();
    kunit_expect!(
        t,
        i.threads == 1 && !i.kthread && !i.is_current && !i.stopped
    );
    let _ = init.odd_fd(0);
    let Some(m) = mm::Mm::of(&init) else {
        kunit_expect!(t, false);
        return;
    };
    let mut path = [0u8; 256];
    let (mut areas, mut files, mut vdso, mut addr, mut sorted) = (0, 0, 0, 0u64, true);
    while let Ok(Some(v)) = m.vma_from(addr, &mut path) {
        sorted &= v.start >= addr && v.end > v.start;
        areas += 1;
        if v.kind & mm::KIND_FILE != 0 && path[0] == b'/' {
            files += 1;
        }
        if v.kind & mm::KIND_VDSO != 0 {
            vdso += 1;
        }
        addr = v.end;
    }
    kunit_expect!(t, sorted && areas >= 3 && files >= 1 && vdso == 1);
    let l = m.layout();
    kunit_expect!(t, l.start_brk <= l.brk && l.start_stack > l.start_brk);
}

/// Kernel threads are refused, unknown PIDs are ESRCH; the FPU image has
/// the XSAVE size.
fn ghost_refusals_and_fpu_size(t: &Test) {
    use kernel_ext::{regset, task::TaskRef};
    match TaskRef::get(2) {
        Ok(k) => kunit_expect!(t, k.info().kthread),
        Err(_) => kunit_expect!(t, false),
    }
    kunit_expect!(t, TaskRef::get(0x7f_ffff).err() == Some(ESRCH));
    let n = regset::fpu_size();
    kunit_expect!(t, (576..=65536).contains(&n));
}

/// Remote-file requests decode as encoded; malformed ones are refused.
fn rfile_requests_roundtrip(t: &Test) {
    use proto::rfile::{Request, Target, MAX_IO};
    let tg = Target {
        uid: 0,
        gid: 0,
        privileged: true,
        pid: 16390,
        fd: 1,
        cookie: 7,
    };
    let mut buf = [0u8; 64];
    for r in [
        Request::Info(tg),
        Request::Read {
            target: tg,
            count: MAX_IO as u32,
            pos: None,
        },
        Request::Write {
            target: tg,
            pos: Some(3),
            data: b"x",
        },
        Request::Seek {
            target: tg,
            offset: 0,
            whence: 2,
        },
    ] {
        let n = r.encode(&mut buf).unwrap_or(0);
        kunit_expect!(t, n > 0 && Request::decode(&buf[..n]) == Some(r));
        kunit_expect!(t, Request::decode(&buf[..n - 1]).is_none() || n > 40);
    }
    kunit_expect!(t, Request::decode(&[]).is_none());
    kunit_expect!(t, Request::decode(&[9; 40]).is_none());
}

/// The server's view of a process's files: init's fd 0 (the console), its
/// owner and root may use it, another uid and any caller of a kernel
/// thread's may not.
fn rfile_task_files_and_rights(t: &Test) {
    use kernel_ext::{file, task::TaskRef};
    let Ok(init) = TaskRef::get(1) else {
        return kunit_expect!(t, false);
    };
    match init.next_file(0) {
        Some((fd, f)) => {
            let mut path = [0u8; 64];
            let n = f.path(&mut path).unwrap_or(0);
            kunit_expect!(t, fd == 0 && f.mode() & file::S_IFMT == file::S_IFCHR);
            kunit_expect!(t, n > 1 && path[0] == b'/');
            kunit_expect!(t, file::FdFile::of_task(&init, fd).is_ok());
        }
        None => kunit_expect!(t, false),
    }
    kunit_expect!(t, file::FdFile::of_task(&init, 1000).err() == Some(EBADF));
    kunit_expect!(t, init.may_attach(0, 0, false));
    kunit_expect!(t, !init.may_attach(1000, 1000, false));
    kunit_expect!(t, init.may_attach(1000, 1000, true));
    if let Ok(k) = TaskRef::get(2) {
        kunit_expect!(t, !k.may_attach(0, 0, true));
    }
}

/// An in-memory stream reads back what was appended, across its buffers,
/// and refuses to grow past its limit.
fn ghost_stream_in_memory(t: &Test) {
    use proto::ghost::Source;
    use stream::{Chunks, Stream, StreamSource, CHUNK};
    let mut c = Chunks::new(3 * CHUNK as u64);
    let mut ok = true;
    // Appends of odd sizes straddle the buffers.
    let mut n = 0u32;
    while (c.len() as usize) + 1000 <= 2 * CHUNK + 1000 {
        let piece: [u8; 1000] = core::array::from_fn(|i| (n as usize + i) as u8);
        ok &= c.append(&piece).is_ok();
        n += 1000;
    }
    kunit_expect!(t, ok && c.bufs().len() == 3 && c.bufs()[0].len() == CHUNK);
    let mut r = StreamSource::new(Stream::Mem(&c));
    let mut b = [0u8; 777];
    let mut pos = 0usize;
    while pos + b.len() <= c.len() as usize {
        ok &= r.fill(&mut b).is_ok();
        ok &= b.iter().enumerate().all(|(i, &x)| x == (pos + i) as u8);
        pos += b.len();
    }
    kunit_expect!(t, ok && r.pos as usize == pos);
    kunit_expect!(t, r.at_end() == Ok(false));
    kunit_expect!(t, r.fill(&mut b).is_err());
    let mut r = StreamSource::new(Stream::Mem(&c));
    kunit_expect!(
        t,
        r.skip(c.len() as usize).is_ok() && r.at_end() == Ok(true)
    );
    let mut big = Chunks::new(10);
    kunit_expect!(
        t,
        big.append(&[0u8; 11]).err() == Some(EFBIG) && big.len() == 0
    );
    kunit_expect!(
        t,
        big.push_buf(&[1u8; 10]).is_ok() && big.push_buf(&[1]).is_err()
    );
}

/// The vector helpers and the migration bit of a process.
fn ghost_vec_and_may_migrate(t: &Test) {
    use kernel_ext::{migrate, task, task::TaskRef, vec};
    let mut v = KVec::new();
    for i in 0..10u32 {
        let _ = v.push(i, GFP_KERNEL);
    }
    vec::retain(&mut v, |&x| x % 3 != 0);
    kunit_expect!(
        t,
        v.len() == 6 && [1, 2, 4, 5, 7, 8].iter().all(|x| v.contains(x))
    );
    kunit_expect!(
        t,
        vec::take_first(&mut v, |&x| x == 7) == Some(7) && v.len() == 5
    );
    kunit_expect!(t, vec::swap_remove(&mut v, 5).is_none());
    let Ok(me) = TaskRef::get(task::current_pid()) else {
        kunit_expect!(t, false);
        return;
    };
    kunit_expect!(t, me.may_migrate());
    me.set_may_migrate(false);
    kunit_expect!(t, !me.may_migrate());
    me.set_may_migrate(true);
    kunit_expect!(t, me.may_migrate());
    kunit_expect!(t, migrate::signal(0x7f_ffff, 10) == Err(ESRCH));
}

/// The directories, limits and pending signals a stream carries, read from
/// this (kernel) thread: absolute paths, directories looked up or refused,
/// limits checked (never set) under setrlimit()'s rules.
fn ghost_dirs_limits_and_pending(t: &Test) {
    use kernel_ext::{fs, rlimit, signal};
    let mut b = [0u8; 64];
    for w in [fs::Which::Pwd, fs::Which::Root] {
        let n = fs::path(w, &mut b).unwrap_or(0);
        kunit_expect!(t, n >= 1 && b[0] == b'/' && b[n] == 0);
    }
    kunit_expect!(t, fs::path(fs::Which::Pwd, &mut []).is_err());
    kunit_expect!(t, fs::Dir::lookup(c_str!("/")).is_ok());
    kunit_expect!(
        t,
        fs::Dir::lookup(c_str!("/no/such/dir")).err() == Some(ENOENT)
    );
    kunit_expect!(
        t,
        fs::Dir::lookup(c_str!("/proc/version")).err() == Some(ENOTDIR)
    );
    let r = rlimit::get();
    kunit_expect!(t, r.iter().all(|l| l.cur <= l.max));
    kunit_expect!(t, rlimit::set(&r, true).is_ok());
    let mut bad = r;
    bad[rlimit::NOFILE].cur = 10;
    bad[rlimit::NOFILE].max = 5;
    kunit_expect!(
        t,
        rlimit::set(&bad, true).err() == Some((EINVAL, rlimit::NOFILE as u32))
    );
    bad[rlimit::NOFILE].cur = 1;
    bad[rlimit::NOFILE].max = u64::MAX;
    kunit_expect!(
        t,
        rlimit::set(&bad, true).err() == Some((EPERM, rlimit::NOFILE as u32))
    );
    let same = rlimit::get()
        .iter()
        .zip(r.iter())
        .all(|(a, b)| (a.cur, a.max) == (b.cur, b.max));
    kunit_expect!(t, same);
    let (own, shared) = signal::pending();
    kunit_expect!(t, (own | shared) & proto::ghost::SIGKILL_BIT == 0);
}

kunit_suite!(name: "ssi_ghost", cases: [
    ghost_walks_init,
    ghost_refusals_and_fpu_size,
    rfile_requests_roundtrip,
    rfile_task_files_and_rights,
    ghost_stream_in_memory,
    ghost_vec_and_may_migrate,
    ghost_dirs_limits_and_pending,
]);
