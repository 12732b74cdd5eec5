// SPDX-License-Identifier: GPL-2.0-only
//! The address space: its layout, its areas and the runs of their pages.

use super::*;

/// Layout of the address space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmLayout {
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub brk: u64,
    pub start_stack: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
}

impl MmLayout {
    pub const LEN: usize = 11 * 8;

    fn fields(&self) -> [u64; 11] {
        [
            self.start_code,
            self.end_code,
            self.start_data,
            self.end_data,
            self.start_brk,
            self.brk,
            self.start_stack,
            self.arg_start,
            self.arg_end,
            self.env_start,
            self.env_end,
        ]
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        for (i, v) in self.fields().iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let f = |i: usize| u64_at(b, 8 * i);
        let m = MmLayout {
            start_code: f(0)?,
            end_code: f(1)?,
            start_data: f(2)?,
            end_data: f(3)?,
            start_brk: f(4)?,
            brk: f(5)?,
            start_stack: f(6)?,
            arg_start: f(7)?,
            arg_end: f(8)?,
            env_start: f(9)?,
            env_end: f(10)?,
        };
        let pairs = [
            (m.start_code, m.end_code),
            (m.start_data, m.end_data),
            (m.start_brk, m.brk),
            (m.arg_start, m.arg_end),
            (m.env_start, m.env_end),
        ];
        if m.fields().iter().any(|&a| a > USER_END) || pairs.iter().any(|(a, z)| a > z) {
            return Err(Error::BadValue);
        }
        Ok(m)
    }
}

/// `prot` bits of a mapped area.
pub const PROT_READ: u32 = 1;

pub const PROT_WRITE: u32 = 2;

pub const PROT_EXEC: u32 = 4;

/// `flags` bits of a mapped area.
pub const VMA_SHARED: u32 = 1;

pub const VMA_GROWSDOWN: u32 = 2;

/// The area is a file's (its path follows); else anonymous.
pub const VMA_FILE: u32 = 4;

/// Its pages follow in `Pages` sections (else: the file's, or zero).
pub const VMA_PAGES: u32 = 8;

/// One mapped area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<'a> {
    pub start: u64,
    pub end: u64,
    pub prot: u32,
    pub flags: u32,
    /// Offset in the file, in pages.
    pub pgoff: u64,
    /// The file's path when `flags & VMA_FILE`, else empty.
    pub path: &'a [u8],
}

impl<'a> Vma<'a> {
    pub const FIXED: usize = 8 + 8 + 4 + 4 + 8;

    /// Writes the area into `out`; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let n = Self::FIXED.checked_add(self.path.len())?;
        let b = out.get_mut(..n)?;
        b[..8].copy_from_slice(&self.start.to_le_bytes());
        b[8..16].copy_from_slice(&self.end.to_le_bytes());
        b[16..20].copy_from_slice(&self.prot.to_le_bytes());
        b[20..24].copy_from_slice(&self.flags.to_le_bytes());
        b[24..32].copy_from_slice(&self.pgoff.to_le_bytes());
        b[32..].copy_from_slice(self.path);
        Some(n)
    }

    pub fn decode(b: &'a [u8]) -> Result<Self> {
        if b.len() < Self::FIXED || b.len() > Self::FIXED + PATH_MAX {
            return Err(Error::BadLength);
        }
        let v = Vma {
            start: u64_at(b, 0)?,
            end: u64_at(b, 8)?,
            prot: u32_at(b, 16)?,
            flags: u32_at(b, 20)?,
            pgoff: u64_at(b, 24)?,
            path: &b[Self::FIXED..],
        };
        let page = PAGE as u64;
        let aligned = v.start % page == 0 && v.end % page == 0;
        let in_user = v.start >= USER_MIN && v.start < v.end && v.end <= USER_END;
        let known = v.prot & !7 == 0 && v.flags & !15 == 0;
        let file = v.flags & VMA_FILE != 0;
        if !aligned || !in_user || !known || file == v.path.is_empty() || v.path.contains(&0) {
            return Err(Error::BadValue);
        }
        Ok(v)
    }
}

/// Header of a `Pages` section: `count` pages from `addr`, whose contents
/// follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRun {
    pub addr: u64,
    pub count: u32,
}

impl PageRun {
    pub const LEN: usize = 12;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..].copy_from_slice(&self.count.to_le_bytes());
        b
    }

    /// The run alone (its first [`PageRun::LEN`] bytes).
    pub fn decode_run(b: &[u8]) -> Result<Self> {
        let r = PageRun {
            addr: u64_at(b, 0)?,
            count: u32_at(b, 8)?,
        };
        if r.count == 0 || r.count > MAX_RUN_PAGES || r.addr % PAGE as u64 != 0 {
            return Err(Error::BadValue);
        }
        Ok(r)
    }

    /// The run and its contents, which must be exactly `count` pages.
    pub fn decode(b: &[u8]) -> Result<(Self, &[u8])> {
        let r = Self::decode_run(b)?;
        let data = &b[Self::LEN..];
        if data.len() != r.count as usize * PAGE {
            return Err(Error::BadLength);
        }
        Ok((r, data))
    }

    /// One past the run's last byte.
    pub fn end(&self) -> Option<u64> {
        self.addr.checked_add(u64::from(self.count) * PAGE as u64)
    }
}
