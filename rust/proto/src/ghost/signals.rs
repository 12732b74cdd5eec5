// SPDX-License-Identifier: GPL-2.0-only
//! Signal handlers, the blocked mask and pending signals.

use super::*;

/// One signal's disposition (`struct sigaction`, x86_64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `SIGKILL`'s bit in a signal set (signal `n` is bit `n - 1`): never
/// carried as pending (a process with it pending is dying).
pub const SIGKILL_BIT: u64 = 1 << 8;

/// Signal handlers, the blocked mask and the pending signals: the task's
/// private set and the process's shared set, numbers only (bit `n - 1`
/// for signal `n`; their siginfo is not carried).
///
/// Layout: `SIGNALS` dispositions of 32 bytes (handler, flags, restorer,
/// mask), then `blocked`, `pending`, `shared_pending` (8 bytes each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signals<'a> {
    b: &'a [u8],
}

/// The three signal sets of a [`Signals`] section.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSets {
    pub blocked: u64,
    /// The task's own pending signals (`tgkill()`, faults).
    pub pending: u64,
    /// The process's pending signals (`kill()`).
    pub shared_pending: u64,
}

impl<'a> Signals<'a> {
    pub const LEN: usize = SIGNALS * 32 + 24;

    /// Writes handlers and sets into `out` (`Self::LEN` bytes).
    pub fn encode(actions: &[SigAction; SIGNALS], sets: &SigSets, out: &mut [u8]) -> Option<()> {
        let mut w = Writer::new(out.get_mut(..Self::LEN)?);
        for a in actions {
            w.u64s(&[a.handler, a.flags, a.restorer, a.mask])?;
        }
        w.u64s(&[sets.blocked, sets.pending, sets.shared_pending])
    }

    /// A pending `SIGKILL` is refused.
    pub fn decode(b: &'a [u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let s = Signals { b };
        let sets = s.sets();
        if (sets.pending | sets.shared_pending) & SIGKILL_BIT != 0 {
            return Err(Error::BadValue);
        }
        Ok(s)
    }

    /// The disposition of signal `i + 1`.
    pub fn action(&self, i: usize) -> SigAction {
        let f = |j: usize| u64_at(self.b, 32 * i + 8 * j).unwrap_or(0);
        SigAction {
            handler: f(0),
            flags: f(1),
            restorer: f(2),
            mask: f(3),
        }
    }

    pub fn sets(&self) -> SigSets {
        let f = |j: usize| u64_at(self.b, SIGNALS * 32 + 8 * j).unwrap_or(0);
        SigSets {
            blocked: f(0),
            pending: f(1),
            shared_pending: f(2),
        }
    }

    pub fn blocked(&self) -> u64 {
        self.sets().blocked
    }
}
