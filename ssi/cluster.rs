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

use crate::kernel_ext::errno;
use crate::kernel_ext::tipc::{Kind as SockKind, SocketAddr, TipcSocket};
use crate::proto::membership::{Membership, NodeSet, Out, View, VIEW_LEN};
use crate::proto::node_id::NodeId;
use crate::proto::wire::{self, Header, Kind};
use crate::stats::Stats;

/// TIPC service type of ssi-rs; the instance is the node id. The kernel
/// defines it: only kernel sockets may bind it (patch 0019).
pub(crate) const TIPC_TYPE: u32 = kernel::bindings::TIPC_SSI_SRV;
/// TIPC importance of everything ssi-rs sends: receivers queue 16 MB of
/// it (2 MB at the default importance) before refusing more (core.rst,
/// "Flow control").
pub(crate) const IMPORTANCE: u32 = kernel::bindings::TIPC_CRITICAL_IMPORTANCE;
/// Built-in RPC services.
pub(crate) const SERVICE_PING: u16 = 1;
pub(crate) const SERVICE_HEARTBEAT: u16 = 2;
/// One-way messages counted and discarded (stream benchmark).
pub(crate) const SERVICE_SINK: u16 = 3;
/// Request: how many sink messages and bytes arrived from the caller, and
/// how many streamed ones out of order.
pub(crate) const SERVICE_SINK_COUNT: u16 = 4;
/// Request `[file]`: this node's own /proc system file (globalproc.rs).
pub(crate) const SERVICE_PROC_LOCAL: u16 = 5;
/// Request `PidsRequest`: this node's global PIDs (tasks.rs).
pub(crate) const SERVICE_PIDS: u16 = 6;
/// Request `[pid]`: the `/proc` files of a process this node runs.
pub(crate) const SERVICE_TASK: u16 = 7;
/// Request `Kill`: a kill(2) for a local process or process group.
pub(crate) const SERVICE_KILL: u16 = 8;
/// Remote devices: open, read, write and close a node's devices (devices.rs).
pub(crate) const SERVICE_DEV: u16 = 9;

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
    pub(crate) sink: KVec<crate::rpc::Sink>,
    /// Sink messages of this node that came back refused.
    pub(crate) sink_returned: u64,
    pub(crate) ping_report_len: usize,
}

pub(crate) use crate::abi::{Handler, Listener};

/// Registered by another module through `ssi_rpc_register`.
pub(crate) struct ServiceEntry {
    pub(crate) service: u16,
    pub(crate) handler: Handler,
    pub(crate) ctx: usize,
    /// Served on the worker thread (`ssi_rpc_register_deferred`).
    pub(crate) deferred: bool,
    /// Served on the second worker thread, the lane
    /// (`ssi_rpc_register_lane`; `deferred` is set too).
    pub(crate) lane: bool,
}

/// Registered by another module through `ssi_membership_register`.
pub(crate) struct ListenerEntry {
    pub(crate) listener: Listener,
    pub(crate) ctx: usize,
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
    /// Read-ahead descriptions of other nodes' processes (tasks.rs).
    #[pin]
    pub(crate) task_cache: Mutex<crate::tasks::TaskCache>,
    /// Processes of this node that run elsewhere (their stub is here):
    /// `(pid, node)`, told by the ghost module.
    #[pin]
    pub(crate) moved: Mutex<KVec<(u32, u8)>>,
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
            sink: KVec::from_elem(crate::rpc::Sink::default(), 256, GFP_KERNEL)?,
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
                task_cache <- new_mutex!(task_cache),
                moved <- new_mutex!(KVec::new()),
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
            // Bulk and one-way senders stop waiting for a node that left.
            self.replies.notify_all();
            self.flows.left(&before.minus(&after));
            self.notify(&before, &after);
        }
    }

    fn notify(&self, before: &NodeSet, after: &NodeSet) {
        crate::devices::membership_changed(self, before, after);
        let listeners = self.listeners.lock();
        for (set, up) in [(after.minus(before), true), (before.minus(after), false)] {
            for node in set.iter() {
                for l in listeners.iter() {
                    // SAFETY: registered through `ssi_membership_register`,
                    // whose contract keeps `listener` and `ctx` valid until
                    // unregistered; unregistering takes this lock.
                    unsafe { (l.listener)(l.ctx as *mut c_void, node, up) };
                }
            }
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
