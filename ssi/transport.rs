// SPDX-License-Identifier: GPL-2.0-only
//! The receive, topology, heartbeat and worker threads.

use core::sync::atomic::Ordering;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    c_str,
    prelude::*,
    sync::Arc,
};

use crate::cluster::{local_cpus, now_ns, Core, SERVICE_HEARTBEAT, TIPC_TYPE};
use crate::kernel_ext::{
    errno, kthread,
    kthread::KThread,
    tipc::{self, EventKind, SocketAddr},
};
use crate::proto::cmsg;
use crate::proto::wire::{self, Kind};
use crate::rpc;
use crate::stats::DropCause as Why;

// The control messages `proto::cmsg` decodes are this kernel's.
const _: () = {
    assert!(cmsg::HEADER_LEN == tipc::CMSG_HEADER_LEN);
    assert!(cmsg::SOL_TIPC == tipc::SOL_TIPC);
    assert!(cmsg::TIPC_ERRINFO == tipc::TIPC_ERRINFO);
    assert!(cmsg::TIPC_RETDATA == tipc::TIPC_RETDATA);
};

/// The running threads; dropping closes the sockets, then stops them.
pub(crate) struct Threads {
    core: Arc<Core>,
    _rx: KThread,
    _topo: KThread,
    _heartbeat: KThread,
    _worker: KThread,
    _lane: KThread,
}

impl Threads {
    pub(crate) fn start(core: &Arc<Core>) -> Result<Self> {
        let c = core.clone();
        let rx = KThread::spawn(c_str!("ssi_rx"), move || receive_loop(c))?;
        let c = core.clone();
        let topo = KThread::spawn(c_str!("ssi_topo"), move || topology_loop(c))?;
        let c = core.clone();
        let heartbeat = KThread::spawn(c_str!("ssi_hb"), move || heartbeat_loop(c))?;
        let c = core.clone();
        let worker = KThread::spawn(c_str!("ssi_work"), move || crate::worker::run(c))?;
        let c = core.clone();
        let lane = KThread::spawn(c_str!("ssi_lane"), move || crate::worker::run_lane(c))?;
        Ok(Threads {
            core: core.clone(),
            _rx: rx,
            _topo: topo,
            _heartbeat: heartbeat,
            _worker: worker,
            _lane: lane,
        })
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        // Unblocks the threads; the fields' drops then stop and reap them.
        self.core.close();
    }
}

fn receive_loop(core: Arc<Core>) {
    let (Ok(mut buf), Ok(mut scratch), Ok(mut ctl)) = (
        KVec::from_elem(0u8, wire::MAX_MESSAGE + 1, GFP_KERNEL),
        KVec::from_elem(0u8, wire::MAX_PAYLOAD, GFP_KERNEL),
        KVec::from_elem(0u8, tipc::RECV_CONTROL, GFP_KERNEL),
    ) else {
        pr_err!("no memory for the receive buffers\n");
        return;
    };
    core.flows.set_receiver();
    while !core.closing() {
        match core.sock.recv_with_control(&mut buf, &mut ctl) {
            Ok(r) => {
                if let Some(back) = cmsg::returned(&ctl[..r.control]) {
                    returned(&core, back.data, back.error);
                } else if r.truncated {
                    core.stats.dropped(Why::Oversized);
                } else {
                    handle(&core, &buf[..r.len], r.from, &mut scratch);
                }
            }
            Err(_) => {
                if !core.closing() {
                    kthread::sleep_ms(10);
                }
            }
        }
    }
}

/// Whether `from` is the kernel socket that holds node `src`'s name: the
/// one it spoke from before, or, after a (re)load, the one the name table
/// says publishes it. User sockets cannot publish the ssi type (patch
/// 0022), so nothing else speaks for a node.
fn speaks_for(core: &Core, src: u8, from: SocketAddr) -> bool {
    if core.state.lock().peers[usize::from(src)].sock == from {
        return true;
    }
    if !tipc::published_by(TIPC_TYPE, u32::from(src), from) {
        return false;
    }
    core.state.lock().peers[usize::from(src)].sock = from;
    true
}

/// One of this node's messages came back with TIPC error `error`: its
/// receiver's queue was full (or its socket gone). `head` is the
/// message's start. A call fails at once (`ENOBUFS`, or `EHOSTDOWN` for a
/// socket gone); the next one-way send to that node reports `ENOBUFS`;
/// a one-way message sent without flow control is its service's to count
/// (`rpc::Mode::on_returned`).
fn returned(core: &Core, head: &[u8], error: u32) {
    core.stats.returned.fetch_add(1, Ordering::Relaxed);
    if head.is_empty() {
        // TIPC gave back none of its bytes: nothing says what it was.
        return;
    }
    let h = match wire::decode_returned(head) {
        Ok(h) if h.src == core.me() => h,
        Ok(_) => return core.stats.dropped(Why::Malformed),
        Err(e) => return core.stats.dropped(e.into()),
    };
    match h.kind {
        Kind::Request => {
            let e = if error == tipc::ERR_OVERLOAD {
                errno::enobufs()
            } else {
                errno::ehostdown()
            };
            rpc::refused(core, &h, e)
        }
        Kind::Oneway if h.id != 0 => crate::flow::refused(core, h.dst),
        Kind::Oneway => rpc::returned_oneway(core, &h),
        // Answers, views, asks and credits: their peers ask again.
        _ => {}
    }
}

/// Dispatches one datagram received from socket `from`.
fn handle(core: &Core, msg: &[u8], from: SocketAddr, scratch: &mut [u8]) {
    let (h, payload) = match wire::decode(msg) {
        Ok(x) => x,
        Err(e) => return core.stats.dropped(e.into()),
    };
    if !speaks_for(core, h.src, from) {
        return core.stats.dropped(Why::Forged);
    }
    if h.src == core.me() && h.dst == 0 {
        return; // our own multicast
    }
    if h.dst != 0 && h.dst != core.me() {
        return core.stats.dropped(Why::Malformed);
    }
    {
        let mut s = core.state.lock();
        s.peers[usize::from(h.src)].last_heard = now_ns();
        if s.detached {
            drop(s);
            return core.stats.dropped(Why::NonMember);
        }
    }
    core.stats.received.fetch_add(1, Ordering::Relaxed);
    match h.kind {
        Kind::View => {
            if !core.on_view(h.src, h.id, payload) {
                core.stats.dropped(Why::Malformed);
            }
        }
        Kind::Ask => core.membership(|s| s.membership.on_ask(h.src)),
        Kind::Retire => match payload {
            [id] if *id != 0 => {
                if *id == core.me() {
                    pr_info!("removed from the cluster by node {}\n", h.src);
                    core.detach();
                } else {
                    core.membership(|s| s.membership.retire(*id));
                }
            }
            _ => core.stats.dropped(Why::Malformed),
        },
        Kind::Credit | Kind::CreditAsk if !core.is_member(h.src) => {
            core.stats.dropped(Why::NonMember)
        }
        Kind::Credit => crate::flow::on_credit(core, h.src, h.id),
        Kind::CreditAsk => crate::flow::settle(core, h.src, true),
        Kind::Oneway if h.id != 0 => {
            // Flow controlled: credited once handled, member or not.
            crate::flow::arrived(core, h.src, h.id, payload.len());
            if core.is_member(h.src) {
                rpc::dispatch(core, &h, payload, scratch);
            } else {
                core.stats.dropped(Why::NonMember);
            }
            crate::flow::settle(core, h.src, false);
        }
        Kind::Request | Kind::Oneway | Kind::Response => {
            if !core.is_member(h.src) {
                return core.stats.dropped(Why::NonMember);
            }
            if (h.kind, h.service) == (Kind::Oneway, SERVICE_HEARTBEAT) {
                return core.heard(h.src, payload);
            }
            rpc::dispatch(core, &h, payload, scratch);
        }
    }
}

fn topology_loop(core: Arc<Core>) {
    while !core.closing() {
        match core.topo.recv_event() {
            Ok(ev) => {
                // Only ids 1..=255 are ssi nodes; ignore anything else.
                let Ok(id) = u8::try_from(ev.instance) else {
                    continue;
                };
                if id == 0 || id == core.me() {
                    continue;
                }
                match ev.kind {
                    EventKind::Published => {
                        pr_info!("node {} up (tipc {:08x})\n", id, ev.node);
                        core.membership(|s| {
                            s.peers[id as usize].sock = SocketAddr {
                                node: ev.node,
                                port: ev.port,
                            };
                            s.peers[id as usize].last_heard = now_ns();
                            s.membership.peer_up(id)
                        });
                    }
                    EventKind::Withdrawn => {
                        pr_info!("node {} down\n", id);
                        core.membership(|s| {
                            let p = &mut s.peers[id as usize];
                            if p.sock.port == ev.port {
                                p.sock = SocketAddr::default();
                            }
                            s.membership.peer_down(id)
                        });
                    }
                    EventKind::Other => {}
                }
            }
            Err(_) => {
                if !core.closing() {
                    kthread::sleep_ms(10);
                }
            }
        }
    }
}

/// Every member hears from every other at least twice per failure timeout,
/// which keeps `nodes`' last-heard ages meaningful; one-way senders get the
/// credits still owed to them.
///
/// A node that stays without its coordinator's view for a period asks for
/// it again (`Membership::stalled`): a lost view or ask must not leave it
/// joining for ever.
fn heartbeat_loop(core: Arc<Core>) {
    let mut stalled_on = None;
    while !core.closing() {
        let cpus = local_cpus().to_le_bytes();
        let _ = core.send(Kind::Oneway, SERVICE_HEARTBEAT, 0, 0, 0, &cpus);
        crate::flow::flush(&core);
        let (period, stalled) = {
            let s = core.state.lock();
            let stalled = if s.detached {
                None
            } else {
                s.membership.stalled()
            };
            (s.failure_timeout_ms / 2, stalled)
        };
        if let Some(c) = stalled.filter(|&c| stalled_on == Some(c)) {
            pr_info!("no view from coordinator {} yet: asking again\n", c);
            let _ = core.send(Kind::Ask, 0, c, 0, 0, &[]);
        }
        stalled_on = stalled;
        kthread::sleep_ms(period.max(25));
    }
}
