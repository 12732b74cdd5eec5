// SPDX-License-Identifier: GPL-2.0-only
//! Message counters shown in `/sys/kernel/ssi/stats`.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::kernel_ext::sysfs::ShowBuf;
use crate::proto::wire::DecodeError;

/// Why a received message was dropped.
#[derive(Clone, Copy)]
pub(crate) enum DropCause {
    Malformed,
    Oversized,
    UnknownType,
    NonMember,
    BadVersion,
    UnknownService,
    StaleResponse,
    /// Not from the kernel socket that holds the claimed sender's name.
    Forged,
    /// A credit for one-way messages never sent (flow.rs).
    StaleCredit,
    /// A one-way message this node could not take (no memory for it).
    Refused,
}

impl From<DecodeError> for DropCause {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Malformed => DropCause::Malformed,
            DecodeError::Oversized => DropCause::Oversized,
            DecodeError::UnknownKind => DropCause::UnknownType,
            DecodeError::BadVersion => DropCause::BadVersion,
        }
    }
}

const NAMES: [&str; DROP_CAUSES] = [
    "dropped_malformed",
    "dropped_oversized",
    "dropped_unknown_type",
    "dropped_non_member",
    "dropped_bad_version",
    "dropped_unknown_service",
    "dropped_stale_response",
    "dropped_forged",
    "dropped_stale_credit",
    "dropped_refused",
];

const DROP_CAUSES: usize = 10;

/// Counters; all relaxed, each read on its own.
pub(crate) struct Stats {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    /// Own messages TIPC gave back refused (the receiver's queue was
    /// full, or its socket gone).
    pub(crate) returned: AtomicU64,
    /// One-way sends that waited for room in a window, and how long in all.
    pub(crate) oneway_waits: AtomicU64,
    pub(crate) oneway_wait_us: AtomicU64,
    /// Flow-controlled one-way messages that never arrived here (a gap
    /// in a sender's numbers), and those that arrived out of order.
    pub(crate) oneway_gaps: AtomicU64,
    pub(crate) oneway_late: AtomicU64,
    drops: [AtomicU64; DROP_CAUSES],
}

impl Stats {
    pub(crate) const fn new() -> Self {
        Stats {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            returned: AtomicU64::new(0),
            oneway_waits: AtomicU64::new(0),
            oneway_wait_us: AtomicU64::new(0),
            oneway_gaps: AtomicU64::new(0),
            oneway_late: AtomicU64::new(0),
            drops: [const { AtomicU64::new(0) }; DROP_CAUSES],
        }
    }

    /// Responses that matched no waiting call.
    pub(crate) fn stale(&self) -> u64 {
        self.drops[DropCause::StaleResponse as usize].load(Relaxed)
    }

    pub(crate) fn dropped(&self, why: DropCause) {
        self.drops[why as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn show(&self, out: &mut ShowBuf<'_>) -> core::fmt::Result {
        writeln!(out, "sent {}", self.sent.load(Relaxed))?;
        writeln!(out, "received {}", self.received.load(Relaxed))?;
        writeln!(out, "send_errors {}", self.send_errors.load(Relaxed))?;
        writeln!(out, "returned {}", self.returned.load(Relaxed))?;
        writeln!(out, "oneway_waits {}", self.oneway_waits.load(Relaxed))?;
        writeln!(out, "oneway_wait_us {}", self.oneway_wait_us.load(Relaxed))?;
        writeln!(out, "oneway_gaps {}", self.oneway_gaps.load(Relaxed))?;
        writeln!(out, "oneway_late {}", self.oneway_late.load(Relaxed))?;
        for (name, n) in NAMES.iter().zip(self.drops.iter()) {
            writeln!(out, "{} {}", name, n.load(Relaxed))?;
        }
        Ok(())
    }
}
