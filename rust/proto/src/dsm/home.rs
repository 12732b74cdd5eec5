// SPDX-License-Identifier: GPL-2.0-only
//! The directory: one object's state at its home node.
//!
//! The home serves one request of an object at a time (a *blocking*
//! directory): the request it serves is a transaction that ends with the
//! requester's `Done`, and requests that arrive meanwhile wait in a FIFO
//! queue, served in their order of arrival. Every message of a transaction
//! is consumed before its `Done` is sent, so no message of one
//! transaction is in flight when the next starts, and links need not keep
//! order. The copyset is exact: copies change only inside transactions.
//!
//! | directory      | request of `n` | sends                                 | waits for            |
//! |----------------|----------------|---------------------------------------|----------------------|
//! | `Uncached`     | read           | `Data` (shared) to `n`                 | `Done`               |
//! | `Uncached`     | write          | `Data` (exclusive) to `n`              | `Done`               |
//! | `Shared(s)`    | read           | `Data` (shared) to `n`                 | `Done`               |
//! | `Shared(s)`    | write          | `Inv` to `s - n` in parallel, then `Grant` (`n` in `s`) or `Data` | every `InvAck`, `Done` |
//! | `Exclusive(o)` | read           | `Fwd` (shared) to `o`                  | `WriteBack`, `Done`  |
//! | `Exclusive(o)` | write          | `Fwd` (exclusive) to `o`               | `Done`               |
//!
//! After the transaction the directory is `Shared(s + n)`, `Exclusive(n)`
//! or `Shared({o, n})`. A message that does not belong to the transaction
//! in progress (a second request of a node already waiting, an `InvAck`
//! from a node not invalidated, a `Done` of another request, a `Fwd`, ...)
//! is refused with an error and counted; it changes nothing.

use super::super::membership::NodeSet;
use super::msg::{Msg, Obj};
use super::{Out, Refused};

/// What the home knows of the copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Only the home's memory holds the object.
    Uncached,
    /// These nodes hold readable copies; the home's memory is current.
    Shared(NodeSet),
    /// This node holds the only, writable, copy.
    Exclusive(u8),
}

/// A request waiting at the home, or being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    pub node: u8,
    pub req: u32,
    pub write: bool,
}

/// The request being served and what it still waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Txn {
    r: Request,
    /// Sharers whose `InvAck` is due.
    acks: NodeSet,
    /// The old owner, whose `WriteBack` is due.
    wb: Option<u8>,
    /// The requester was a sharer: a `Grant` is due once every ack came.
    grant_due: bool,
    /// The `Data` or `Grant` was sent.
    answered: bool,
    done: bool,
}

/// One object's directory entry at its home, with room for `Q` (at
/// least 1) waiting requests: one per node that may ask, as a node has
/// at most one request of an object waiting.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Home<const Q: usize> {
    obj: Obj,
    dir: Dir,
    txn: Option<Txn>,
    queue: [Option<Request>; Q],
    head: usize,
    len: usize,
    refused: u64,
    #[cfg(test)]
    pub(super) bug: Bug,
}

/// Deliberate mistakes, to show that the model check finds them.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Bug {
    None,
    /// Grants the writable copy without waiting for the `InvAck`s.
    NoInvWait,
}

impl<const Q: usize> Home<Q> {
    /// The entry of `obj`, held by the home's memory alone.
    pub fn new(obj: Obj) -> Self {
        Home {
            obj,
            dir: Dir::Uncached,
            txn: None,
            queue: [None; Q],
            head: 0,
            len: 0,
            refused: 0,
            #[cfg(test)]
            bug: Bug::None,
        }
    }

    /// The directory state (after the transaction in progress, if any).
    pub fn dir(&self) -> Dir {
        self.dir
    }

    /// The request being served.
    pub fn serving(&self) -> Option<Request> {
        self.txn.map(|t| t.r)
    }

    /// Number of requests waiting.
    pub fn waiting(&self) -> usize {
        self.len
    }

    /// Messages refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    fn refuse(&mut self) -> Result<Out, Refused> {
        self.refused = self.refused.saturating_add(1);
        Err(Refused)
    }

    fn queued(&self, node: u8) -> bool {
        (0..self.len).any(|i| self.queue[(self.head + i) % Q].is_some_and(|r| r.node == node))
    }

    /// A message from `from` about this object.
    pub fn on_msg(&mut self, from: u8, msg: Msg) -> Result<Out, Refused> {
        if msg.obj() != self.obj || from == 0 {
            return self.refuse();
        }
        match msg {
            Msg::ReadReq { req, .. } | Msg::WriteReq { req, .. } => {
                let r = Request {
                    node: from,
                    req,
                    write: matches!(msg, Msg::WriteReq { .. }),
                };
                // A node asks again once its access is done, and its
                // `Done` may still be on its way: that request waits in
                // the queue like any other. A second request waiting, or
                // the one being served sent again, is refused.
                if self.txn.is_some_and(|t| t.r.node == from && t.r.req == req)
                    || self.queued(from)
                    || self.len == Q
                {
                    return self.refuse();
                }
                if self.txn.is_some() {
                    self.queue[(self.head + self.len) % Q] = Some(r);
                    self.len += 1;
                    return Ok(Out::new());
                }
                match self.start(r) {
                    Some(out) => Ok(out),
                    None => self.refuse(),
                }
            }
            Msg::InvAck { req, .. } => {
                let Some(t) = self.txn.as_mut() else {
                    return self.refuse();
                };
                if t.r.req != req || !t.acks.contains(from) {
                    return self.refuse();
                }
                t.acks.remove(from);
                if t.acks.is_empty() && !t.answered {
                    t.answered = true;
                    let (r, grant) = (t.r, t.grant_due);
                    let mut out = Out::new();
                    out.push(r.node, self.answer(r, grant));
                    return Ok(out);
                }
                // (Only a home that answered early gets here with its
                // `Done` in.)
                self.finish()
            }
            Msg::WriteBack { req, .. } => match self.txn.as_mut() {
                Some(t) if t.r.req == req && t.wb == Some(from) => {
                    t.wb = None;
                    self.finish()
                }
                _ => self.refuse(),
            },
            Msg::Done { req, .. } => match self.txn.as_mut() {
                Some(t) if t.r.node == from && t.r.req == req && !t.done && t.answered => {
                    t.done = true;
                    self.finish()
                }
                _ => self.refuse(),
            },
            Msg::Fwd { .. } | Msg::Inv { .. } | Msg::Data { .. } | Msg::Grant { .. } => {
                self.refuse()
            }
        }
    }

    fn answer(&self, r: Request, grant: bool) -> Msg {
        if grant {
            Msg::Grant {
                obj: self.obj,
                req: r.req,
            }
        } else {
            Msg::Data {
                obj: self.obj,
                req: r.req,
                excl: r.write,
            }
        }
    }

    /// Serves `r`: what to send, and the directory after it; `None` if
    /// `r` cannot be served (nothing changed).
    fn start(&mut self, r: Request) -> Option<Out> {
        let mut out = Out::new();
        let mut t = Txn {
            r,
            acks: NodeSet::new(),
            wb: None,
            grant_due: false,
            answered: true,
            done: false,
        };
        let n = r.node;
        match (self.dir, r.write) {
            (Dir::Exclusive(o), _) if o == n => {
                // The owner asks again: it lost its copy, which no
                // message of this protocol does. Nothing to serve.
                return None;
            }
            (Dir::Uncached, false) => {
                out.push(n, self.answer(r, false));
                self.dir = Dir::Shared(one(n));
            }
            (Dir::Shared(mut s), false) => {
                out.push(n, self.answer(r, false));
                s.insert(n);
                self.dir = Dir::Shared(s);
            }
            (Dir::Uncached, true) => {
                out.push(n, self.answer(r, false));
                self.dir = Dir::Exclusive(n);
            }
            (Dir::Shared(s), true) => {
                let mut others = s;
                others.remove(n);
                t.grant_due = s.contains(n);
                t.acks = others;
                if others.is_empty() || self.skip_acks() {
                    out.push(n, self.answer(r, t.grant_due));
                } else {
                    t.answered = false;
                }
                if !others.is_empty() {
                    out.inv = Some((
                        others,
                        Msg::Inv {
                            obj: self.obj,
                            req: r.req,
                        },
                    ));
                }
                self.dir = Dir::Exclusive(n);
            }
            (Dir::Exclusive(o), write) => {
                out.push(
                    o,
                    Msg::Fwd {
                        obj: self.obj,
                        req: r.req,
                        to: n,
                        excl: write,
                    },
                );
                if write {
                    self.dir = Dir::Exclusive(n);
                } else {
                    t.wb = Some(o);
                    let mut s = one(o);
                    s.insert(n);
                    self.dir = Dir::Shared(s);
                }
            }
        }
        self.txn = Some(t);
        Some(out)
    }

    #[cfg(test)]
    fn skip_acks(&self) -> bool {
        self.bug == Bug::NoInvWait
    }

    #[cfg(not(test))]
    fn skip_acks(&self) -> bool {
        false
    }

    /// Ends the transaction once it has all it waits for, and serves the
    /// next request.
    fn finish(&mut self) -> Result<Out, Refused> {
        match self.txn {
            Some(t) if t.done && t.wb.is_none() && t.acks.is_empty() => {}
            _ => return Ok(Out::new()),
        }
        self.txn = None;
        // Serves the oldest request waiting; one that cannot be served is
        // refused and counted, and the next one is served.
        while self.len > 0 {
            let r = self.queue[self.head].take();
            self.head = (self.head + 1) % Q;
            self.len -= 1;
            match r.map(|r| self.start(r)) {
                Some(Some(out)) => return Ok(out),
                Some(None) => self.refused = self.refused.saturating_add(1),
                None => {}
            }
        }
        Ok(Out::new())
    }
}

fn one(n: u8) -> NodeSet {
    let mut s = NodeSet::new();
    s.insert(n);
    s
}
