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

const NAMES: [&str; 8] = [
    "dropped_malformed",
    "dropped_oversized",
    "dropped_unknown_type",
    "dropped_non_member",
    "dropped_bad_version",
    "dropped_unknown_service",
    "dropped_stale_response",
    "dropped_forged",
];

/// Counters; all relaxed, each read on its own.
pub(crate) struct Stats {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    drops: [AtomicU64; 8],
}

impl Stats {
    pub(crate) const fn new() -> Self {
        Stats {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            drops: [const { AtomicU64::new(0) }; 8],
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
        for (name, n) in NAMES.iter().zip(self.drops.iter()) {
            writeln!(out, "{} {}", name, n.load(Relaxed))?;
        }
        Ok(())
    }
}
