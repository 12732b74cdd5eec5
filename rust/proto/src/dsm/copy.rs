// SPDX-License-Identifier: GPL-2.0-only
//! A node's copy of one object.
//!
//! | state      | event                   | sends                                   | next            |
//! |------------|-------------------------|-----------------------------------------|-----------------|
//! | `Invalid`  | read                    | `ReadReq` to the home                   | `Invalid`, read pending  |
//! | `Invalid`  | write                   | `WriteReq` to the home                  | `Invalid`, write pending |
//! | `Shared`   | read                    | (a hit)                                 | `Shared`        |
//! | `Shared`   | write                   | `WriteReq` to the home                  | `Shared`, write pending  |
//! | `Modified` | read or write           | (a hit)                                 | `Modified`      |
//! | pending    | `Data` of its request   | (the caller installs the object)        | `Shared` or `Modified`, held |
//! | `Shared`, write pending | `Grant` of its request | | `Modified`, held |
//! | held       | first access done       | `Done` to the home                      | not held        |
//! | `Shared`   | `Inv`                   | `InvAck` to the home                    | `Invalid`       |
//! | `Modified` | `Fwd` exclusive         | `Data` (exclusive) to the requester     | `Invalid`       |
//! | `Modified` | `Fwd` shared            | `Data` (shared) to the requester, `WriteBack` to the home | `Shared` |
//!
//! A write pending from `Shared` can meet an `Inv` (another node's write
//! was queued first): the copy becomes `Invalid`, still pending, and the
//! home answers with `Data` rather than `Grant`. A copy *held* keeps its
//! access until its first access is done ([`Copy::done`]): the home serves
//! nothing else of the object before that `Done`, so a node that got the
//! object always makes progress, and then yields to the next request
//! queued. Any other message is refused and counted.

use super::msg::{Msg, Obj};
use super::{Out, Refused};

/// The access a copy gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Invalid,
    Shared,
    Modified,
}

/// The request a copy has outstanding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Want {
    req: u32,
    write: bool,
    /// Answered: the first access is due, then `Done`.
    held: bool,
}

/// What an access needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The copy allows it: do it now.
    Hit,
    /// Send this request to the home and wait for its answer.
    Miss(Msg),
    /// A request is outstanding: wait for it.
    Wait,
}

/// One node's copy of one object, whose home is `home`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Copy {
    obj: Obj,
    home: u8,
    state: State,
    want: Option<Want>,
    next_req: u32,
    refused: u64,
}

impl Copy {
    /// No copy of `obj` yet.
    pub fn new(obj: Obj, home: u8) -> Self {
        Copy {
            obj,
            home,
            state: State::Invalid,
            want: None,
            next_req: 0,
            refused: 0,
        }
    }

    /// The access the copy gives now.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether a request is outstanding (answered or not).
    pub fn busy(&self) -> bool {
        self.want.is_some()
    }

    /// Whether the copy was granted and its first access is due.
    pub fn held(&self) -> bool {
        self.want.is_some_and(|w| w.held)
    }

    /// Messages refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    fn refuse(&mut self) -> Result<Out, Refused> {
        self.refused = self.refused.saturating_add(1);
        Err(Refused)
    }

    /// A read (`write` false) or a write of the object.
    pub fn access(&mut self, write: bool) -> Access {
        if self.want.is_some() {
            return Access::Wait;
        }
        match (self.state, write) {
            (State::Modified, _) | (State::Shared, false) => Access::Hit,
            _ => {
                let req = self.next_req;
                self.next_req = self.next_req.wrapping_add(1);
                self.want = Some(Want {
                    req,
                    write,
                    held: false,
                });
                let obj = self.obj;
                Access::Miss(if write {
                    Msg::WriteReq { obj, req }
                } else {
                    Msg::ReadReq { obj, req }
                })
            }
        }
    }

    /// The first access after an answer is done: the `Done` to send to
    /// the home; `None` if nothing was held.
    pub fn done(&mut self) -> Option<Msg> {
        let w = self.want.filter(|w| w.held)?;
        self.want = None;
        Some(Msg::Done {
            obj: self.obj,
            req: w.req,
        })
    }

    /// A message from `from` about this object. `Out::granted` asks the
    /// caller to install the payload of a `Data` and do the access it
    /// waited for, then call [`Self::done`]. A `Data` or `WriteBack` this
    /// sends carries the copy's contents.
    pub fn on_msg(&mut self, from: u8, msg: Msg) -> Result<Out, Refused> {
        if msg.obj() != self.obj || from == 0 {
            return self.refuse();
        }
        let mut out = Out::new();
        let pending = self.want.filter(|w| !w.held);
        let held = self.held();
        match msg {
            Msg::Data { req, excl, .. } => match pending {
                Some(w) if w.req == req && w.write == excl => {
                    self.state = if excl { State::Modified } else { State::Shared };
                    self.want = Some(Want { held: true, ..w });
                    out.granted = true;
                }
                _ => return self.refuse(),
            },
            Msg::Grant { req, .. } => match pending {
                Some(w) if w.req == req && w.write && self.state == State::Shared => {
                    if from != self.home {
                        return self.refuse();
                    }
                    self.state = State::Modified;
                    self.want = Some(Want { held: true, ..w });
                    out.granted = true;
                }
                _ => return self.refuse(),
            },
            Msg::Inv { obj, req } => {
                if from != self.home || held || self.state != State::Shared {
                    return self.refuse();
                }
                self.state = State::Invalid;
                out.push(self.home, Msg::InvAck { obj, req });
            }
            Msg::Fwd { obj, req, to, excl } => {
                if from != self.home || held || self.state != State::Modified {
                    return self.refuse();
                }
                out.push(to, Msg::Data { obj, req, excl });
                if excl {
                    self.state = State::Invalid;
                } else {
                    self.state = State::Shared;
                    out.push(self.home, Msg::WriteBack { obj, req });
                }
            }
            Msg::ReadReq { .. }
            | Msg::WriteReq { .. }
            | Msg::InvAck { .. }
            | Msg::WriteBack { .. }
            | Msg::Done { .. } => return self.refuse(),
        }
        Ok(out)
    }
}
