// SPDX-License-Identifier: GPL-2.0-only
//! Cluster membership: agreement on the member set on top of TIPC's
//! service events.
//!
//! Each node *observes* peers through TIPC (a peer's ssi service published
//! or withdrawn, which TIPC reports when the peer loads or unloads ssi.ko
//! and when its link is lost after the link tolerance). Observations can
//! differ between nodes for a while (a flapping link, events in different
//! orders), so a node does not act on them directly: the *coordinator*, the
//! lowest id among the candidates it observes, proposes a view (epoch,
//! coordinator, members) and every node adopts the views of the node it
//! considers coordinator, newest first. Once observations settle, all
//! nodes name the same coordinator and hold its latest view.
//!
//! The `model` tests below explore every interleaving of a small cluster
//! with one crash and check that the survivors agree.

use super::codec::{fill, Reader};

/// A set of node ids `0..=255`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeSet([u64; 4]);

impl NodeSet {
    /// The empty set.
    pub const fn new() -> Self {
        NodeSet([0; 4])
    }

    /// Adds `n`.
    pub fn insert(&mut self, n: u8) {
        self.0[(n / 64) as usize] |= 1 << (n % 64);
    }

    /// Removes `n`.
    pub fn remove(&mut self, n: u8) {
        self.0[(n / 64) as usize] &= !(1 << (n % 64));
    }

    /// Whether `n` is in the set.
    pub fn contains(&self, n: u8) -> bool {
        self.0[(n / 64) as usize] & (1 << (n % 64)) != 0
    }

    /// Number of ids in the set.
    pub fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The lowest id, if any.
    pub fn first(&self) -> Option<u8> {
        self.iter().next()
    }

    /// The ids in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0u16..=255)
            .map(|n| n as u8)
            .filter(move |&n| self.contains(n))
    }

    /// Elements of `self` not in `other`.
    pub fn minus(&self, other: &NodeSet) -> NodeSet {
        let mut r = *self;
        for i in 0..4 {
            r.0[i] &= !other.0[i];
        }
        r
    }

    /// Wire form: 32 bytes, bit `n` of byte `n / 8` for id `n`.
    pub fn to_bytes(&self) -> [u8; 32] {
        fill(|w| self.0.iter().try_for_each(|&v| w.u64(v)))
    }

    /// Parses the wire form.
    pub fn from_bytes(b: &[u8; 32]) -> Self {
        let mut r = Reader::new(b);
        // 32 bytes hold the four words: every read succeeds.
        NodeSet(core::array::from_fn(|_| r.u64().unwrap_or(0)))
    }
}

/// A proposed or adopted member set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct View {
    /// Increases with every proposal anywhere in the cluster.
    pub epoch: u64,
    /// The node that proposed it.
    pub coord: u8,
    /// The members.
    pub members: NodeSet,
}

/// Size of an encoded [`View`] payload.
pub const VIEW_LEN: usize = 32;

impl View {
    /// The payload of a view message; epoch and coordinator travel in the
    /// header (id and source).
    pub fn members_bytes(&self) -> [u8; VIEW_LEN] {
        self.members.to_bytes()
    }
}

/// One node's membership state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Membership {
    me: u8,
    /// Peers whose ssi service TIPC reports published (and `me`).
    observed: NodeSet,
    /// Peers reported withdrawn and not published since.
    lost: NodeSet,
    /// Peers retired by `remove`: not candidates until admitted again.
    retired: NodeSet,
    view: View,
    /// The newest view received from a node not (yet) seen as coordinator.
    pending: Option<View>,
    max_epoch: u64,
    /// The coordinator as of the last state change.
    last_coord: u8,
}

impl Membership {
    /// A node alone in its own view.
    pub fn new(me: u8) -> Self {
        let mut m = NodeSet::new();
        m.insert(me);
        Membership {
            me,
            observed: m,
            lost: NodeSet::new(),
            retired: NodeSet::new(),
            view: View {
                epoch: 0,
                coord: me,
                members: m,
            },
            pending: None,
            max_epoch: 0,
            last_coord: me,
        }
    }

    /// This node's id.
    pub fn me(&self) -> u8 {
        self.me
    }

    /// The adopted view.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// Peers currently observed through TIPC.
    pub fn observed(&self) -> &NodeSet {
        &self.observed
    }

    /// Peers retired by `remove`.
    pub fn retired(&self) -> &NodeSet {
        &self.retired
    }

    fn candidates(&self) -> NodeSet {
        let mut c = self.observed.minus(&self.retired);
        c.insert(self.me);
        c
    }

    /// The node this one currently expects views from.
    pub fn coordinator(&self) -> u8 {
        self.candidates().first().unwrap_or(self.me)
    }

    /// The coordinator to ask again for its view, when this node holds no
    /// view of its coordinator that includes it: a view or an ask was lost
    /// (TIPC drops a datagram that a full or not yet bound socket refuses).
    /// The core asks when this stays so for a heartbeat period.
    pub fn stalled(&self) -> Option<u8> {
        let c = self.coordinator();
        (c != self.me && (self.view.coord != c || !self.view.members.contains(self.me)))
            .then_some(c)
    }

    /// After a change of coordinator, adopts the newest view it sent.
    fn settle(&mut self) {
        if let Some(p) = self.pending {
            if p.coord == self.coordinator() {
                if p.coord != self.view.coord || p.epoch > self.view.epoch {
                    self.view = p;
                }
                self.pending = None;
            }
        }
    }

    /// Reacts to a state change: a coordinator proposes a view if the
    /// adopted one is stale; a node whose coordinator changed asks it.
    fn step(&mut self, force: bool) -> Out {
        self.settle();
        let c = self.coordinator();
        let changed = c != self.last_coord;
        self.last_coord = c;
        if c != self.me {
            return if changed && self.view.coord != c {
                Out::Ask(c)
            } else {
                Out::Idle
            };
        }
        let members = self.candidates();
        // Re-propose also when this node just took over, or a newer view
        // exists somewhere: the coordinator's view must be the newest.
        let current = self.view.coord == self.me
            && self.view.members == members
            && self.view.epoch >= self.max_epoch;
        if !force && !changed && current {
            return Out::Idle;
        }
        self.max_epoch = self.max_epoch.saturating_add(1);
        self.view = View {
            epoch: self.max_epoch,
            coord: self.me,
            members,
        };
        Out::Propose(self.view)
    }

    /// TIPC reports peer `n`'s service published.
    pub fn peer_up(&mut self, n: u8) -> Out {
        if n == 0 || n == self.me {
            return Out::Idle;
        }
        self.observed.insert(n);
        self.lost.remove(n);
        self.step(false)
    }

    /// TIPC reports peer `n`'s service withdrawn (unloaded, or link lost).
    pub fn peer_down(&mut self, n: u8) -> Out {
        if n == 0 || n == self.me {
            return Out::Idle;
        }
        self.observed.remove(n);
        self.lost.insert(n);
        self.step(false)
    }

    /// Stops counting `n` as a candidate (sysfs `remove`).
    pub fn retire(&mut self, n: u8) -> Out {
        if n == self.me {
            return Out::Idle;
        }
        self.retired.insert(n);
        self.step(false)
    }

    /// Lets `n` be a candidate again (sysfs `add`).
    pub fn admit(&mut self, n: u8) -> Out {
        self.retired.remove(n);
        self.step(false)
    }

    /// A view message from `from`.
    pub fn on_view(&mut self, from: u8, v: View) -> Out {
        if from == 0 || from == self.me || v.coord != from {
            return Out::Idle;
        }
        self.max_epoch = self.max_epoch.max(v.epoch);
        // A view is evidence that its sender is alive, unless TIPC already
        // reported it lost (a view can overtake the topology event).
        if !self.lost.contains(from) && !self.retired.contains(from) {
            self.observed.insert(from);
        }
        let c = self.coordinator();
        if c == from {
            self.last_coord = c;
            // Views from one coordinator arrive in order (TIPC keeps per-link
            // order): its latest is the one to hold.
            if v.members.contains(self.me)
                && (v.coord != self.view.coord || v.epoch > self.view.epoch)
            {
                self.view = v;
            }
            Out::Idle
        } else if c == self.me {
            // The sender does not know this node yet, or it is stale:
            // supersede its view with a newer epoch.
            self.step(true)
        } else {
            if v.members.contains(self.me) && self.pending.map_or(true, |p| v.epoch > p.epoch) {
                self.pending = Some(v);
            }
            self.step(false)
        }
    }

    /// Leaves the cluster: holds a view of this node alone until [`Self::rejoin`].
    pub fn isolate(&mut self) {
        let mut alone = NodeSet::new();
        alone.insert(self.me);
        self.view = View {
            epoch: self.view.epoch,
            coord: self.me,
            members: alone,
        };
        self.pending = None;
    }

    /// Comes back after [`Self::isolate`]: asks the coordinator for its
    /// view, or proposes one as coordinator.
    pub fn rejoin(&mut self) -> Out {
        self.last_coord = self.me;
        if self.coordinator() != self.me {
            self.last_coord = 0;
        }
        self.step(true)
    }

    /// `from` asks for this node's view: it considers this node coordinator.
    pub fn on_ask(&mut self, from: u8) -> Out {
        if from == 0 || from == self.me {
            return Out::Idle;
        }
        if self.coordinator() == self.me {
            self.step(true)
        } else {
            Out::Idle
        }
    }
}

/// What a node must send after a state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// Nothing.
    Idle,
    /// Send this view to every observed peer.
    Propose(View),
    /// Ask this node (the new coordinator) for its view.
    Ask(u8),
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn set(ids: &[u8]) -> NodeSet {
        let mut s = NodeSet::new();
        for &i in ids {
            s.insert(i);
        }
        s
    }

    #[test]
    fn nodeset_basics_and_wire() {
        let s = set(&[1, 64, 255]);
        assert_eq!(s.len(), 3);
        assert_eq!(s.first(), Some(1));
        assert!(s.contains(64) && !s.contains(2));
        assert_eq!(NodeSet::from_bytes(&s.to_bytes()), s);
        assert_eq!(s.minus(&set(&[1])), set(&[64, 255]));
    }

    #[test]
    fn two_nodes_form() {
        let mut a = Membership::new(1);
        let mut b = Membership::new(2);
        let Out::Propose(va) = a.peer_up(2) else {
            panic!("1 is coordinator")
        };
        assert_eq!(b.peer_up(1), Out::Ask(1));
        assert_eq!(b.on_view(1, va), Out::Idle);
        assert_eq!(a.view(), b.view());
        assert_eq!(a.view().members, set(&[1, 2]));
    }

    #[test]
    fn a_lost_view_is_asked_for_again() {
        let mut a = Membership::new(1);
        let mut b = Membership::new(2);
        assert_eq!(a.stalled(), None);
        // a's view is lost on its way to b.
        let Out::Propose(_) = a.peer_up(2) else {
            panic!("1 is coordinator")
        };
        assert_eq!(b.peer_up(1), Out::Ask(1));
        assert_eq!(b.stalled(), Some(1));
        let Out::Propose(v) = a.on_ask(2) else {
            panic!("the coordinator answers an ask")
        };
        assert_eq!(b.on_view(1, v), Out::Idle);
        assert_eq!(b.stalled(), None);
        assert_eq!(a.view(), b.view());
        assert_eq!(a.stalled(), None);
    }

    #[test]
    fn isolate_and_rejoin() {
        let mut a = Membership::new(1);
        let mut b = Membership::new(2);
        let Out::Propose(v) = a.peer_up(2) else {
            panic!()
        };
        b.peer_up(1);
        b.on_view(1, v);
        b.isolate();
        assert_eq!(b.view().members, set(&[2]));
        assert_eq!(b.rejoin(), Out::Ask(1));
        let Out::Propose(v) = a.on_ask(2) else {
            panic!()
        };
        b.on_view(1, v);
        assert_eq!(b.view().members, set(&[1, 2]));
    }

    #[test]
    fn retired_node_leaves_view() {
        let mut a = Membership::new(1);
        a.peer_up(2);
        a.peer_up(3);
        let Out::Propose(v) = a.retire(3) else {
            panic!()
        };
        assert_eq!(v.members, set(&[1, 2]));
        let Out::Propose(v) = a.admit(3) else {
            panic!()
        };
        assert_eq!(v.members, set(&[1, 2, 3]));
    }

    /// Exhaustive exploration of a small cluster.
    mod model {
        use super::*;
        use std::collections::{BTreeSet, HashSet, VecDeque};
        use std::vec::Vec;

        /// One step of an interleaving, for the counterexample trace.
        #[derive(Clone, Copy, Debug)]
        #[allow(dead_code)]
        enum Event {
            Topo {
                node: usize,
                peer: u8,
                up: bool,
            },
            Deliver {
                node: usize,
                from: usize,
                msg: Option<View>,
            },
            Crash(usize),
        }

        #[derive(Clone, PartialEq, Eq, Hash)]
        struct World {
            nodes: Vec<Membership>,
            alive: Vec<bool>,
            /// Topology events not yet delivered to each node: (peer, up).
            topo: Vec<BTreeSet<(u8, bool)>>,
            /// In-flight messages (a view, or `None` for an ask), FIFO per (from, to).
            chan: Vec<Vec<VecDeque<Option<View>>>>,
            crashed: bool,
        }

        impl World {
            fn new(n: usize) -> Self {
                let ids: Vec<u8> = (1..=n as u8).collect();
                World {
                    nodes: ids.iter().map(|&i| Membership::new(i)).collect(),
                    alive: std::vec![true; n],
                    topo: ids
                        .iter()
                        .map(|&i| {
                            ids.iter()
                                .filter(|&&j| j != i)
                                .map(|&j| (j, true))
                                .collect()
                        })
                        .collect(),
                    chan: std::vec![std::vec![VecDeque::new(); n]; n],
                    crashed: false,
                }
            }

            fn send(&mut self, from: usize, out: Out) {
                match out {
                    Out::Idle => {}
                    // Multicast reaches every node whose service is published.
                    Out::Propose(v) => {
                        for to in 0..self.nodes.len() {
                            if to != from && self.alive[to] {
                                self.chan[from][to].push_back(Some(v));
                            }
                        }
                    }
                    Out::Ask(c) => {
                        let to = c as usize - 1;
                        if self.alive[to] {
                            self.chan[from][to].push_back(None);
                        }
                    }
                }
            }

            fn successors(&self, allow_crash: bool) -> Vec<(World, Event)> {
                let n = self.nodes.len();
                let mut out = Vec::new();
                for i in 0..n {
                    if !self.alive[i] {
                        continue;
                    }
                    for &(peer, up) in &self.topo[i] {
                        let mut w = self.clone();
                        w.topo[i].remove(&(peer, up));
                        let v = if up {
                            w.nodes[i].peer_up(peer)
                        } else {
                            w.nodes[i].peer_down(peer)
                        };
                        w.send(i, v);
                        out.push((
                            w,
                            Event::Topo {
                                node: i + 1,
                                peer,
                                up,
                            },
                        ));
                    }
                    for from in 0..n {
                        if let Some(&v) = self.chan[from][i].front() {
                            let mut w = self.clone();
                            w.chan[from][i].pop_front();
                            let r = match v {
                                Some(v) => w.nodes[i].on_view(from as u8 + 1, v),
                                None => w.nodes[i].on_ask(from as u8 + 1),
                            };
                            w.send(i, r);
                            let _ = r;
                            out.push((
                                w,
                                Event::Deliver {
                                    node: i + 1,
                                    from: from + 1,
                                    msg: v,
                                },
                            ));
                        }
                    }
                    if allow_crash && !self.crashed {
                        let mut w = self.clone();
                        w.crashed = true;
                        w.alive[i] = false;
                        w.topo[i].clear();
                        for j in 0..n {
                            w.chan[j][i].clear();
                            if j != i && w.alive[j] {
                                // Survivors learn of the crash; an "up" for the
                                // crashed node still pending is superseded.
                                w.topo[j].remove(&(i as u8 + 1, true));
                                w.topo[j].insert((i as u8 + 1, false));
                            }
                        }
                        out.push((w, Event::Crash(i + 1)));
                    }
                }
                out
            }

            fn quiescent(&self) -> bool {
                (0..self.nodes.len()).all(|i| {
                    !self.alive[i]
                        || (self.topo[i].is_empty()
                            && (0..self.nodes.len()).all(|f| self.chan[f][i].is_empty()))
                })
            }

            fn check(&self) -> Result<(), std::string::String> {
                let mut survivors = NodeSet::new();
                for (i, m) in self.nodes.iter().enumerate() {
                    if self.alive[i] {
                        survivors.insert(m.me());
                    }
                }
                for (i, m) in self.nodes.iter().enumerate() {
                    if self.alive[i] && m.view().members != survivors {
                        return Err(std::format!(
                            "node {} view {:?} != survivors {:?}",
                            m.me(),
                            m.view(),
                            survivors
                        ));
                    }
                }
                Ok(())
            }
        }

        /// Depth-first search over every interleaving, remembering visited
        /// states by a 64-bit hash; on a disagreement, prints the path.
        fn explore(n: usize, allow_crash: bool) -> usize {
            use std::collections::hash_map::DefaultHasher;
            use std::hash::{Hash, Hasher};
            let fingerprint = |w: &World| {
                let mut h = DefaultHasher::new();
                w.hash(&mut h);
                h.finish()
            };
            let start = World::new(n);
            let mut seen = HashSet::new();
            seen.insert(fingerprint(&start));
            // Each stack entry keeps the labels of the path that led to it.
            let mut stack = std::vec![(start, std::vec::Vec::<Event>::new())];
            while let Some((w, path)) = stack.pop() {
                let next = w.successors(allow_crash);
                if next.is_empty() || w.quiescent() {
                    if let Err(e) = w.check() {
                        panic!("disagreement after {} states: {e}\n{:#?}", seen.len(), path);
                    }
                }
                for (nw, label) in next {
                    if seen.insert(fingerprint(&nw)) {
                        let mut p = path.clone();
                        p.push(label);
                        stack.push((nw, p));
                    }
                }
            }
            seen.len()
        }

        #[test]
        fn three_nodes_form_and_survive_any_single_crash() {
            let states = explore(3, true);
            std::println!("explored {states} states");
            assert!(states > 1000, "explored only {states} states");
        }

        #[test]
        #[ignore = "long: run by make model-check"]
        fn four_nodes_form_and_survive_any_single_crash() {
            explore(4, true);
        }
    }
}
