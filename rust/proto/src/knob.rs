// SPDX-License-Identifier: GPL-2.0-only
//! Parsing of values written to sysfs knobs and given as module parameters.
//!
//! Input is untrusted user bytes: every function here rejects anything but
//! the exact expected form and never overflows.

use super::node_id::NodeId;

/// Why a written value was refused. Every variant maps to `-EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnobError {
    /// Nothing but whitespace was written.
    Empty,
    /// A byte that is not an ASCII digit.
    NotDecimal,
    /// The number does not fit the knob's range.
    OutOfRange,
}

/// Strips one trailing newline, as `echo` adds, and nothing else.
pub fn strip_newline(buf: &[u8]) -> &[u8] {
    match buf.split_last() {
        Some((b'\n', rest)) => rest,
        _ => buf,
    }
}

/// Parses an unsigned decimal in `0..=max` with an optional trailing newline.
///
/// Leading zeros are accepted; signs, spaces, and hex are not.
pub fn parse_u32(buf: &[u8], max: u32) -> Result<u32, KnobError> {
    let digits = strip_newline(buf);
    if digits.is_empty() {
        return Err(KnobError::Empty);
    }
    let mut value: u32 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(KnobError::NotDecimal);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(b - b'0')))
            .ok_or(KnobError::OutOfRange)?;
    }
    if value > max {
        return Err(KnobError::OutOfRange);
    }
    Ok(value)
}

/// Parses a node id written to a knob: a decimal in `1..=255`.
pub fn parse_node_id(buf: &[u8]) -> Result<NodeId, KnobError> {
    let raw = parse_u32(buf, super::node_id::MAX_NODE_ID)?;
    NodeId::new(raw).ok_or(KnobError::OutOfRange)
}

/// Parses up to `out.len()` unsigned decimals separated by single spaces,
/// with an optional trailing newline; returns how many were given.
pub fn parse_fields(buf: &[u8], out: &mut [u32]) -> Result<usize, KnobError> {
    let text = strip_newline(buf);
    if text.is_empty() {
        return Err(KnobError::Empty);
    }
    let mut n = 0;
    for field in text.split(|&b| b == b' ') {
        let slot = out.get_mut(n).ok_or(KnobError::NotDecimal)?;
        *slot = parse_u32(field, u32::MAX).map_err(|e| match e {
            KnobError::Empty => KnobError::NotDecimal,
            e => e,
        })?;
        n += 1;
    }
    Ok(n)
}

/// Parses a dotted-quad IPv4 address.
pub fn parse_ipv4(text: &[u8]) -> Result<[u8; 4], KnobError> {
    let mut addr = [0u8; 4];
    let mut n = 0;
    for part in text.split(|&b| b == b'.') {
        let slot = addr.get_mut(n).ok_or(KnobError::NotDecimal)?;
        if part.is_empty() || part.len() > 3 {
            return Err(KnobError::NotDecimal);
        }
        *slot = parse_u32(part, 255)? as u8;
        n += 1;
    }
    if n != 4 {
        return Err(KnobError::NotDecimal);
    }
    Ok(addr)
}

/// Parses `ID A.B.C.D`, as written to `add`.
pub fn parse_add(buf: &[u8]) -> Result<(NodeId, [u8; 4]), KnobError> {
    let text = strip_newline(buf);
    let mut parts = text.split(|&b| b == b' ');
    let id = parts.next().ok_or(KnobError::Empty)?;
    let addr = parts.next().ok_or(KnobError::Empty)?;
    if parts.next().is_some() {
        return Err(KnobError::NotDecimal);
    }
    Ok((parse_node_id(id)?, parse_ipv4(addr)?))
}

/// Parses a write to `/sys/kernel/ssi/remove`: `ID`, or `ID force` (retire
/// it even if processes that cannot leave stay behind).
pub fn parse_remove(buf: &[u8]) -> Result<(NodeId, bool), KnobError> {
    let text = strip_newline(buf);
    match text.strip_suffix(b" force") {
        Some(id) => Ok((parse_node_id(id)?, true)),
        None => Ok((parse_node_id(text)?, false)),
    }
}

/// Smallest and largest failure timeouts: TIPC's link tolerance range.
pub const FAILURE_TIMEOUT_MS: core::ops::RangeInclusive<u32> = 50..=30_000;

/// Parses a failure timeout in milliseconds.
pub fn parse_failure_timeout(buf: &[u8]) -> Result<u32, KnobError> {
    let ms = parse_u32(buf, *FAILURE_TIMEOUT_MS.end())?;
    if ms < *FAILURE_TIMEOUT_MS.start() {
        return Err(KnobError::OutOfRange);
    }
    Ok(ms)
}

/// Parses a 32-byte key written as 64 hex digits (either case), with an
/// optional trailing newline: `/sys/kernel/ssi/ghost/key`. An all-zero key
/// is refused (it is what an unset buffer holds).
pub fn parse_key(buf: &[u8]) -> Result<[u8; 32], KnobError> {
    let hex = strip_newline(buf);
    if hex.is_empty() {
        return Err(KnobError::Empty);
    }
    if hex.len() != 64 {
        return Err(KnobError::OutOfRange);
    }
    let digit = |c: u8| -> Result<u8, KnobError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(KnobError::NotDecimal),
        }
    };
    let mut key = [0u8; 32];
    for (k, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
        *k = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    if key.iter().all(|&b| b == 0) {
        return Err(KnobError::OutOfRange);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::String;

    #[test]
    fn accepts_plain_and_newline() {
        assert_eq!(parse_node_id(b"3").map(NodeId::get), Ok(3));
        assert_eq!(parse_node_id(b"255\n").map(NodeId::get), Ok(255));
        assert_eq!(parse_node_id(b"007").map(NodeId::get), Ok(7));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_node_id(b""), Err(KnobError::Empty));
        assert_eq!(parse_node_id(b"\n"), Err(KnobError::Empty));
        assert_eq!(parse_node_id(b"0"), Err(KnobError::OutOfRange));
        assert_eq!(parse_node_id(b"256"), Err(KnobError::OutOfRange));
        assert_eq!(parse_node_id(b"-1"), Err(KnobError::NotDecimal));
        assert_eq!(parse_node_id(b" 1"), Err(KnobError::NotDecimal));
        assert_eq!(parse_node_id(b"1\n\n"), Err(KnobError::NotDecimal));
        assert_eq!(parse_node_id(b"0x10"), Err(KnobError::NotDecimal));
        assert_eq!(
            parse_node_id(b"99999999999999999999"),
            Err(KnobError::OutOfRange)
        );
    }

    #[test]
    fn fields_addresses_timeouts() {
        let mut f = [0u32; 3];
        assert_eq!(parse_fields(b"2 100000\n", &mut f), Ok(2));
        assert_eq!(f[..2], [2, 100000]);
        assert_eq!(parse_fields(b"1 2 3 4", &mut f), Err(KnobError::NotDecimal));
        assert_eq!(parse_fields(b"1  2", &mut f), Err(KnobError::NotDecimal));
        assert_eq!(parse_fields(b"", &mut f), Err(KnobError::Empty));
        assert_eq!(
            parse_add(b"5 10.77.0.5\n").map(|(i, a)| (i.get(), a)),
            Ok((5, [10, 77, 0, 5]))
        );
        assert!(parse_add(b"5 10.77.0").is_err());
        assert!(parse_add(b"5 10.77.0.256").is_err());
        assert!(parse_add(b"0 10.77.0.5").is_err());
        assert!(parse_add(b"5").is_err());
        assert!(parse_add(b"5 1.2.3.4 x").is_err());
        assert_eq!(parse_failure_timeout(b"1000\n"), Ok(1000));
        assert_eq!(parse_failure_timeout(b"49"), Err(KnobError::OutOfRange));
        assert_eq!(parse_failure_timeout(b"30001"), Err(KnobError::OutOfRange));
    }

    #[test]
    fn remove() {
        let id = |n| NodeId::new(n).unwrap();
        assert_eq!(parse_remove(b"3"), Ok((id(3), false)));
        assert_eq!(parse_remove(b"3\n"), Ok((id(3), false)));
        assert_eq!(parse_remove(b"3 force\n"), Ok((id(3), true)));
        for bad in [
            &b"3 forc"[..],
            b"3  force",
            b"force",
            b" force",
            b"0 force",
            b"3 force x",
            b"",
        ] {
            assert!(parse_remove(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys() {
        let hex = "00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100";
        let k = parse_key(hex.as_bytes()).unwrap();
        assert_eq!(k[..3], [0x00, 0x11, 0x22]);
        assert_eq!(k[16..19], [0xff, 0xee, 0xdd]);
        assert_eq!(parse_key(format!("{hex}\n").as_bytes()), Ok(k));
        for bad in [
            String::new(),
            "\n".into(),
            hex[..62].into(),
            format!("{hex}00"),
            format!("{hex} "),
            format!("{hex}\n\n"),
            format!(" {}", &hex[1..]),
            format!("0x{}", &hex[2..]),
            format!("g{}", &hex[1..]),
            "0".repeat(64),
        ] {
            assert!(parse_key(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn add_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_add(&bytes);
            let _ = parse_remove(&bytes);
            let mut f = [0u32; 3];
            let _ = parse_fields(&bytes, &mut f);
        }

        #[test]
        fn decimal_roundtrip(n in 0u32..=u32::MAX) {
            let text = format!("{n}\n");
            prop_assert_eq!(parse_u32(text.as_bytes(), u32::MAX), Ok(n));
            let id = parse_node_id(text.as_bytes());
            prop_assert_eq!(id.is_ok(), (1..=255).contains(&n));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = parse_node_id(&bytes);
        }

        #[test]
        fn key_roundtrip(key in any::<[u8; 32]>()) {
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let ok = key.iter().any(|&b| b != 0);
            prop_assert_eq!(parse_key(hex.as_bytes()).is_ok(), ok);
            if ok {
                prop_assert_eq!(parse_key(hex.as_bytes()), Ok(key));
            }
        }
    }
}
