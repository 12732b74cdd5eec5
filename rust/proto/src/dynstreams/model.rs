// SPDX-License-Identifier: GPL-2.0-only
//! Exhaustive exploration of a handle's sequence numbers: one proxy
//! writes (or reads) a few bytes through the anchor's pipe, and may, at
//! any moment between two requests, migrate to another node. Requests may
//! be sent again at any time (a lost answer, a signal), any request or
//! answer in flight may be delivered next (reordering, late copies from
//! the node the process left) or lost, and the pipe takes only what fits
//! (partial writes).
//!
//! Checked in every state: the bytes that went through the pipe are a
//! prefix of what the proxy wrote, in order, none twice; no request the
//! proxy waits for is refused (a late copy may be). Checked in every
//! state without a successor where the proxy is done: every byte arrived.
//! The same checks must fail on two designs the cursors replace: a cursor
//! per node, copied when the process moves (writes: a late copy of a
//! partial write from the old node is written again), and reads that hold
//! nothing for a replay (a lost answer loses its bytes).

extern crate std;

use super::cursor::{ReadCursor, ReadStep, WriteCursor};
use std::collections::HashSet;
use std::format;
use std::string::String;
use std::vec::Vec;

/// Bytes the proxy moves.
const N: u8 = 4;
/// The pipe's room (writes).
const CAP: usize = 2;
/// Largest request.
const MAX_LEN: usize = 2;
/// Copies the proxy may send again.
const RETRIES: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Design {
    /// One cursor per handle, carried across migrations (the design).
    Handle,
    /// A cursor per node, the new node's copied from the old one's.
    PerNode,
    /// Reads that hold nothing for a replay: every read takes from the
    /// pipe.
    NoHold,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Req {
    node: u8,
    seq: u64,
    len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Ans {
    seq: u64,
    /// Write: bytes done; read: the bytes.
    done: usize,
    data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct World {
    reading: bool,
    node: u8,
    seq: u64,
    outstanding: Option<(u64, usize)>,
    retries: u8,
    moved: bool,
    reqs: Vec<Req>,
    answers: Vec<Ans>,
    wcur: [WriteCursor; 2],
    rcur: [ReadCursor; 2],
    /// Bytes held for a replay, per cursor.
    held: [Vec<u8>; 2],
    pipe: Vec<u8>,
    /// What the anchor's local reader took (writes) or the proxy
    /// received (reads).
    out: Vec<u8>,
    eof: bool,
    refused: bool,
}

impl World {
    fn new(reading: bool) -> Self {
        World {
            reading,
            node: 0,
            seq: 0,
            outstanding: None,
            retries: RETRIES,
            moved: false,
            reqs: Vec::new(),
            answers: Vec::new(),
            wcur: [WriteCursor::new(); 2],
            rcur: [ReadCursor::new(); 2],
            held: [Vec::new(), Vec::new()],
            pipe: if reading {
                (0..N).collect()
            } else {
                Vec::new()
            },
            out: Vec::new(),
            eof: false,
            refused: false,
        }
    }

    fn cursor_of(&self, node: u8, d: Design) -> usize {
        match d {
            Design::Handle | Design::NoHold => 0,
            Design::PerNode => usize::from(node),
        }
    }

    fn successors(&self, d: Design) -> Vec<World> {
        let mut next = Vec::new();
        let done = if self.reading {
            self.eof
        } else {
            self.seq == u64::from(N)
        };
        // The proxy sends a new request.
        if self.outstanding.is_none() && !done {
            let room = if self.reading {
                MAX_LEN
            } else {
                (u64::from(N) - self.seq) as usize
            };
            for len in 1..=room.min(MAX_LEN) {
                let mut w = self.clone();
                w.outstanding = Some((w.seq, len));
                w.reqs.push(Req {
                    node: w.node,
                    seq: w.seq,
                    len,
                });
                next.push(w);
            }
        }
        // It sends the request again.
        if let (Some((seq, len)), true) = (self.outstanding, self.retries > 0) {
            let mut w = self.clone();
            w.retries -= 1;
            w.reqs.push(Req {
                node: w.node,
                seq,
                len,
            });
            next.push(w);
        }
        // It migrates between two requests.
        if self.outstanding.is_none() && !self.moved && !done {
            let mut w = self.clone();
            w.moved = true;
            w.node = 1;
            if d == Design::PerNode {
                w.wcur[1] = w.wcur[0];
                w.rcur[1] = w.rcur[0];
                w.held[1] = w.held[0].clone();
            }
            next.push(w);
        }
        // The anchor's local reader takes a byte (writes).
        if !self.reading && !self.pipe.is_empty() {
            let mut w = self.clone();
            let b = w.pipe.remove(0);
            w.out.push(b);
            next.push(w);
        }
        for i in 0..self.reqs.len() {
            // Lost.
            let mut w = self.clone();
            w.reqs.remove(i);
            next.push(w);
            // Delivered.
            let mut w = self.clone();
            let r = w.reqs.remove(i);
            w.serve(&r, d);
            next.push(w);
        }
        for i in 0..self.answers.len() {
            let mut w = self.clone();
            w.answers.remove(i);
            next.push(w.clone());
            let a = self.answers[i].clone();
            if w.outstanding.map(|(s, _)| s) == Some(a.seq) {
                w.outstanding = None;
                if w.reading {
                    if a.data.is_empty() {
                        w.eof = true;
                    }
                    w.seq += a.data.len() as u64;
                    w.out.extend_from_slice(&a.data);
                } else {
                    w.seq += a.done as u64;
                }
                next.push(w);
            }
        }
        next
    }

    fn serve(&mut self, r: &Req, d: Design) {
        let c = self.cursor_of(r.node, d);
        // A refusal matters if the proxy waits for that answer; a late
        // copy nobody waits for may be refused.
        let awaited = r.node == self.node && self.outstanding.map(|(s, _)| s) == Some(r.seq);
        if self.reading {
            let step = match d {
                Design::NoHold => ReadStep::Fresh,
                _ => self.rcur[c].ask(r.seq, r.len),
            };
            match step {
                ReadStep::Refuse => self.refused |= awaited,
                ReadStep::Replay => self.answers.push(Ans {
                    seq: r.seq,
                    done: 0,
                    data: self.held[c].clone(),
                }),
                ReadStep::Fresh => {
                    let n = r.len.min(self.pipe.len());
                    let data: Vec<u8> = self.pipe.drain(..n).collect();
                    self.rcur[c].read(n);
                    self.held[c] = data.clone();
                    self.answers.push(Ans {
                        seq: r.seq,
                        done: 0,
                        data,
                    });
                }
            }
        } else {
            let Some(skip) = self.wcur[c].offer(r.seq, r.len) else {
                self.refused |= awaited;
                return;
            };
            let room = CAP - self.pipe.len();
            let n = (r.len - skip).min(room);
            let from = (r.seq + skip as u64) as u8;
            self.pipe.extend(from..from + n as u8);
            let done = self.wcur[c].wrote(skip, n);
            self.answers.push(Ans {
                seq: r.seq,
                done,
                data: Vec::new(),
            });
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.refused {
            return Err(String::from("a request was refused"));
        }
        let mut through = self.out.clone();
        if !self.reading {
            through.extend_from_slice(&self.pipe);
        }
        let want: Vec<u8> = (0..N).collect();
        if through.len() > want.len() || through[..] != want[..through.len()] {
            return Err(format!("bytes out of order or twice: {:?}", through));
        }
        Ok(())
    }

    fn check_end(&self) -> Result<(), String> {
        let done = if self.reading {
            self.eof
        } else {
            self.seq == u64::from(N)
        };
        let all: Vec<u8> = (0..N).collect();
        let mut through = self.out.clone();
        if !self.reading {
            through.extend_from_slice(&self.pipe);
        }
        if done && through != all {
            return Err(format!("done but bytes lost: {:?}", through));
        }
        Ok(())
    }
}

fn explore(reading: bool, d: Design) -> Result<usize, String> {
    let start = World::new(reading);
    let mut seen = HashSet::new();
    seen.insert(start.clone());
    let mut stack = std::vec![start];
    while let Some(w) = stack.pop() {
        w.check()?;
        let next = w.successors(d);
        if next.is_empty() {
            w.check_end()?;
        }
        for n in next {
            if seen.insert(n.clone()) {
                stack.push(n);
            }
        }
    }
    Ok(seen.len())
}

#[test]
fn writes_lose_and_repeat_nothing() {
    let states = explore(false, Design::Handle).unwrap();
    assert!(states > 1000, "{} states", states);
}

#[test]
fn reads_lose_and_repeat_nothing() {
    let states = explore(true, Design::Handle).unwrap();
    assert!(states > 1000, "{} states", states);
}

#[test]
fn a_cursor_per_node_repeats_writes() {
    let e = explore(false, Design::PerNode).expect_err("the checker must fail");
    std::println!("per-node cursor, writes: {}", e);
}

#[test]
fn reads_without_replay_lose_bytes() {
    let e = explore(true, Design::NoHold).expect_err("the checker must fail");
    std::println!("no replay, reads: {}", e);
}
