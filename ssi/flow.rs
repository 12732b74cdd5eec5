// SPDX-License-Identifier: GPL-2.0-only
//! One-way messages, flow-controlled end to end (`proto/src/flow.rs`):
//! the sender's windows and waits, the receiver's credits.

use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, CondVarTimeoutResult, Mutex},
    time::msecs_to_jiffies,
};

use crate::cluster::{now_ns, Core};
use crate::kernel_ext::{errno, migrate, task};
use crate::proto::flow::{Arrival, Receiver, Sender};
use crate::proto::wire::Kind;
use crate::rpc::Wake;

/// How long a sender waits for room before `ETIMEDOUT`.
pub(crate) const WAIT_MS: u32 = 10_000;
/// A waiting sender asks for a credit this often (a credit can be lost:
/// TIPC refuses it too when the sender's own queue is full).
const ASK_MS: i64 = 200;

/// Every sender's and receiver's account, indexed by node id.
pub(crate) struct Table {
    senders: KVec<Sender>,
    receivers: KVec<Receiver>,
}

#[pin_data]
pub(crate) struct Flows {
    #[pin]
    table: Mutex<Table>,
    /// Woken by credits, membership changes and closing.
    #[pin]
    credited: CondVar,
    /// Held while a one-way message is numbered and sent, so that numbers
    /// leave in order.
    #[pin]
    sending: Mutex<()>,
    /// The receive thread's task: it never waits for room, since it is
    /// what takes credits in.
    receiver: AtomicUsize,
}

impl Flows {
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let table = Table {
            senders: KVec::from_elem(Sender::new(), 256, GFP_KERNEL)?,
            receivers: KVec::from_elem(Receiver::new(), 256, GFP_KERNEL)?,
        };
        Ok(pin_init!(Flows {
            table <- new_mutex!(table),
            credited <- new_condvar!(),
            sending <- new_mutex!(()),
            receiver: AtomicUsize::new(0),
        }))
    }

    /// Called by the receive thread as it starts.
    pub(crate) fn set_receiver(&self) {
        self.receiver.store(task::current_id(), Relaxed);
    }

    /// Wakes every waiting sender (closing, membership change).
    pub(crate) fn wake(&self) {
        self.credited.notify_all();
    }

    /// `node` left the view: what was in flight to it is gone, and its
    /// next messages start a new account.
    fn left(&self, node: u8) {
        let mut t = self.table.lock();
        t.senders[usize::from(node)].reset();
        t.receivers[usize::from(node)] = Receiver::new();
        drop(t);
        self.wake();
    }

    /// One-way messages sent and not yet credited, to every node.
    pub(crate) fn in_flight(&self) -> u64 {
        self.table
            .lock()
            .senders
            .iter()
            .map(|s| s.in_flight().0)
            .sum()
    }
}

/// Follows the view (a listener in `Core`'s table): the senders waiting
/// for a node that left stop waiting.
pub(crate) fn register(core: &Core) -> Result {
    core.listen(membership_changed)
}

fn membership_changed(core: &Core, node: u8, up: bool) {
    if !up {
        core.flows.left(node);
    }
}

/// Sends a one-way message of `service` to `dst` (0: every other member,
/// each within its own window), waiting for room in `dst`'s window as
/// long as [`WAIT_MS`]. Fails with `EHOSTDOWN` once `dst` is not (or no
/// longer) a member, `ENOBUFS` once after a message to `dst` came back
/// refused, `EINTR` as `wake` says.
pub(crate) fn send(core: &Core, dst: u8, service: u16, payload: &[u8], wake: Wake) -> Result {
    if dst != 0 {
        return send_to(core, dst, service, payload, wake);
    }
    let members = core.state.lock().membership.view().members;
    let mut result = Ok(());
    for m in members.iter().filter(|&m| m != core.me()) {
        if let Err(e) = send_to(core, m, service, payload, wake) {
            result = result.and(Err(e));
        }
    }
    result
}

fn send_to(core: &Core, dst: u8, service: u16, payload: &[u8], wake: Wake) -> Result {
    let flows = &core.flows;
    let len = payload.len();
    let on_receiver = flows.receiver.load(Relaxed) == task::current_id();
    let start = now_ns();
    let mut asked = start;
    let mut waited = false;
    let mut t = flows.table.lock();
    let room = loop {
        if core.closing() {
            break Err(errno::eshutdown());
        }
        if !core.is_member(dst) {
            break Err(errno::ehostdown());
        }
        let s = &mut t.senders[usize::from(dst)];
        if s.take_refused() {
            break Err(errno::enobufs());
        }
        if s.reserve(len, on_receiver) {
            break Ok(());
        }
        waited = true;
        let now = now_ns();
        if now - start >= i64::from(WAIT_MS) * 1_000_000 {
            break Err(errno::etimedout());
        }
        if now - asked >= ASK_MS * 1_000_000 {
            asked = now;
            drop(t);
            let _ = core.send(Kind::CreditAsk, 0, dst, 0, 0, &[]);
            t = flows.table.lock();
            continue;
        }
        let wait = msecs_to_jiffies(ASK_MS as u32);
        if let CondVarTimeoutResult::Signal { .. } =
            flows.credited.wait_interruptible_timeout(&mut t, wait)
        {
            if wake == Wake::Signal || migrate::killed() {
                break Err(EINTR);
            }
            // A signal that cannot end the wait: look again every ms.
            drop(t);
            migrate::sleep_ms(1);
            t = flows.table.lock();
        }
    };
    drop(t);
    if waited {
        core.stats.oneway_waits.fetch_add(1, Relaxed);
        let us = (now_ns() - start) / 1000;
        core.stats.oneway_wait_us.fetch_add(us as u64, Relaxed);
    }
    room?;
    let _order = flows.sending.lock();
    let seq = flows.table.lock().senders[usize::from(dst)].next_seq();
    let r = core.send(Kind::Oneway, service, dst, seq, 0, payload);
    let mut t = flows.table.lock();
    match r {
        Ok(()) => t.senders[usize::from(dst)].commit(len),
        Err(_) => t.senders[usize::from(dst)].cancel(len),
    }
    r
}

/// A credit from `src`: it consumed our messages up to `seq`.
pub(crate) fn on_credit(core: &Core, src: u8, seq: u64) {
    let ok = core.flows.table.lock().senders[usize::from(src)].credit(seq);
    if ok {
        core.flows.wake();
    } else {
        core.stats.dropped(crate::stats::DropCause::StaleCredit);
    }
}

/// Flow-controlled message `seq` of `len` bytes from `src` arrived (before
/// it is handled or handed to a worker).
pub(crate) fn arrived(core: &Core, src: u8, seq: u64, len: usize) {
    let a = core.flows.table.lock().receivers[usize::from(src)].arrive(seq, len);
    match a {
        Arrival::Gap(n) => {
            core.stats.oneway_gaps.fetch_add(n, Relaxed);
        }
        Arrival::Late => {
            core.stats.oneway_late.fetch_add(1, Relaxed);
        }
        Arrival::InOrder | Arrival::Restart => {}
    }
}

/// A message of `src` goes to a worker: no credit until it is handled.
pub(crate) fn hold(core: &Core, src: u8) {
    core.flows.table.lock().receivers[usize::from(src)].hold();
}

/// A worker handled a message of `src` that [`hold`] held.
pub(crate) fn release(core: &Core, src: u8) {
    core.flows.table.lock().receivers[usize::from(src)].release();
    settle(core, src, false);
}

/// Sends `src` the credit that is due (at once if it `asked`).
pub(crate) fn settle(core: &Core, src: u8, asked: bool) {
    let due = core.flows.table.lock().receivers[usize::from(src)].credit_due(asked);
    if let Some(seq) = due {
        let _ = core.send(Kind::Credit, 0, src, seq, 0, &[]);
    }
}

/// Sends every sender the credit still owed to it (the heartbeat thread,
/// twice per failure timeout): the last messages of a burst are
/// acknowledged even when no threshold is reached.
pub(crate) fn flush(core: &Core) {
    for src in 1..=255u8 {
        let owed = core.flows.table.lock().receivers[usize::from(src)].credit_owed();
        if let Some(seq) = owed {
            let _ = core.send(Kind::Credit, 0, src, seq, 0, &[]);
        }
    }
}

/// A one-way message to `dst` came back refused: its next send reports it.
pub(crate) fn refused(core: &Core, dst: u8) {
    core.flows.table.lock().senders[usize::from(dst)].refused();
}
