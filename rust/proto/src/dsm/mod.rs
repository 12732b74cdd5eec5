// SPDX-License-Identifier: GPL-2.0-only
//! Containers: coherent distributed shared memory.
//!
//! An object (a page of a segment, a small kernel object) is named
//! cluster-wide by an [`Obj`] and has a *home* node, which keeps its
//! directory entry ([`Home`]): the nodes that hold copies, and the queue
//! of requests. Each node keeps its [`Copy`] of the objects it uses. The
//! protocol is MSI write-invalidate, sequentially consistent, with one
//! writable copy or any number of readable ones: a read miss asks the
//! home, which answers from its memory or forwards the request to the
//! owner; a write miss makes the home invalidate every other copy, in
//! parallel, and collect the acknowledgements before it grants. The home
//! serves one request of an object at a time, in order of arrival, and a
//! node that was granted an object does its first access before the home
//! serves the next: no starvation, no livelock. Links may reorder
//! messages. See Documentation/ssi/containers.rst; the model check is
//! `model.rs` (`make model-check`).
//!
//! Everything here decides and encodes; the caller moves the objects'
//! contents: a `Data` or `WriteBack` carries the sender's copy (the
//! home's memory for a `Data` the home sends), and a received one is
//! installed before the access it answers is done.

use super::membership::NodeSet;

mod copy;
mod home;
#[cfg(test)]
mod model;
mod msg;
#[cfg(test)]
mod tests;

pub use self::{copy::*, home::*, msg::*};

/// A message that does not fit the state it arrived in: refused, counted,
/// and nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

/// What to send after an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Out {
    /// Up to two messages, each to a node.
    pub msgs: [Option<(u8, Msg)>; 2],
    /// One message to each node of a set (the home's `Inv`s).
    pub inv: Option<(NodeSet, Msg)>,
    /// (A copy) the object arrived or became writable: install a `Data`'s
    /// payload, do the access that waited, then call [`Copy::done`].
    pub granted: bool,
}

impl Out {
    /// Nothing to send.
    pub fn new() -> Self {
        Out::default()
    }

    fn push(&mut self, to: u8, msg: Msg) {
        if let Some(slot) = self.msgs.iter_mut().find(|m| m.is_none()) {
            *slot = Some((to, msg));
        }
    }

    /// Every message to send, with its destination.
    pub fn sends(&self) -> impl Iterator<Item = (u8, Msg)> + '_ {
        let inv = self
            .inv
            .iter()
            .flat_map(|(set, m)| set.iter().map(move |n| (n, *m)));
        self.msgs.iter().flatten().copied().chain(inv)
    }
}
