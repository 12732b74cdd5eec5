// SPDX-License-Identifier: GPL-2.0-only
//! What this node knows of the others (their probes) and the settings
//! every node shares, with the service that carries both
//! (`rust/proto/src/sched.rs`): probes one-way to every member each
//! period, settings by request to every member after a write here.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, Mutex},
};

use crate::probe::Local;
use crate::proto::sched::{ExecPlacer, Msg, Policy, Probe, Settings, MAX_MSG, MAX_RETIRING};
use crate::ssi_api;

/// The scheduler's RPC service (module services are 256 and up).
pub(crate) const SERVICE: u16 = 310;
/// How long a write waits for each node to take new settings.
const SETTINGS_TIMEOUT_MS: u32 = 2000;
/// A node's probe older than this many periods is not used.
pub(crate) const STALE_PERIODS: u64 = 3;

/// The last probe heard from a node.
#[derive(Clone, Copy, Default)]
pub(crate) struct Peer {
    pub(crate) probe: Probe,
    /// Monotonic ns when it arrived; 0: never.
    pub(crate) heard_ns: u64,
}

/// The settings, and since when the policy is the one they name.
#[derive(Clone, Copy)]
pub(crate) struct Shared {
    pub(crate) s: Settings,
    pub(crate) policy_since_ns: u64,
}

/// Counters, shown in `/sys/kernel/ssi/sched/stats`.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) probes_sent: AtomicU64,
    pub(crate) probes_lost: AtomicU64,
    pub(crate) probes_received: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) settings_received: AtomicU64,
    pub(crate) settings_adopted: AtomicU64,
    pub(crate) settings_unsent: AtomicU64,
    pub(crate) moves: AtomicU64,
    pub(crate) moves_failed: AtomicU64,
    /// Of the moves made, those memory relief made.
    pub(crate) moves_memory: AtomicU64,
    /// Programs sent to another node at `execve` (queued), or refused.
    pub(crate) exec_placed: AtomicU64,
    pub(crate) exec_failed: AtomicU64,
}

/// Everything the scheduler's threads, service and files share.
#[pin_data]
pub(crate) struct State {
    #[pin]
    pub(crate) settings: Mutex<Shared>,
    /// Indexed by node id (256 entries).
    #[pin]
    pub(crate) view: Mutex<KVec<Peer>>,
    #[pin]
    pub(crate) local: Mutex<Local>,
    /// Notified at the end of each period (the balancer waits for it).
    #[pin]
    pub(crate) tick: CondVar,
    #[pin]
    pub(crate) history: Mutex<crate::balance::History>,
    /// The latest `remove` written here (`remove_pending`).
    #[pin]
    pub(crate) removal: Mutex<crate::retire::Removal>,
    /// Placement of new programs at `execve` (`place.rs`).
    #[pin]
    pub(crate) exec: Mutex<ExecPlacer>,
    pub(crate) counts: Counts,
    /// This node's knobs (not shared): it takes guests; its own
    /// processes stay home.
    pub(crate) accept_guests: AtomicBool,
    pub(crate) keep_home: AtomicBool,
    /// Until then (monotonic ns) a `remove` of this node is draining it:
    /// only its guests leave.
    pub(crate) retiring_until_ns: AtomicU64,
    /// Draining, a process could leave but no node accepts guests.
    pub(crate) nowhere: AtomicBool,
    /// A node a `remove` written here drained and let retire: its drain
    /// is withdrawn at the next period, even if it is back already.
    pub(crate) retired: AtomicU8,
    /// What memory relief would move first from this node (kB), as the
    /// balancer found it: the next probe says it.
    pub(crate) mem_movable_kb: AtomicU64,
    /// Where this node sent most memory lately and how much
    /// (`Balancer::claim`), as `node << 56 | kB`: the next probe says it.
    pub(crate) mem_claim: AtomicU64,
}

/// `Balancer::claim`'s `(node, kB)` packed for [`State::mem_claim`].
pub(crate) fn pack_claim((node, kb): (u8, u64)) -> u64 {
    (u64::from(node) << 56) | kb.min((1 << 56) - 1)
}

/// [`pack_claim`]'s inverse.
pub(crate) fn unpack_claim(v: u64) -> (u8, u64) {
    ((v >> 56) as u8, v & ((1 << 56) - 1))
}

/// This node's id, 0 while unset.
pub(crate) fn me() -> u8 {
    ssi_api::node_id().map_or(0, |n| n.get() as u8)
}

pub(crate) fn now_ns() -> u64 {
    crate::kernel_ext::load::now_ns()
}

impl State {
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let view = KVec::from_elem(Peer::default(), 256, GFP_KERNEL)?;
        let local = Local::new()?;
        Ok(pin_init!(State {
            settings <- new_mutex!(Shared {
                s: Settings::default(),
                policy_since_ns: now_ns(),
            }),
            view <- new_mutex!(view),
            local <- new_mutex!(local),
            tick <- new_condvar!(),
            history <- new_mutex!(crate::balance::History::default()),
            removal <- new_mutex!(crate::retire::Removal::default()),
            exec <- new_mutex!(ExecPlacer::default()),
            counts: Counts::default(),
            accept_guests: AtomicBool::new(true),
            keep_home: AtomicBool::new(false),
            retiring_until_ns: AtomicU64::new(0),
            nowhere: AtomicBool::new(false),
            retired: AtomicU8::new(0),
            mem_movable_kb: AtomicU64::new(0),
            mem_claim: AtomicU64::new(0),
        }))
    }

    pub(crate) fn settings(&self) -> Shared {
        *self.settings.lock()
    }

    /// Takes `s` if it is newer than the settings in force.
    fn adopt(&self, s: Settings) -> bool {
        let mut cur = self.settings.lock();
        if s.gen <= cur.s.gen {
            return false;
        }
        if s.policy != cur.s.policy {
            cur.policy_since_ns = now_ns();
        }
        cur.s = s;
        drop(cur);
        self.counts.settings_adopted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A write here: the settings `change` makes, as the next generation,
    /// in force here and then on every member. `EINVAL` (and nothing
    /// changes) if they are out of range.
    pub(crate) fn write(&self, change: impl FnOnce(&mut Settings)) -> Result {
        let me = me();
        if me == 0 {
            return Err(ENODEV);
        }
        let new = {
            let mut cur = self.settings.lock();
            let mut s = cur.s;
            change(&mut s);
            if !s.valid() {
                return Err(EINVAL);
            }
            let s = s.next(me).ok_or(EINVAL)?;
            if s.policy != cur.s.policy {
                cur.policy_since_ns = now_ns();
            }
            cur.s = s;
            s
        };
        let mut b = [0u8; MAX_MSG];
        let n = Msg::Settings(new).encode(&mut b);
        let members = ssi_api::members()?;
        for node in 1..=255u8 {
            if node == me || members[usize::from(node / 8)] & (1 << (node % 8)) == 0 {
                continue;
            }
            // A node that misses it takes it from this node's next probe.
            if ssi_api::call(node, SERVICE, &b[..n], &mut [], SETTINGS_TIMEOUT_MS).is_err() {
                self.counts.settings_unsent.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Sends this node's probe, with the settings, to every member.
    pub(crate) fn publish(&self, p: &Probe) {
        let s = self.settings().s;
        let mut b = [0u8; MAX_MSG];
        let n = Msg::Probe(*p, s).encode(&mut b);
        match ssi_api::send_oneway(0, SERVICE, &b[..n]) {
            Ok(()) => self.counts.probes_sent.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counts.probes_lost.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> Policy {
        self.settings.lock().s.policy
    }
}

impl ssi_api::Service for State {
    /// A probe or new settings from `src`. Runs on the core's receive
    /// thread: it only updates tables.
    fn handle(&self, src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        let Some(msg) = Msg::decode(req).filter(|_| src != 0) else {
            self.counts.malformed.fetch_add(1, Ordering::Relaxed);
            return Err(EINVAL);
        };
        match msg {
            Msg::Probe(p, s) => {
                self.counts.probes_received.fetch_add(1, Ordering::Relaxed);
                if let Some(peer) = self.view.lock().get_mut(usize::from(src)) {
                    *peer = Peer {
                        probe: p,
                        heard_ns: now_ns(),
                    };
                }
                self.adopt(s);
            }
            Msg::Settings(s) => {
                self.counts
                    .settings_received
                    .fetch_add(1, Ordering::Relaxed);
                self.adopt(s);
            }
            Msg::Retire => {
                let mut b = [0u8; MAX_RETIRING];
                let n = crate::retire::status(self).encode(&mut b);
                let out = resp
                    .get_mut(..n)
                    .ok_or_else(crate::kernel_ext::errno::emsgsize)?;
                out.copy_from_slice(&b[..n]);
                return Ok(n);
            }
        }
        Ok(0)
    }
}
