// SPDX-License-Identifier: GPL-2.0-only
//! The bytes this node's streams carried, for
//! `/sys/kernel/ssi/dynstreams/stats`: a test reads them on every node to
//! prove that no third node carried any.

use core::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct Stats {
    /// Bytes this node's pipes gave to proxies elsewhere (`READ`).
    pub(crate) anchor_read: AtomicU64,
    /// Bytes proxies elsewhere wrote into this node's pipes (`WRITE`).
    pub(crate) anchor_written: AtomicU64,
    /// Bytes this node's proxies read from their anchors.
    pub(crate) proxy_read: AtomicU64,
    /// Bytes this node's proxies wrote to their anchors.
    pub(crate) proxy_written: AtomicU64,
    /// Bytes of pipes that moved away from here, and that moved here.
    pub(crate) moved_out: AtomicU64,
    pub(crate) moved_in: AtomicU64,
    /// Requests refused as malformed.
    pub(crate) malformed: AtomicU64,
    /// Requests refused by a cursor (out of order) or for an unknown
    /// handle.
    pub(crate) refused: AtomicU64,
    /// Of `proxy_read` and `proxy_written`: the bytes of UNIX sockets'
    /// ends, and the socket proxies made here.
    pub(crate) sock_read: AtomicU64,
    pub(crate) sock_written: AtomicU64,
    pub(crate) sock_proxies: AtomicU64,
    /// Reads of a socket for a migrated end that dropped ancillary data
    /// the peer sent (descriptors, credentials).
    pub(crate) sock_ctrunc: AtomicU64,
    /// Proxies made on this node, and released.
    pub(crate) proxies_made: AtomicU64,
    pub(crate) proxies_released: AtomicU64,
}

pub(crate) static STATS: Stats = Stats {
    anchor_read: AtomicU64::new(0),
    anchor_written: AtomicU64::new(0),
    proxy_read: AtomicU64::new(0),
    proxy_written: AtomicU64::new(0),
    moved_out: AtomicU64::new(0),
    moved_in: AtomicU64::new(0),
    malformed: AtomicU64::new(0),
    refused: AtomicU64::new(0),
    sock_read: AtomicU64::new(0),
    sock_written: AtomicU64::new(0),
    sock_proxies: AtomicU64::new(0),
    sock_ctrunc: AtomicU64::new(0),
    proxies_made: AtomicU64::new(0),
    proxies_released: AtomicU64::new(0),
};

/// Adds `n` to counter `c`.
pub(crate) fn add(c: &AtomicU64, n: usize) {
    c.fetch_add(n as u64, Ordering::Relaxed);
}

/// Counter `c` now.
pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
