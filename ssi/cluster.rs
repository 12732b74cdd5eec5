// SPDX-License-Identifier: GPL-2.0-only
//! The node's view of the cluster: membership, peers, pending calls.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::ffi::c_void;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::Ktime,
};

use crate::header;
use crate::kernel_ext::errno;
use crate::kernel_ext::tipc::{Kind as SockKind, SocketAddr, TipcSocket};
use crate::proto::membership::{Membership, NodeSet, Out, View, VIEW_LEN};
use crate::proto::node_id::NodeId;
use crate::proto::wire::{self, Header, Kind};
use crate::stats::Stats;

/// TIPC service type of ssi-rs; the instance is the node id. The kernel
/// defines it: only kernel sockets may bind it (patch 0022).
pub(crate) const TIPC_TYPE: u32 = kernel::bindings::TIPC_SSI_SRV;
/// TIPC importance of everything ssi-rs sends: receivers queue 16 MB of
/// it (2 MB at the default importance) before refusing more (core.rst,
/// "Flow control").
pub(crate) const IMPORTANCE: u32 = kernel::bindings::TIPC_CRITICAL_IMPORTANCE;
/// The heartbeat, a one-way message every member multicasts (payload:
/// its CPU count, `u16`); the RPC services' ids are their files' own
/// (`rpc::FIRST_MODULE_SERVICE` and up: the modules').
pub(crate) const SERVICE_HEARTBEAT: u16 = 2;

/// What this node knows of a peer.
#[derive(Clone, Copy, Default)]
pub(crate) struct Peer {
    /// The peer's ssi socket, the only one that speaks for it (node 0:
    /// never seen).
    pub(crate) sock: SocketAddr,
    /// IPv4 address given by `add` (0: none).
    pub(crate) addr: [u8; 4],
    pub(crate) added: bool,
    /// ktime (ns) of the last message or event from it; 0: never.
    pub(crate) last_heard: i64,
    /// CPUs online there, from its heartbeats.
    pub(crate) cpus: u16,
}

/// Concurrent RPC calls per node.
pub(crate) const MAX_PENDING: usize = 64;

/// A call waiting for its response.
pub(crate) struct Pending {
    pub(crate) id: u64,
    /// The response (status, payload) once it arrived.
    pub(crate) resp: Option<(u16, KVec<u8>)>,
}

pub(crate) struct State {
    pub(crate) membership: Membership,
    /// Indexed by node id; 256 entries (on the heap: kernel stacks are small).
    pub(crate) peers: KVec<Peer>,
    /// Calls waiting for a response; at most `MAX_PENDING` at once.
    pub(crate) pending: KVec<Option<Pending>>,
    pub(crate) failure_timeout_ms: u32,
    /// Removed from the cluster: ignores the others until `add` of itself.
    pub(crate) detached: bool,
    pub(crate) ping_report: [u8; 200],
    /// What the sink received, per sender.
    pub(crate) sink: KVec<crate::bench::Sink>,
    /// Sink messages of this node that came back refused.
    pub(crate) sink_returned: u64,
    pub(crate) ping_report_len: usize,
}

/// A module's RPC handler: `ssi_api.h`'s `ssi_handler_t`, not null.
pub(crate) type Handler =
    unsafe extern "C" fn(*mut c_void, u8, *const u8, usize, *mut u8, usize) -> isize;
/// A module's membership listener: `ssi_listener_t`, not null.
pub(crate) type Listener = unsafe extern "C" fn(*mut c_void, u8, bool);

// The header's types are these, or null: anything else fails the build.
const _: fn(header::ssi_handler_t) -> Option<Handler> = |h| h;
const _: fn(header::ssi_listener_t) -> Option<Listener> = |l| l;

/// A built-in service's handler: answers `req` from node `src` into
/// `resp` (a one-way message's answer is dropped).
pub(crate) type BuiltinHandler = fn(&Core, u8, &[u8], &mut [u8]) -> Result<usize>;

/// A built-in service's hook for its one-way message to `dst` that came
/// back refused (`rpc::Mode::on_returned`).
pub(crate) type BuiltinReturned = fn(&Core, u8);

/// A built-in membership listener: `node` joined (`up`) or left the view.
pub(crate) type BuiltinListener = fn(&Core, u8, bool);

/// Who serves a registered service: another module through the C ABI, or
/// a built-in service of `ssi.ko` (`globalproc`, `devices`, `tasks`,
/// `bench`). Both live in the same table.
#[derive(Clone, Copy)]
pub(crate) enum ServiceFn {
    Module { handler: Handler, ctx: usize },
    Builtin(BuiltinHandler),
}

impl ServiceFn {
    /// Runs the handler; the length of its answer in `resp`.
    ///
    /// # Safety
    ///
    /// A `Module` handler and its `ctx` must be valid: registered through
    /// `ssi_rpc_register*`, whose contract keeps them so until
    /// unregistered, and not unregistered before this returns.
    pub(crate) unsafe fn call(
        &self,
        core: &Core,
        src: u8,
        req: &[u8],
        resp: &mut [u8],
    ) -> Result<usize> {
        let n = match *self {
            ServiceFn::Builtin(f) => return f(core, src, req, resp),
            // SAFETY: `handler` and `ctx` are valid (this function's
            // contract); the buffers are valid for their lengths.
            ServiceFn::Module { handler, ctx } => unsafe {
                handler(
                    ctx as *mut c_void,
                    src,
                    req.as_ptr(),
                    req.len(),
                    resp.as_mut_ptr(),
                    resp.len(),
                )
            },
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= resp.len())
            .ok_or(EINVAL)
    }
}

/// An entry of the service table (`rpc::register`).
pub(crate) struct ServiceEntry {
    pub(crate) service: u16,
    pub(crate) handler: ServiceFn,
    /// Served on the worker thread (`ssi_rpc_register_deferred`).
    pub(crate) deferred: bool,
    /// Served on the second worker thread, the lane
    /// (`ssi_rpc_register_lane`; `deferred` is set too).
    pub(crate) lane: bool,
    /// It takes requests, one-way messages: what it does not take is
    /// refused as an unknown service.
    pub(crate) requests: bool,
    pub(crate) oneway: bool,
    /// Told of its one-way messages that came back refused.
    pub(crate) returned: Option<BuiltinReturned>,
}

/// Who hears of membership changes.
#[derive(Clone, Copy)]
pub(crate) enum ListenerFn {
    Module { listener: Listener, ctx: usize },
    Builtin(BuiltinListener),
}

/// An entry of the listener table (`ssi_membership_register`, or a
/// built-in one).
pub(crate) struct ListenerEntry {
    pub(crate) listener: ListenerFn,
}

#[pin_data]
pub(crate) struct Core {
    pub(crate) me: NodeId,
    #[pin]
    pub(crate) state: Mutex<State>,
    #[pin]
    pub(crate) replies: CondVar,
    /// Held while a handler runs, so that unregistering waits for it.
    #[pin]
    pub(crate) services: Mutex<KVec<ServiceEntry>>,
    /// Held while a deferred handler runs on the worker thread (without
    /// `services`, so that the receive thread never waits for it).
    #[pin]
    pub(crate) deferred_run: Mutex<()>,
    /// Held while listeners run, likewise.
    #[pin]
    pub(crate) listeners: Mutex<KVec<ListenerEntry>>,
    /// The module that carries pipes across migrations:
    /// `(ssi_stream_ops *, ctx)` as addresses; held while its operations
    /// run, so that unregistering waits for them.
    #[pin]
    pub(crate) streams: Mutex<Option<(usize, usize)>>,
    /// Read-ahead descriptions of other nodes' processes (tasks.rs).
    #[pin]
    pub(crate) task_cache: Mutex<crate::tasks::TaskCache>,
    /// Processes of this node that run elsewhere (their stub is here):
    /// `(pid, node)`, told by the ghost module.
    #[pin]
    pub(crate) moved: Mutex<KVec<(u32, u8)>>,
    /// The migration the ghost module offers the other modules.
    #[pin]
    pub(crate) migrator: crate::migrator::Slot<crate::migrator::Migrator>,
    /// The drain the scheduler runs before a node retires.
    #[pin]
    pub(crate) drainer: crate::migrator::Slot<crate::migrator::Drainer>,
    /// The ghost module's record of local processes' migrations.
    #[pin]
    pub(crate) trails: crate::migrator::Slot<crate::migrator::Trail>,
    /// Requests for the worker thread (worker.rs), and its wake-up.
    #[pin]
    pub(crate) jobs: Mutex<crate::worker::Queue>,
    #[pin]
    pub(crate) jobs_ready: CondVar,
    /// The second worker thread's requests (worker.rs).
    #[pin]
    pub(crate) lane: crate::worker::Lane,
    /// One-way windows and credits (flow.rs).
    #[pin]
    pub(crate) flows: crate::flow::Flows,
    pub(crate) stats: Stats,
    /// Remote devices: files served to peers, per-node generations.
    #[pin]
    pub(crate) devices: crate::devices::Shared,
    pub(crate) next_id: AtomicU64,
    pub(crate) closing: AtomicBool,
    /// `global_proc`: /proc system files show the whole cluster.
    pub(crate) global_proc: AtomicBool,
    /// Bound to (TIPC_TYPE, me): sends everything, receives everything.
    pub(crate) sock: TipcSocket,
    /// Connection to the topology service, subscribed to TIPC_TYPE.
    pub(crate) topo: TipcSocket,
}

/// This node's CPU count, which its heartbeats carry.
pub(crate) fn local_cpus() -> u16 {
    u16::try_from(crate::kernel_ext::pid::online_cpus()).unwrap_or(u16::MAX)
}

pub(crate) fn now_ns() -> i64 {
    Ktime::ktime_get().to_ns()
}

impl Core {
    pub(crate) fn new(me: NodeId) -> Result<Arc<Self>> {
        let sock = TipcSocket::new(SockKind::Rdm)?;
        sock.set_importance(IMPORTANCE)?;
        // A refused message comes back (transport.rs counts it, fails its
        // call): TIPC drops it silently at the receiver by default.
        sock.set_returnable(true)?;
        // Views and heartbeats must reach a peer that just rebooted.
        sock.set_replicast()?;
        sock.bind(TIPC_TYPE, me.get())?;
        let topo = TipcSocket::new(SockKind::SeqPacket)?;
        topo.connect_topology()?;
        topo.subscribe(TIPC_TYPE)?;
        let mut pending = KVec::with_capacity(MAX_PENDING, GFP_KERNEL)?;
        for _ in 0..MAX_PENDING {
            pending.push(None, GFP_KERNEL)?;
        }
        let task_cache = crate::tasks::TaskCache::new()?;
        let jobs = crate::worker::Queue::new()?;
        let lane_jobs = crate::worker::Queue::new()?;
        let flows = crate::flow::Flows::new()?;
        let state = State {
            membership: Membership::new(me.get() as u8),
            peers: KVec::from_elem(Peer::default(), 256, GFP_KERNEL)?,
            pending,
            failure_timeout_ms: 1000,
            detached: false,
            ping_report: [0; 200],
            sink: KVec::from_elem(crate::bench::Sink::default(), 256, GFP_KERNEL)?,
            sink_returned: 0,
            ping_report_len: 0,
        };
        Arc::pin_init(
            pin_init!(Core {
                me,
                state <- new_mutex!(state),
                replies <- new_condvar!(),
                services <- new_mutex!(KVec::new()),
                deferred_run <- new_mutex!(()),
                listeners <- new_mutex!(KVec::new()),
                streams <- new_mutex!(None),
                task_cache <- new_mutex!(task_cache),
                moved <- new_mutex!(KVec::new()),
                migrator <- crate::migrator::Slot::new(),
                drainer <- crate::migrator::Slot::new(),
                trails <- crate::migrator::Slot::new(),
                jobs <- new_mutex!(jobs),
                jobs_ready <- new_condvar!(),
                lane <- crate::worker::Lane::new(lane_jobs),
                flows <- flows,
                stats: Stats::new(),
                devices <- crate::devices::Shared::new(),
                next_id: AtomicU64::new(1),
                closing: AtomicBool::new(false),
                global_proc: AtomicBool::new(true),
                sock,
                topo,
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn me(&self) -> u8 {
        self.me.get() as u8
    }

    /// Wakes the receive threads for good.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.sock.shutdown();
        self.topo.shutdown();
        self.replies.notify_all();
        self.jobs_ready.notify_all();
        self.lane.ready.notify_all();
        self.flows.wake();
    }

    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Encodes and sends one message to `dst` (0: every node).
    pub(crate) fn send(
        &self,
        kind: Kind,
        service: u16,
        dst: u8,
        id: u64,
        status: u16,
        payload: &[u8],
    ) -> Result {
        let header = Header {
            kind,
            service,
            src: self.me(),
            dst,
            status,
            id,
        };
        let head = wire::encode_header(&header, payload.len()).ok_or_else(errno::emsgsize)?;
        let parts: [&[u8]; 2] = [&head, payload];
        let res = if dst == 0 {
            self.sock.multicast_parts(TIPC_TYPE, 1, 255, &parts)
        } else {
            self.sock.send_parts_to(TIPC_TYPE, u32::from(dst), &parts)
        };
        match res {
            Ok(()) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Carries out what the membership state machine asked for.
    pub(crate) fn act(&self, out: Out) {
        // Best effort: a lost view is superseded by the next one, and a
        // node that misses one asks again when its coordinator changes.
        let _ = match out {
            Out::Idle => Ok(()),
            Out::Propose(v) => self.send(Kind::View, 0, 0, v.epoch, 0, &v.members_bytes()),
            Out::Ask(c) => self.send(Kind::Ask, 0, c, 0, 0, &[]),
        };
    }

    /// Applies `f` to the membership and sends what it asks for.
    /// A detached node keeps tracking peers but sends nothing.
    /// Listeners registered by other modules hear of every view change.
    pub(crate) fn membership<F: FnOnce(&mut State) -> Out>(&self, f: F) {
        let (out, before, after) = {
            let mut s = self.state.lock();
            let before = s.membership.view().members;
            let out = f(&mut s);
            let after = s.membership.view().members;
            (if s.detached { Out::Idle } else { out }, before, after)
        };
        self.act(out);
        if before != after {
            // Bulk senders stop waiting for a node that left (one-way
            // senders: flow.rs's listener).
            self.replies.notify_all();
            self.notify(&before, &after);
        }
    }

    fn notify(&self, before: &NodeSet, after: &NodeSet) {
        let listeners = self.listeners.lock();
        for (set, up) in [(after.minus(before), true), (before.minus(after), false)] {
            for node in set.iter() {
                for l in listeners.iter() {
                    match l.listener {
                        ListenerFn::Builtin(f) => f(self, node, up),
                        // SAFETY: registered through `ssi_membership_register`,
                        // whose contract keeps `listener` and `ctx` valid
                        // until unregistered; unregistering takes this lock.
                        ListenerFn::Module { listener, ctx } => unsafe {
                            listener(ctx as *mut c_void, node, up)
                        },
                    }
                }
            }
        }
    }

    /// Registers a built-in listener, called (as the modules' are) for
    /// every node that joins or leaves the view, before the modules'.
    pub(crate) fn listen(&self, f: BuiltinListener) -> Result {
        let entry = ListenerEntry {
            listener: ListenerFn::Builtin(f),
        };
        self.listeners.lock().push(entry, GFP_KERNEL)?;
        Ok(())
    }

    /// The heartbeat of `src`: its CPU count (older nodes send nothing).
    pub(crate) fn heard(&self, src: u8, payload: &[u8]) {
        if let [lo, hi] = *payload {
            self.state.lock().peers[usize::from(src)].cpus = u16::from_le_bytes([lo, hi]);
        }
    }

    /// Leaves the cluster (sysfs `remove` of this node, or a `Retire`).
    pub(crate) fn detach(&self) {
        self.membership(|s| {
            s.detached = true;
            s.membership.isolate();
            Out::Idle
        });
    }

    /// A view message from `src`.
    pub(crate) fn on_view(&self, src: u8, epoch: u64, payload: &[u8]) -> bool {
        let Ok(bytes) = <&[u8; VIEW_LEN]>::try_from(payload) else {
            return false;
        };
        let v = View {
            epoch,
            coord: src,
            members: NodeSet::from_bytes(bytes),
        };
        self.membership(|s| s.membership.on_view(src, v));
        true
    }

    /// Whether `src` may send RPC traffic: a member of the adopted view.
    pub(crate) fn is_member(&self, src: u8) -> bool {
        let s = self.state.lock();
        !s.detached && s.membership.view().members.contains(src)
    }
}
