// SPDX-License-Identifier: GPL-2.0-only
//! Exhaustive exploration of the protocol: 3 nodes, 2 objects (homes on
//! nodes 1 and 2), each node doing a bounded number of reads and writes of
//! either object, in any order; any interleaving of the nodes' steps and
//! the deliveries, and any message in flight may be delivered next (links
//! reorder freely).
//!
//! Checked in every state: at most one `Modified` copy of an object, never
//! with a `Shared` one; every readable copy holds the last value written.
//! Checked at every read: it returns the last value written (the writes
//! are ordered by the moment they are done, which is a sequentially
//! consistent order, and real time too). Checked at every delivery: the
//! message is handled, not refused. Checked in every state without a
//! successor: every node did all its operations, no message is in flight,
//! no request waits at a home (no deadlock, no message left unhandled).

extern crate std;

use super::home::Bug;
use super::*;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::format;
use std::hash::{Hash, Hasher};
use std::string::String;
use std::vec::Vec;

const NODES: usize = 3;
const OBJS: usize = 2;

fn obj(k: usize) -> Obj {
    Obj {
        container: 1,
        index: k as u64,
    }
}

/// Node id of object `k`'s home.
fn home_of(k: usize) -> u8 {
    k as u8 + 1
}

/// One step of an interleaving, for a counterexample's trace.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)]
enum Event {
    /// A node starts an access: hit or request.
    Access { node: u8, obj: usize, write: bool },
    /// A node does the access it was granted, and sends `Done`.
    Perform { node: u8, obj: usize },
    /// A message delivered, with the value it carries.
    Deliver {
        from: u8,
        to: u8,
        msg: Msg,
        value: u32,
    },
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Node {
    copies: [Copy; OBJS],
    /// The contents of each copy (meaningful when not `Invalid`).
    vals: [u32; OBJS],
    /// Operations still to start.
    left: u8,
    /// Writes done, to make every written value distinct.
    writes: u8,
    /// The access waiting for its answer: object and whether a write.
    cur: Option<(usize, bool)>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct World {
    nodes: [Node; NODES],
    homes: [Home<NODES>; OBJS],
    /// The homes' memory.
    mem: [u32; OBJS],
    /// The value of the last write done, per object.
    last: [u32; OBJS],
    /// Messages in flight (from, to, message, carried value), sorted: a
    /// multiset, any of which may be delivered next.
    net: Vec<(u8, u8, Msg, u32)>,
}

impl World {
    fn new(ops: [u8; NODES], bug: Bug) -> Self {
        let node = |i: usize| Node {
            copies: core::array::from_fn(|k| Copy::new(obj(k), home_of(k))),
            vals: [0; OBJS],
            left: ops[i],
            writes: 0,
            cur: None,
        };
        let homes = core::array::from_fn(|k| {
            let mut h = Home::new(obj(k));
            h.bug = bug;
            h
        });
        World {
            nodes: core::array::from_fn(node),
            homes,
            mem: [0; OBJS],
            last: [0; OBJS],
            net: Vec::new(),
        }
    }

    /// Queues what `from` sends; a message that carries the object
    /// carries the home's memory (a home's `Data`) or the sender's copy.
    fn send(&mut self, from: u8, out: Out, from_home: bool) {
        for (to, m) in out.sends() {
            let k = m.obj().index as usize;
            let value = if !m.carries_object() {
                0
            } else if from_home {
                self.mem[k]
            } else {
                self.nodes[from as usize - 1].vals[k]
            };
            self.net.push((from, to, m, value));
        }
        self.net.sort_unstable();
    }

    /// Does node `i`'s access of object `k`, which its copy allows.
    fn perform(&mut self, i: usize, k: usize, write: bool) -> Result<(), String> {
        let n = &mut self.nodes[i];
        n.left -= 1;
        if write {
            if n.copies[k].state() != State::Modified {
                return Err(format!(
                    "node {} writes object {k} without the writable copy",
                    i + 1
                ));
            }
            n.writes += 1;
            let v = (i as u32 + 1) * 100 + u32::from(n.writes);
            n.vals[k] = v;
            self.last[k] = v;
        } else if n.vals[k] != self.last[k] {
            return Err(format!(
                "node {} reads {} from object {k}, last written {}",
                i + 1,
                n.vals[k],
                self.last[k]
            ));
        }
        Ok(())
    }

    fn successors(&self) -> Vec<(Result<World, String>, Event)> {
        let mut out = Vec::new();
        for i in 0..NODES {
            let node = i as u8 + 1;
            let n = &self.nodes[i];
            match n.cur {
                Some((k, write)) if n.copies[k].held() => {
                    let mut w = self.clone();
                    let r = w.perform(i, k, write).map(|()| {
                        w.nodes[i].cur = None;
                        let done = w.nodes[i].copies[k].done();
                        let mut o = Out::new();
                        o.msgs[0] = done.map(|m| (home_of(k), m));
                        w.send(node, o, false);
                        w
                    });
                    out.push((r, Event::Perform { node, obj: k }));
                }
                Some(_) => {}
                None if n.left > 0 => {
                    for k in 0..OBJS {
                        for write in [false, true] {
                            let mut w = self.clone();
                            let r = match w.nodes[i].copies[k].access(write) {
                                Access::Hit => w.perform(i, k, write).map(|()| w),
                                Access::Miss(m) => {
                                    w.nodes[i].cur = Some((k, write));
                                    let mut o = Out::new();
                                    o.msgs[0] = Some((home_of(k), m));
                                    w.send(node, o, false);
                                    Ok(w)
                                }
                                Access::Wait => {
                                    Err(format!("node {node} waits with nothing asked"))
                                }
                            };
                            out.push((
                                r,
                                Event::Access {
                                    node,
                                    obj: k,
                                    write,
                                },
                            ));
                        }
                    }
                }
                None => {}
            }
        }
        for (j, &(from, to, msg, value)) in self.net.iter().enumerate() {
            if j > 0 && self.net[j - 1] == self.net[j] {
                continue;
            }
            let mut w = self.clone();
            w.net.remove(j);
            let ev = Event::Deliver {
                from,
                to,
                msg,
                value,
            };
            out.push((w.deliver(from, to, msg, value).map(|()| w), ev));
        }
        out
    }

    fn deliver(&mut self, from: u8, to: u8, msg: Msg, value: u32) -> Result<(), String> {
        let k = msg.obj().index as usize;
        let i = to as usize - 1;
        let refused = || format!("node {to} refused {msg:?} from {from}");
        if msg.to_home() {
            if home_of(k) != to {
                return Err(refused());
            }
            let o = self.homes[k].on_msg(from, msg).map_err(|_| refused())?;
            if matches!(msg, Msg::WriteBack { .. }) {
                self.mem[k] = value;
            }
            self.send(to, o, true);
        } else {
            let o = self.nodes[i].copies[k]
                .on_msg(from, msg)
                .map_err(|_| refused())?;
            if matches!(msg, Msg::Data { .. }) {
                self.nodes[i].vals[k] = value;
            }
            self.send(to, o, false);
        }
        Ok(())
    }

    /// The invariants of every state.
    fn check(&self) -> Result<(), String> {
        for k in 0..OBJS {
            let (mut m, mut s) = (0, 0);
            for (i, n) in self.nodes.iter().enumerate() {
                match n.copies[k].state() {
                    State::Modified => m += 1,
                    State::Shared => s += 1,
                    State::Invalid => continue,
                }
                if n.vals[k] != self.last[k] {
                    return Err(format!(
                        "node {} holds {} of object {k}, last written {}",
                        i + 1,
                        n.vals[k],
                        self.last[k]
                    ));
                }
            }
            if m > 1 || (m == 1 && s > 0) {
                return Err(format!("object {k}: {m} writable and {s} readable copies"));
            }
        }
        Ok(())
    }

    /// The checks of a state without a successor.
    fn check_end(&self) -> Result<(), String> {
        for (i, n) in self.nodes.iter().enumerate() {
            if n.left > 0 || n.cur.is_some() {
                return Err(format!("deadlock: node {} has not finished", i + 1));
            }
        }
        if !self.net.is_empty() {
            return Err(format!("messages left in flight: {:?}", self.net));
        }
        for (k, h) in self.homes.iter().enumerate() {
            if h.serving().is_some() || h.waiting() > 0 {
                return Err(format!("home of object {k} still busy"));
            }
        }
        Ok(())
    }
}

fn fingerprint(w: &World) -> u64 {
    let mut h = DefaultHasher::new();
    w.hash(&mut h);
    h.finish()
}

/// Depth-first search over every interleaving, each node doing `ops`
/// operations, remembering visited states by a 64-bit hash. Returns the
/// number of states, or the first violation with the path to it.
fn explore(ops: [u8; NODES], bug: Bug) -> Result<usize, String> {
    let start = World::new(ops, bug);
    let mut seen = HashSet::new();
    seen.insert(fingerprint(&start));
    // Each stack entry is a state, its depth and the step that led to it;
    // `trail` is the path to the state being expanded.
    let mut stack = std::vec![(start, 0usize, None)];
    let mut trail: Vec<Event> = Vec::new();
    while let Some((w, depth, ev)) = stack.pop() {
        trail.truncate(depth.saturating_sub(1));
        trail.extend(ev);
        let next = w.successors();
        let states = seen.len();
        let trace = |e: String, last: Option<Event>| {
            let mut p = trail.clone();
            p.extend(last);
            format!("{e} after {states} states\n{p:#?}")
        };
        if next.is_empty() {
            w.check_end().map_err(|e| trace(e, None))?;
        }
        for (r, ev) in next {
            let nw = r.map_err(|e| trace(e, Some(ev)))?;
            nw.check().map_err(|e| trace(e, Some(ev)))?;
            if seen.insert(fingerprint(&nw)) {
                stack.push((nw, depth + 1, Some(ev)));
            }
        }
    }
    Ok(seen.len())
}

fn run(ops: [u8; NODES]) -> usize {
    let t = std::time::Instant::now();
    let states = explore(ops, Bug::None).unwrap_or_else(|e| panic!("{e}"));
    std::println!(
        "dsm: 3 nodes, 2 objects, {ops:?} operations: {states} states in {:.1?}",
        t.elapsed()
    );
    states
}

#[test]
fn every_interleaving_of_four_operations() {
    assert!(run([2, 1, 1]) > 10_000);
}

#[test]
#[ignore = "long: run by make model-check"]
fn every_interleaving_of_two_operations_a_node() {
    run([2, 2, 2]);
}

#[test]
fn granting_before_the_acks_is_caught() {
    let e = explore([1, 1, 1], Bug::NoInvWait).expect_err("the checker must fail");
    std::println!(
        "dsm: the checker fails as it should: {}",
        e.lines().next().unwrap_or("")
    );
    assert!(
        e.contains("writable and") || e.contains("reads") || e.contains("holds"),
        "{e}"
    );
}
