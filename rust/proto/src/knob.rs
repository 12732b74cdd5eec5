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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::format;

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

    proptest! {
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
    }
}
