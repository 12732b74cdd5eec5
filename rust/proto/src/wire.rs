// SPDX-License-Identifier: GPL-2.0-only
//! The ssi-rs message header and its codec.
//!
//! Every message between nodes starts with a fixed 24-byte header, little
//! endian:
//!
//! | offset | size | field                                         |
//! |--------|------|-----------------------------------------------|
//! | 0      | 4    | magic `b"SSI1"`                               |
//! | 4      | 1    | version ([`VERSION`])                          |
//! | 5      | 1    | kind ([`Kind`])                                |
//! | 6      | 2    | service (handler id for requests and one-ways) |
//! | 8      | 1    | source node id                                 |
//! | 9      | 1    | destination node id (0: every member)          |
//! | 10     | 2    | status (responses: 0 or a positive errno)      |
//! | 12     | 8    | id (request id, or view epoch)                 |
//! | 20     | 4    | payload length                                 |
//!
//! Decoding checks every field against the bytes actually received, with no
//! arithmetic that can overflow, and classifies what it refuses.

use super::codec::{fill, Reader};

/// Header size in bytes.
pub const HEADER_LEN: usize = 24;
/// Largest payload: keeps a whole message within one TIPC datagram (66000).
pub const MAX_PAYLOAD: usize = 65_000;
/// Largest message.
pub const MAX_MESSAGE: usize = HEADER_LEN + MAX_PAYLOAD;
/// The first four bytes of every message.
pub const MAGIC: [u8; 4] = *b"SSI1";
/// Protocol version this code speaks.
pub const VERSION: u8 = 1;

/// Message kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Membership: a coordinator's view (epoch in `id`, members in payload).
    View = 1,
    /// Membership: asks the receiver, seen as coordinator, for its view.
    Ask = 2,
    /// RPC request; the receiver answers with a [`Kind::Response`] of the same id.
    Request = 3,
    /// RPC response.
    Response = 4,
    /// One-way message, no answer.
    Oneway = 5,
    /// Membership: the node named in the payload leaves the cluster.
    Retire = 6,
    /// Flow control: the one-way messages consumed, up to `id` (flow.rs).
    Credit = 7,
    /// Flow control: asks the receiver for a [`Kind::Credit`].
    CreditAsk = 8,
}

impl Kind {
    /// The kind for a wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Kind::View,
            2 => Kind::Ask,
            3 => Kind::Request,
            4 => Kind::Response,
            5 => Kind::Oneway,
            6 => Kind::Retire,
            7 => Kind::Credit,
            8 => Kind::CreditAsk,
            _ => return None,
        })
    }
}

/// A decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What the message is.
    pub kind: Kind,
    /// Handler id (requests, responses, one-ways).
    pub service: u16,
    /// Sender's node id (1..=255).
    pub src: u8,
    /// Receiver's node id, 0 for every member.
    pub dst: u8,
    /// Response status: 0 or a positive errno.
    pub status: u16,
    /// Request id or view epoch.
    pub id: u64,
}

/// Why a message was refused; each cause has its own drop counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than a header, bad magic, or length field disagreeing with
    /// the bytes received.
    Malformed,
    /// A version this code does not speak.
    BadVersion,
    /// Larger than [`MAX_MESSAGE`].
    Oversized,
    /// A kind this code does not know.
    UnknownKind,
}

/// Encodes `header` and `payload` into `out`; returns the message length.
///
/// Returns `None` if the payload is too large or `out` too small.
pub fn encode(header: &Header, payload: &[u8], out: &mut [u8]) -> Option<usize> {
    let head = encode_header(header, payload.len())?;
    let total = HEADER_LEN.checked_add(payload.len())?;
    let out = out.get_mut(..total)?;
    out[..HEADER_LEN].copy_from_slice(&head);
    out[HEADER_LEN..].copy_from_slice(payload);
    Some(total)
}

/// The header of a message whose payload is `payload_len` bytes, to send
/// before the payload without copying it; `None` if the payload is too
/// long.
pub fn encode_header(header: &Header, payload_len: usize) -> Option<[u8; HEADER_LEN]> {
    if payload_len > MAX_PAYLOAD {
        return None;
    }
    Some(fill(|w| {
        w.put(&MAGIC)?;
        w.u8(VERSION)?;
        w.u8(header.kind as u8)?;
        w.u16(header.service)?;
        w.u8(header.src)?;
        w.u8(header.dst)?;
        w.u16(header.status)?;
        w.u64(header.id)?;
        w.u32(payload_len as u32)
    }))
}

/// Decodes one message received as a whole datagram.
pub fn decode(msg: &[u8]) -> Result<(Header, &[u8]), DecodeError> {
    if msg.len() > MAX_MESSAGE {
        return Err(DecodeError::Oversized);
    }
    let (h, len, payload) = decode_header(msg)?;
    if payload.len() != len {
        return Err(DecodeError::Malformed);
    }
    Ok((h, payload))
}

/// Decodes the header of a message TIPC returned to its sender, refused:
/// it holds the first bytes of the message only (at most 1024).
pub fn decode_returned(msg: &[u8]) -> Result<Header, DecodeError> {
    decode_header(msg).map(|(h, _, _)| h)
}

/// Decodes the header at the start of `msg`, checking its payload length
/// against [`MAX_PAYLOAD`] only: the header, that length, and the bytes
/// after the header.
fn decode_header(msg: &[u8]) -> Result<(Header, usize, &[u8]), DecodeError> {
    let mut r = Reader::new(msg);
    let (magic, version, kind, service, src, dst, status, id, len) = (|| {
        Some((
            r.array::<4>()?,
            r.u8()?,
            r.u8()?,
            r.u16()?,
            r.u8()?,
            r.u8()?,
            r.u16()?,
            r.u64()?,
            r.u32()?,
        ))
    })()
    .ok_or(DecodeError::Malformed)?;
    if magic != MAGIC {
        return Err(DecodeError::Malformed);
    }
    if version != VERSION {
        return Err(DecodeError::BadVersion);
    }
    let len = len as usize;
    if len > MAX_PAYLOAD {
        return Err(DecodeError::Oversized);
    }
    let kind = Kind::from_u8(kind).ok_or(DecodeError::UnknownKind)?;
    if src == 0 {
        return Err(DecodeError::Malformed);
    }
    let h = Header {
        kind,
        service,
        src,
        dst,
        status,
        id,
    };
    Ok((h, len, r.rest()))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    fn header(kind: Kind) -> Header {
        Header {
            kind,
            service: 7,
            src: 3,
            dst: 4,
            status: 0,
            id: 0x1122_3344_5566_7788,
        }
    }

    #[test]
    fn roundtrip_and_layout() {
        let mut buf = [0u8; 64];
        let n = encode(&header(Kind::Request), b"abc", &mut buf).unwrap();
        assert_eq!(n, 27);
        assert_eq!(&buf[..4], b"SSI1");
        assert_eq!(decode(&buf[..n]), Ok((header(Kind::Request), &b"abc"[..])));
    }

    #[test]
    fn refuses_what_it_must() {
        let mut buf = [0u8; 64];
        let n = encode(&header(Kind::View), b"xy", &mut buf).unwrap();
        assert_eq!(decode(&buf[..n - 1]), Err(DecodeError::Malformed));
        assert_eq!(decode(&buf[..10]), Err(DecodeError::Malformed));
        let mut bad = buf;
        bad[0] = b'X';
        assert_eq!(decode(&bad[..n]), Err(DecodeError::Malformed));
        let mut bad = buf;
        bad[4] = 2;
        assert_eq!(decode(&bad[..n]), Err(DecodeError::BadVersion));
        let mut bad = buf;
        bad[5] = 99;
        assert_eq!(decode(&bad[..n]), Err(DecodeError::UnknownKind));
        let mut bad = buf;
        bad[8] = 0;
        assert_eq!(decode(&bad[..n]), Err(DecodeError::Malformed));
        let mut bad = buf;
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&bad[..n]), Err(DecodeError::Oversized));
        let big = vec![0u8; MAX_MESSAGE + 1];
        assert_eq!(decode(&big), Err(DecodeError::Oversized));
        assert_eq!(
            encode(
                &header(Kind::View),
                &big[..MAX_PAYLOAD + 1],
                &mut vec![0; MAX_MESSAGE + 2]
            ),
            None
        );
        assert_eq!(encode(&header(Kind::View), b"abc", &mut [0u8; 26]), None);
    }

    #[test]
    fn returned_messages_decode_their_header_only() {
        let mut buf = [0u8; 2048];
        let n = encode(&header(Kind::Oneway), &[7u8; 1500], &mut buf).unwrap();
        assert_eq!(decode_returned(&buf[..1024]), Ok(header(Kind::Oneway)));
        assert_eq!(decode(&buf[..1024]), Err(DecodeError::Malformed));
        assert_eq!(decode_returned(&buf[..n]), Ok(header(Kind::Oneway)));
        assert_eq!(
            decode_returned(&buf[..HEADER_LEN - 1]),
            Err(DecodeError::Malformed)
        );
        let mut bad = buf;
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_returned(&bad[..100]), Err(DecodeError::Oversized));
    }

    fn any_kind() -> impl Strategy<Value = Kind> {
        (1u8..=8).prop_map(|v| Kind::from_u8(v).unwrap())
    }

    proptest! {
        #[test]
        fn encode_decode_roundtrip(kind in any_kind(), service: u16, src in 1u8..=255, dst: u8,
                                   status: u16, id: u64,
                                   payload in proptest::collection::vec(any::<u8>(), 0..512)) {
            let h = Header { kind, service, src, dst, status, id };
            let mut buf = vec![0u8; HEADER_LEN + payload.len()];
            let n = encode(&h, &payload, &mut buf).unwrap();
            prop_assert_eq!(decode(&buf[..n]), Ok((h, &payload[..])));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn mutated_messages_decode_consistently(payload in proptest::collection::vec(any::<u8>(), 0..64),
                                                pos in 0usize..88, val: u8) {
            let h = header(Kind::Oneway);
            let mut buf = vec![0u8; HEADER_LEN + payload.len()];
            let n = encode(&h, &payload, &mut buf).unwrap();
            let pos = pos % n;
            buf[pos] = val;
            if let Ok((_, p)) = decode(&buf[..n]) {
                prop_assert_eq!(p.len(), n - HEADER_LEN);
            }
        }
    }
}
