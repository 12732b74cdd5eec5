// SPDX-License-Identifier: GPL-2.0-only
//! The messages of the coherence protocol.
//!
//! Every message names its object ([`Obj`]: container and index, 12
//! bytes) and the request it belongs to (`req`, the requester's sequence
//! number for that object). The sender is the transport's source.
//!
//! | op            | from -> to          | operands                  | payload           |
//! |---------------|---------------------|---------------------------|-------------------|
//! | 1 `READ_REQ`  | node -> home        | `obj`, `req: u32`         |                   |
//! | 2 `WRITE_REQ` | node -> home        | `obj`, `req: u32`         |                   |
//! | 3 `FWD`       | home -> owner       | `obj`, `req`, `to: u8`, `excl: u8` |          |
//! | 4 `INV`       | home -> sharer      | `obj`, `req`              |                   |
//! | 5 `INV_ACK`   | sharer -> home      | `obj`, `req`              |                   |
//! | 6 `DATA`      | home or owner -> requester | `obj`, `req`, `excl: u8` | the object  |
//! | 7 `GRANT`     | home -> requester   | `obj`, `req`              |                   |
//! | 8 `WRITE_BACK`| owner -> home       | `obj`, `req`              | the object        |
//! | 9 `DONE`      | requester -> home   | `obj`, `req`              |                   |
//!
//! `req` of `FWD`, `INV`, `INV_ACK` and `WRITE_BACK` is the request being
//! served (another node's). `to` is a node id (1 to 255), `excl` 0 or 1.
//! A payload is 1 to [`MAX_OBJECT`] bytes and only `DATA` and `WRITE_BACK`
//! carry one; every other message has its exact length.

use super::super::codec::{Reader, Writer};

/// Largest object a container holds (a page).
pub const MAX_OBJECT: usize = 4096;
/// Longest encoded message header (`FWD`).
pub const MAX_HEAD: usize = 19;

const READ_REQ: u8 = 1;
const WRITE_REQ: u8 = 2;
const FWD: u8 = 3;
const INV: u8 = 4;
const INV_ACK: u8 = 5;
const DATA: u8 = 6;
const GRANT: u8 = 7;
const WRITE_BACK: u8 = 8;
const DONE: u8 = 9;

/// An object, named cluster-wide: a container and an index in it (a page
/// of a segment, a semaphore of a set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obj {
    pub container: u32,
    pub index: u64,
}

/// A message of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg {
    /// A node asks the home for a readable copy.
    ReadReq { obj: Obj, req: u32 },
    /// A node asks the home for the writable copy (also from `Shared`).
    WriteReq { obj: Obj, req: u32 },
    /// The home asks the owner to send the object to `to`: exclusive
    /// (the owner invalidates its copy) or shared (it keeps a readable
    /// copy and writes the object back to the home).
    Fwd {
        obj: Obj,
        req: u32,
        to: u8,
        excl: bool,
    },
    /// The home asks a sharer to drop its copy.
    Inv { obj: Obj, req: u32 },
    /// A sharer dropped its copy.
    InvAck { obj: Obj, req: u32 },
    /// The object, to the requester: writable if `excl`.
    Data { obj: Obj, req: u32, excl: bool },
    /// The home makes a sharer's copy writable (no payload).
    Grant { obj: Obj, req: u32 },
    /// The old owner's copy, to the home, after a shared `Fwd`.
    WriteBack { obj: Obj, req: u32 },
    /// The requester holds what it asked for and did its first access:
    /// the home may serve the next request.
    Done { obj: Obj, req: u32 },
}

impl Msg {
    /// The object the message is about.
    pub fn obj(&self) -> Obj {
        match *self {
            Msg::ReadReq { obj, .. }
            | Msg::WriteReq { obj, .. }
            | Msg::Fwd { obj, .. }
            | Msg::Inv { obj, .. }
            | Msg::InvAck { obj, .. }
            | Msg::Data { obj, .. }
            | Msg::Grant { obj, .. }
            | Msg::WriteBack { obj, .. }
            | Msg::Done { obj, .. } => obj,
        }
    }

    /// The request the message belongs to.
    pub fn req(&self) -> u32 {
        match *self {
            Msg::ReadReq { req, .. }
            | Msg::WriteReq { req, .. }
            | Msg::Fwd { req, .. }
            | Msg::Inv { req, .. }
            | Msg::InvAck { req, .. }
            | Msg::Data { req, .. }
            | Msg::Grant { req, .. }
            | Msg::WriteBack { req, .. }
            | Msg::Done { req, .. } => req,
        }
    }

    /// Whether the object's contents follow the header.
    pub fn carries_object(&self) -> bool {
        matches!(self, Msg::Data { .. } | Msg::WriteBack { .. })
    }

    /// Whether the message goes to the object's directory at its home
    /// (a request, `InvAck`, `WriteBack`, `Done`) rather than to the
    /// receiver's copy.
    pub fn to_home(&self) -> bool {
        matches!(
            self,
            Msg::ReadReq { .. }
                | Msg::WriteReq { .. }
                | Msg::InvAck { .. }
                | Msg::WriteBack { .. }
                | Msg::Done { .. }
        )
    }

    fn op(&self) -> u8 {
        match self {
            Msg::ReadReq { .. } => READ_REQ,
            Msg::WriteReq { .. } => WRITE_REQ,
            Msg::Fwd { .. } => FWD,
            Msg::Inv { .. } => INV,
            Msg::InvAck { .. } => INV_ACK,
            Msg::Data { .. } => DATA,
            Msg::Grant { .. } => GRANT,
            Msg::WriteBack { .. } => WRITE_BACK,
            Msg::Done { .. } => DONE,
        }
    }

    /// Decodes a message and its payload (empty unless
    /// [`Self::carries_object`]); `None` for anything malformed.
    pub fn decode(b: &[u8]) -> Option<(Self, &[u8])> {
        let mut r = Reader::new(b);
        let op = r.u8()?;
        let obj = Obj {
            container: r.u32()?,
            index: r.u64()?,
        };
        let req = r.u32()?;
        let flag = |r: &mut Reader<'_>| match r.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        };
        let msg = match op {
            READ_REQ => Msg::ReadReq { obj, req },
            WRITE_REQ => Msg::WriteReq { obj, req },
            FWD => {
                let to = r.u8()?;
                if to == 0 {
                    return None;
                }
                let excl = flag(&mut r)?;
                Msg::Fwd { obj, req, to, excl }
            }
            INV => Msg::Inv { obj, req },
            INV_ACK => Msg::InvAck { obj, req },
            DATA => Msg::Data {
                obj,
                req,
                excl: flag(&mut r)?,
            },
            GRANT => Msg::Grant { obj, req },
            WRITE_BACK => Msg::WriteBack { obj, req },
            DONE => Msg::Done { obj, req },
            _ => return None,
        };
        if !msg.carries_object() {
            r.end()?;
            return Some((msg, &[]));
        }
        let payload = r.rest();
        if payload.is_empty() || payload.len() > MAX_OBJECT {
            return None;
        }
        Some((msg, payload))
    }

    /// Encodes the header into `out`; returns its length. The payload of
    /// `Data` and `WriteBack` follows it.
    pub fn encode(&self, out: &mut [u8; MAX_HEAD]) -> usize {
        let mut w = Writer::new(out);
        // MAX_HEAD holds the longest header: the writes cannot fail.
        let _ = self.encode_into(&mut w);
        w.len()
    }

    fn encode_into(&self, w: &mut Writer<'_>) -> Option<()> {
        let obj = self.obj();
        w.u8(self.op())?;
        w.u32(obj.container)?;
        w.u64(obj.index)?;
        w.u32(self.req())?;
        match *self {
            Msg::Fwd { to, excl, .. } => {
                w.u8(to)?;
                w.u8(u8::from(excl))
            }
            Msg::Data { excl, .. } => w.u8(u8::from(excl)),
            _ => Some(()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const O: Obj = Obj {
        container: 0x0102_0304,
        index: u64::MAX,
    };

    fn all() -> [Msg; 10] {
        [
            Msg::ReadReq { obj: O, req: 1 },
            Msg::WriteReq { obj: O, req: 2 },
            Msg::Fwd {
                obj: O,
                req: 3,
                to: 255,
                excl: true,
            },
            Msg::Fwd {
                obj: O,
                req: 3,
                to: 1,
                excl: false,
            },
            Msg::Inv { obj: O, req: 4 },
            Msg::InvAck { obj: O, req: 5 },
            Msg::Data {
                obj: O,
                req: u32::MAX,
                excl: true,
            },
            Msg::Grant { obj: O, req: 7 },
            Msg::WriteBack { obj: O, req: 8 },
            Msg::Done { obj: O, req: 9 },
        ]
    }

    fn bytes(m: &Msg, payload: &[u8]) -> Vec<u8> {
        let mut h = [0u8; MAX_HEAD];
        let n = m.encode(&mut h);
        let mut v = h[..n].to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn messages_round_trip_with_exact_lengths() {
        let page = [0xa5u8; MAX_OBJECT];
        for m in all() {
            let payload: &[u8] = if m.carries_object() { &page } else { &[] };
            let b = bytes(&m, payload);
            assert_eq!(Msg::decode(&b), Some((m, payload)));
            // One byte short, one byte more.
            assert_eq!(Msg::decode(&b[..b.len() - 1]).map(|d| d.0), {
                // A payload one byte shorter is still a payload.
                if m.carries_object() {
                    Some(m)
                } else {
                    None
                }
            });
            let mut long = b.clone();
            long.push(0);
            assert_eq!(Msg::decode(&long), None);
            // No payload where one is due.
            if m.carries_object() {
                assert_eq!(Msg::decode(&bytes(&m, &[])), None);
                assert_eq!(Msg::decode(&bytes(&m, &[1])), Some((m, &[1u8][..])));
            }
        }
        assert_eq!(MAX_HEAD, bytes(&all()[2], &[]).len());
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert_eq!(Msg::decode(&[]), None);
        for op in [0u8, 10, 255] {
            let mut b = bytes(&Msg::Done { obj: O, req: 1 }, &[]);
            b[0] = op;
            assert_eq!(Msg::decode(&b), None);
        }
        // Fwd to node 0, a flag of 2.
        let mut b = bytes(&all()[2], &[]);
        b[17] = 0;
        assert_eq!(Msg::decode(&b), None);
        let mut b = bytes(&all()[2], &[]);
        b[18] = 2;
        assert_eq!(Msg::decode(&b), None);
        let mut b = bytes(&all()[6], &[7]);
        b[17] = 2;
        assert_eq!(Msg::decode(&b), None);
        // A payload longer than an object.
        let big = [0u8; MAX_OBJECT + 1];
        assert_eq!(Msg::decode(&bytes(&all()[8], &big)), None);
        // Every header cut short.
        for m in all() {
            let b = bytes(&m, &[]);
            for n in 0..b.len() {
                assert_eq!(Msg::decode(&b[..n]), None, "{m:?} cut at {n}");
            }
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics_and_re_encodes(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Some((m, payload)) = Msg::decode(&b) {
                prop_assert_eq!(bytes(&m, payload), b);
            }
        }
    }
}
