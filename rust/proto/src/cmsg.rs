// SPDX-License-Identifier: GPL-2.0-only
//! The control messages a TIPC receive writes (x86_64 `struct cmsghdr`
//! sequences): what tells a message of ours that came back refused.
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 8    | `cmsg_len`: header and data, in bytes   |
//! | 8      | 4    | `cmsg_level` (`SOL_TIPC`: 271)          |
//! | 12     | 4    | `cmsg_type`                             |
//! | 16     | ...  | data; the next header starts 8-aligned  |
//!
//! `TIPC_ERRINFO` (1): two `u32`, the error code and the returned data's
//! length; `TIPC_RETDATA` (2): the returned data (at most 1024 bytes);
//! `TIPC_DESTNAME` (3) and others are skipped. Native byte order, read
//! through the codec (little-endian, as x86_64 is).

use super::codec::Reader;

/// `sizeof(struct cmsghdr)` on x86_64.
pub const HEADER_LEN: usize = 16;
/// `SOL_TIPC`.
pub const SOL_TIPC: u32 = 271;
/// `TIPC_ERRINFO`.
pub const TIPC_ERRINFO: u32 = 1;
/// `TIPC_RETDATA`.
pub const TIPC_RETDATA: u32 = 2;

/// A returned message: TIPC's error code and its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned<'a> {
    /// `TIPC_ERR_*`.
    pub error: u32,
    /// The start of the message (empty if TIPC returned none).
    pub data: &'a [u8],
}

// The codec reads little-endian fields: x86_64's native order, which
// these are in.
const _: () = assert!(cfg!(target_endian = "little"));

/// The returned message described by control bytes `ctl`, if they say
/// one came back; `None` for an ordinary message or malformed bytes.
pub fn returned(ctl: &[u8]) -> Option<Returned<'_>> {
    let mut error = None;
    let mut data: &[u8] = &[];
    let mut r = Reader::new(ctl);
    while r.remaining() >= HEADER_LEN {
        let len = usize::try_from(r.u64()?).ok()?;
        let (level, kind) = (r.u32()?, r.u32()?);
        let body = r.bytes(len.checked_sub(HEADER_LEN)?)?;
        if level == SOL_TIPC {
            match kind {
                TIPC_ERRINFO => error = Some(Reader::new(body).u32()?),
                TIPC_RETDATA => data = body,
                _ => {}
            }
        }
        // CMSG_ALIGN: the next header starts on an 8-byte boundary.
        let pad = (len.checked_add(7)? & !7) - len;
        r.bytes(pad.min(r.remaining()))?;
    }
    error.map(|error| Returned { error, data })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn cmsg(out: &mut Vec<u8>, level: u32, ty: u32, data: &[u8]) {
        let len = (HEADER_LEN + data.len()) as u64;
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&level.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(data);
        while out.len() % 8 != 0 {
            out.push(0);
        }
    }

    fn errinfo(err: u32, len: u32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&err.to_ne_bytes());
        b[4..].copy_from_slice(&len.to_ne_bytes());
        b
    }

    #[test]
    fn finds_the_error_and_the_returned_bytes() {
        let mut ctl = Vec::new();
        cmsg(&mut ctl, SOL_TIPC, TIPC_ERRINFO, &errinfo(4, 5));
        cmsg(&mut ctl, SOL_TIPC, TIPC_RETDATA, b"hello");
        cmsg(&mut ctl, SOL_TIPC, 3, &[0u8; 12]);
        assert_eq!(
            returned(&ctl),
            Some(Returned {
                error: 4,
                data: b"hello"
            })
        );
        let mut ctl = Vec::new();
        cmsg(&mut ctl, SOL_TIPC, TIPC_ERRINFO, &errinfo(2, 0));
        assert_eq!(
            returned(&ctl),
            Some(Returned {
                error: 2,
                data: &[]
            })
        );
    }

    #[test]
    fn an_ordinary_message_or_bad_bytes_is_none() {
        assert_eq!(returned(&[]), None);
        let mut ctl = Vec::new();
        cmsg(&mut ctl, SOL_TIPC, 3, &[0u8; 12]);
        assert_eq!(returned(&ctl), None);
        let mut other = Vec::new();
        cmsg(&mut other, 1, TIPC_ERRINFO, &errinfo(4, 0));
        assert_eq!(returned(&other), None);
        // Lengths that lie: shorter than a header, or past the end.
        let mut bad = Vec::new();
        cmsg(&mut bad, SOL_TIPC, TIPC_ERRINFO, &errinfo(4, 0));
        bad[..8].copy_from_slice(&8u64.to_ne_bytes());
        assert_eq!(returned(&bad), None);
        bad[..8].copy_from_slice(&1000u64.to_ne_bytes());
        assert_eq!(returned(&bad), None);
        bad[..8].copy_from_slice(&u64::MAX.to_ne_bytes());
        assert_eq!(returned(&bad), None);
        // An error info too short to hold the error.
        let mut short = Vec::new();
        cmsg(&mut short, SOL_TIPC, TIPC_ERRINFO, &[1, 2]);
        assert_eq!(returned(&short), None);
    }
}
