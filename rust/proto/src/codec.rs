// SPDX-License-Identifier: GPL-2.0-only
//! The little-endian codec every message of `rust/proto` is read and
//! written with.
//!
//! [`Reader`] takes fields off the front of untrusted bytes and [`Writer`]
//! appends them to a buffer; both check every length and offset with
//! checked arithmetic and answer `None` instead of panicking. A decoder
//! that requires an exact length ends with [`Reader::end`].

/// Reads little-endian fields off the front of a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `b`, from its first byte.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Some(head)
    }

    /// The next `N` bytes, as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// The next `u16`.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    /// The next `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// The next `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// The next `i32` (two's complement).
    pub fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_le_bytes)
    }

    /// The next `i64` (two's complement).
    pub fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }

    /// The next `N` `u64`s (a struct carried as an array of words).
    pub fn u64s<const N: usize>(&mut self) -> Option<[u64; N]> {
        let b = self.bytes(N.checked_mul(8)?)?;
        let mut r = Reader::new(b);
        Some(core::array::from_fn(|_| r.u64().unwrap_or(0)))
    }

    /// Every byte not read yet; the reader is then empty.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.b)
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.b.len()
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// `Some(())` if every byte was read: an exact-length decoder's last
    /// step.
    pub fn end(self) -> Option<()> {
        self.b.is_empty().then_some(())
    }
}

/// Appends little-endian fields to a byte buffer.
#[derive(Debug)]
pub struct Writer<'b> {
    out: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    /// A writer filling `out` from its first byte.
    pub fn new(out: &'b mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    /// Appends `b`; `None` if it does not fit.
    pub fn put(&mut self, b: &[u8]) -> Option<()> {
        let end = self.len.checked_add(b.len())?;
        self.out.get_mut(self.len..end)?.copy_from_slice(b);
        self.len = end;
        Some(())
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> Option<()> {
        self.put(&[v])
    }

    /// Appends a `u16`.
    pub fn u16(&mut self, v: u16) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    /// Appends `u64`s, in order.
    pub fn u64s(&mut self, v: &[u64]) -> Option<()> {
        v.iter().try_for_each(|&x| self.u64(x))
    }

    /// Appends an `i32`.
    pub fn i32(&mut self, v: i32) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    /// Appends an `i64`.
    pub fn i64(&mut self, v: i64) -> Option<()> {
        self.put(&v.to_le_bytes())
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Writes into a fixed-size array whose size the caller computed from the
/// fields: the writes cannot fail.
pub fn fill<const N: usize>(f: impl FnOnce(&mut Writer<'_>) -> Option<()>) -> [u8; N] {
    let mut out = [0u8; N];
    let mut w = Writer::new(&mut out);
    let done = f(&mut w);
    debug_assert!(done.is_some() && w.len() == N);
    out
}

/// The `u16` at byte `at` of `b`.
pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Reader::new(b.get(at..)?).u16()
}

/// The `u32` at byte `at` of `b`.
pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Reader::new(b.get(at..)?).u32()
}

/// The `u64` at byte `at` of `b`.
pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Reader::new(b.get(at..)?).u64()
}

/// A message that is exactly one `u32`.
pub fn decode_u32(b: &[u8]) -> Option<u32> {
    let mut r = Reader::new(b);
    let v = r.u32()?;
    r.end()?;
    Some(v)
}

/// A message that is exactly one `u64`.
pub fn decode_u64(b: &[u8]) -> Option<u64> {
    let mut r = Reader::new(b);
    let v = r.u64()?;
    r.end()?;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 27];
        let mut w = Writer::new(&mut buf);
        w.u8(1).unwrap();
        w.u16(0x0203).unwrap();
        w.u32(0x0405_0607).unwrap();
        w.u64(u64::MAX - 1).unwrap();
        w.i64(-2).unwrap();
        w.i32(-3).unwrap();
        assert_eq!(w.len(), 27);
        assert_eq!(w.u8(0), None, "a full writer refuses more");
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u16(), Some(0x0203));
        assert_eq!(r.u32(), Some(0x0405_0607));
        assert_eq!(r.u64(), Some(u64::MAX - 1));
        assert_eq!(r.i64(), Some(-2));
        assert_eq!(r.remaining(), 4);
        assert_eq!(r.i32(), Some(-3));
        assert_eq!(r.end(), Some(()));
    }

    #[test]
    fn short_input_refused() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u32(), None);
        assert_eq!(r.remaining(), 3, "a failed read takes nothing");
        assert_eq!(r.bytes(usize::MAX), None);
        assert_eq!(r.end(), None);
        assert_eq!(u32_at(&[0; 8], 5), None);
        assert_eq!(u64_at(&[0; 8], usize::MAX), None);
        assert_eq!(u16_at(&[1, 2], 0), Some(0x0201));
        assert_eq!(decode_u32(&[1, 0, 0, 0, 0]), None);
        assert_eq!(decode_u32(&[1, 0, 0, 0]), Some(1));
        assert_eq!(decode_u64(&7u64.to_le_bytes()), Some(7));
    }

    #[test]
    fn word_arrays_roundtrip() {
        let a: [u8; 24] = fill(|w| w.u64s(&[1, u64::MAX, 3]));
        let mut r = Reader::new(&a);
        assert_eq!(r.u64s::<3>(), Some([1, u64::MAX, 3]));
        assert_eq!(Reader::new(&a[..23]).u64s::<3>(), None);
        assert_eq!(r.end(), Some(()));
    }

    #[test]
    fn fill_writes_an_array() {
        let a: [u8; 5] = fill(|w| {
            w.u8(9)?;
            w.u32(1)
        });
        assert_eq!(a, [9, 1, 0, 0, 0]);
    }
}
