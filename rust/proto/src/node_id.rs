// SPDX-License-Identifier: GPL-2.0-only
//! Cluster node identifiers.

use core::fmt;

/// Largest node id: ids are one octet on the wire and 0 means "unset".
pub const MAX_NODE_ID: u32 = 255;

/// A node identifier in `1..=MAX_NODE_ID`.
///
/// # Invariants
///
/// `1 <= self.0 <= MAX_NODE_ID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u8);

impl NodeId {
    /// Returns the id for `raw`, or `None` when it is 0 or above [`MAX_NODE_ID`].
    pub const fn new(raw: u32) -> Option<Self> {
        if raw >= 1 && raw <= MAX_NODE_ID {
            // INVARIANT: checked just above.
            Some(NodeId(raw as u8))
        } else {
            None
        }
    }

    /// The id as an integer.
    pub const fn get(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
