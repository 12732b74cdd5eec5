// SPDX-License-Identifier: GPL-2.0-only
//! End-to-end flow control of one-way messages: per-receiver windows at
//! the sender, credits from the receiver.
//!
//! | message     | header `id`                                   | payload |
//! |-------------|-----------------------------------------------|---------|
//! | `Oneway`    | sequence number per (sender, receiver), from 1; 0: not flow controlled (heartbeats) | the message |
//! | `Credit`    | the last sequence number the sender of the credit consumed from its receiver | empty |
//! | `CreditAsk` | 0                                             | empty   |
//!
//! A sender keeps at most [`WINDOW`] messages and [`WINDOW_BYTES`] of
//! their [`cost`] unacknowledged per receiver, then waits for a credit.
//! A receiver credits what it consumed (handled, or handed to a worker
//! and handled there) every [`CREDIT_EVERY`] messages or
//! [`CREDIT_BYTES`], and at once when asked. Credits are cumulative, so a
//! lost one is made good by the next or by an ask. The sequence numbers
//! also let the receiver count what never arrived ([`Arrival::Gap`]).

/// Messages unacknowledged per receiver, at most.
pub const WINDOW: usize = 64;
/// Their cost, at most (a single larger message still goes alone).
pub const WINDOW_BYTES: u64 = 1 << 20;
/// A receiver credits after this many messages...
pub const CREDIT_EVERY: u64 = WINDOW as u64 / 4;
/// ... or this much cost, whichever comes first.
pub const CREDIT_BYTES: u64 = WINDOW_BYTES / 4;
/// What a message costs in a TIPC receive queue beyond its bytes (the
/// socket buffers that carry it), roughly.
pub const OVERHEAD: u64 = 2048;

/// What a one-way message of `len` payload bytes counts against a window.
pub fn cost(len: usize) -> u64 {
    (len as u64).saturating_add(super::wire::HEADER_LEN as u64 + OVERHEAD)
}

/// A sender's window towards one receiver.
///
/// Sequence numbers `acked + 1 ..= sent` are unacknowledged; `reserved`
/// messages are about to be sent (room taken, number not yet given).
#[derive(Clone, Copy, Debug)]
pub struct Sender {
    sent: u64,
    acked: u64,
    /// Cost of messages `1..=sent`.
    total: u64,
    /// `total` just after message `s`, at `s % WINDOW`.
    ring: [u64; WINDOW],
    reserved: u64,
    reserved_cost: u64,
    /// A message to this receiver came back refused, not yet reported.
    refused: bool,
}

impl Default for Sender {
    fn default() -> Self {
        Self::new()
    }
}

impl Sender {
    /// An empty window.
    pub const fn new() -> Self {
        Sender {
            sent: 0,
            acked: 0,
            total: 0,
            ring: [0; WINDOW],
            reserved: 0,
            reserved_cost: 0,
            refused: false,
        }
    }

    /// Messages and cost unacknowledged or reserved now.
    pub fn in_flight(&self) -> (u64, u64) {
        let msgs = self.sent - self.acked;
        let bytes = if msgs == 0 {
            0
        } else if msgs < WINDOW as u64 {
            let base = if self.acked == 0 {
                0
            } else {
                self.ring[(self.acked % WINDOW as u64) as usize]
            };
            self.total - base
        } else {
            // Past the window (forced sends): the cost at `acked` is gone.
            WINDOW_BYTES.max(self.total.saturating_sub(self.ring[0]))
        };
        (
            msgs + self.reserved,
            bytes.saturating_add(self.reserved_cost),
        )
    }

    /// Takes room for a message of `len` bytes if the window has it (an
    /// empty window always has), or anyway if `force`.
    pub fn reserve(&mut self, len: usize, force: bool) -> bool {
        let (msgs, bytes) = self.in_flight();
        let c = cost(len);
        let room =
            msgs == 0 || (msgs < WINDOW as u64 - 1 && bytes.saturating_add(c) <= WINDOW_BYTES);
        if !(room || force) {
            return false;
        }
        self.reserved += 1;
        self.reserved_cost = self.reserved_cost.saturating_add(c);
        true
    }

    /// The sequence number the next sent message carries.
    pub fn next_seq(&self) -> u64 {
        self.sent + 1
    }

    /// A reserved message of `len` bytes was sent as [`Self::next_seq`].
    pub fn commit(&mut self, len: usize) {
        self.unreserve(len);
        self.sent += 1;
        self.total = self.total.saturating_add(cost(len));
        self.ring[(self.sent % WINDOW as u64) as usize] = self.total;
    }

    /// A reserved message of `len` bytes was not sent.
    pub fn cancel(&mut self, len: usize) {
        self.unreserve(len);
    }

    fn unreserve(&mut self, len: usize) {
        self.reserved = self.reserved.saturating_sub(1);
        self.reserved_cost = self.reserved_cost.saturating_sub(cost(len));
    }

    /// The receiver consumed every message up to `seq`. False for a
    /// credit of messages never sent (stale, or not this window's).
    pub fn credit(&mut self, seq: u64) -> bool {
        if seq > self.sent {
            return false;
        }
        self.acked = self.acked.max(seq);
        true
    }

    /// A message came back refused by the receiver.
    pub fn refused(&mut self) {
        self.refused = true;
    }

    /// Whether a message came back since the last call (reported once).
    pub fn take_refused(&mut self) -> bool {
        core::mem::take(&mut self.refused)
    }

    /// The receiver left: nothing is in flight any more (reservations
    /// stay, their senders cancel them).
    pub fn reset(&mut self) {
        *self = Sender {
            reserved: self.reserved,
            reserved_cost: self.reserved_cost,
            ..Sender::new()
        };
    }
}

/// How a flow-controlled message arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next one (or the first this receiver saw).
    InOrder,
    /// Number 1 after others: the sender started again.
    Restart,
    /// This many messages before it never arrived.
    Gap(u64),
    /// Older than one already seen.
    Late,
}

/// A receiver's account of one sender.
#[derive(Clone, Copy, Debug, Default)]
pub struct Receiver {
    last: u64,
    credited: u64,
    since_cost: u64,
    /// Messages handed to a worker and not yet handled.
    held: u64,
}

impl Receiver {
    /// Nothing seen.
    pub const fn new() -> Self {
        Receiver {
            last: 0,
            credited: 0,
            since_cost: 0,
            held: 0,
        }
    }

    /// Records message `seq` (not 0) of `len` bytes.
    pub fn arrive(&mut self, seq: u64, len: usize) -> Arrival {
        let a = if seq == self.last.wrapping_add(1) || self.last == 0 {
            Arrival::InOrder
        } else if seq == 1 {
            self.credited = 0;
            Arrival::Restart
        } else if seq > self.last {
            Arrival::Gap(seq - self.last - 1)
        } else {
            Arrival::Late
        };
        if a != Arrival::Late {
            self.last = seq;
        }
        self.since_cost = self.since_cost.saturating_add(cost(len));
        a
    }

    /// A message of this sender went to a worker.
    pub fn hold(&mut self) {
        self.held += 1;
    }

    /// A worker handled one.
    pub fn release(&mut self) {
        self.held = self.held.saturating_sub(1);
    }

    /// The credit to send now, if one is due: every message seen is
    /// consumed and enough accumulated since the last credit, or the
    /// sender `asked`.
    pub fn credit_due(&mut self, asked: bool) -> Option<u64> {
        if self.held > 0 {
            return None;
        }
        let due = self.last - self.credited.min(self.last) >= CREDIT_EVERY
            || (self.last > self.credited && self.since_cost >= CREDIT_BYTES);
        if !(due || asked) {
            return None;
        }
        self.credited = self.last;
        self.since_cost = 0;
        Some(self.last)
    }

    /// The credit still owed for messages consumed since the last one, if
    /// any (sent when the link is idle, so that a sender's last messages
    /// do not stay unacknowledged).
    pub fn credit_owed(&mut self) -> Option<u64> {
        if self.last > self.credited {
            self.credit_due(true)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends as many `len`-byte messages as the window takes.
    fn fill(s: &mut Sender, len: usize) -> u64 {
        let mut n = 0;
        while s.reserve(len, false) {
            assert_eq!(s.next_seq(), s.sent + 1);
            s.commit(len);
            n += 1;
        }
        n
    }

    #[test]
    fn window_bounds_messages_and_bytes() {
        let mut s = Sender::new();
        assert_eq!(fill(&mut s, 8), WINDOW as u64 - 1);
        assert_eq!(s.in_flight().0, WINDOW as u64 - 1);
        let mut s = Sender::new();
        let n = fill(&mut s, 60_000);
        assert_eq!(n, WINDOW_BYTES / cost(60_000));
        assert!(s.in_flight().1 <= WINDOW_BYTES);
        // One message larger than the window still goes alone.
        let mut s = Sender::new();
        assert!(s.reserve(10 << 20, false));
        assert!(!s.reserve(1, false));
        assert!(s.reserve(1, true));
    }

    #[test]
    fn credits_open_the_window_and_stale_ones_are_refused() {
        let mut s = Sender::new();
        let n = fill(&mut s, 60_000);
        assert!(!s.credit(n + 1));
        assert!(s.credit(3));
        assert_eq!(s.in_flight(), (n - 3, (n - 3) * cost(60_000)));
        assert!(s.credit(2)); // older: changes nothing
        assert_eq!(s.in_flight().0, n - 3);
        assert_eq!(fill(&mut s, 60_000), 3);
        assert!(s.credit(s.sent));
        assert_eq!(s.in_flight(), (0, 0));
    }

    #[test]
    fn reservations_count_and_cancel() {
        let mut s = Sender::new();
        assert!(s.reserve(100, false));
        assert_eq!(s.in_flight(), (1, cost(100)));
        s.cancel(100);
        assert_eq!(s.in_flight(), (0, 0));
        assert_eq!(s.next_seq(), 1);
        assert!(s.reserve(100, false));
        s.reset();
        assert_eq!(s.in_flight(), (1, cost(100)));
        s.commit(100);
        assert_eq!(s.in_flight(), (1, cost(100)));
    }

    #[test]
    fn forced_sends_past_the_window_stay_bounded_in_the_account() {
        let mut s = Sender::new();
        for _ in 0..3 * WINDOW {
            assert!(s.reserve(10, true));
            s.commit(10);
        }
        assert!(s.in_flight().1 >= WINDOW_BYTES);
        assert!(!s.reserve(10, false));
        assert!(s.credit(s.sent));
        assert_eq!(s.in_flight(), (0, 0));
    }

    #[test]
    fn refusal_is_reported_once() {
        let mut s = Sender::new();
        assert!(!s.take_refused());
        s.refused();
        assert!(s.take_refused());
        assert!(!s.take_refused());
    }

    #[test]
    fn receiver_counts_gaps_restarts_and_credits() {
        let mut r = Receiver::new();
        assert_eq!(r.arrive(5, 10), Arrival::InOrder); // first seen
        assert_eq!(r.arrive(6, 10), Arrival::InOrder);
        assert_eq!(r.arrive(9, 10), Arrival::Gap(2));
        assert_eq!(r.arrive(8, 10), Arrival::Late);
        assert_eq!(r.credit_due(false), None);
        assert_eq!(r.credit_due(true), Some(9));
        assert_eq!(r.arrive(1, 10), Arrival::Restart);
        for seq in 2..CREDIT_EVERY {
            assert_eq!(r.arrive(seq, 10), Arrival::InOrder);
            assert_eq!(r.credit_due(false), None);
        }
        assert_eq!(r.arrive(CREDIT_EVERY, 10), Arrival::InOrder);
        assert_eq!(r.credit_due(false), Some(CREDIT_EVERY));
        assert_eq!(r.credit_due(false), None);
        assert_eq!(r.credit_owed(), None);
        r.arrive(CREDIT_EVERY + 1, 10);
        r.hold();
        assert_eq!(r.credit_owed(), None);
        r.release();
        assert_eq!(r.credit_owed(), Some(CREDIT_EVERY + 1));
        assert_eq!(r.credit_owed(), None);
    }

    #[test]
    fn receiver_credits_by_bytes_and_waits_for_its_workers() {
        let mut r = Receiver::new();
        let mut seq = 0;
        while r.since_cost < CREDIT_BYTES {
            seq += 1;
            r.arrive(seq, 60_000);
        }
        assert!(seq < CREDIT_EVERY);
        r.hold();
        assert_eq!(r.credit_due(true), None);
        r.release();
        assert_eq!(r.credit_due(false), Some(seq));
    }

    #[test]
    fn sender_and_receiver_together_never_exceed_the_window() {
        let mut s = Sender::new();
        let mut r = Receiver::new();
        let mut sent = 0u64;
        for round in 0..1000usize {
            let len = (round * 7919) % 65_000;
            while s.reserve(len, false) {
                let seq = s.next_seq();
                s.commit(len);
                sent += 1;
                let (msgs, bytes) = s.in_flight();
                assert!(msgs < WINDOW as u64);
                assert!(msgs == 1 || bytes <= WINDOW_BYTES);
                assert_eq!(r.arrive(seq, len), Arrival::InOrder);
                if round % 3 == 0 {
                    break;
                }
            }
            if let Some(c) = r.credit_due(round % 5 == 0) {
                assert!(s.credit(c));
            }
        }
        assert_eq!(r.last, sent);
    }
}
