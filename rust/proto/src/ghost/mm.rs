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
        fill(|w| w.u64s(&self.fields()))
    }

    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
            codec::Reader::new(b).u64s().ok_or(Error::Truncated)?;
        let m = MmLayout {
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            brk,
            start_stack,
            arg_start,
            arg_end,
            env_start,
            env_end,
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

/// A SysV shared memory attach (migrations only): `path` holds the
/// cluster-wide id of the segment (4 bytes, little-endian) instead of a
/// path, and the restoring node attaches that segment again, whole, at
/// `start`. Always with `VMA_SHARED`, never with `VMA_FILE` or
/// `VMA_PAGES`; `pgoff` 0.
pub const VMA_SYSV: u32 = 16;

/// One mapped area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<'a> {
    pub start: u64,
    pub end: u64,
    pub prot: u32,
    pub flags: u32,
    /// Offset in the file, in pages.
    pub pgoff: u64,
    /// The file's path when `flags & VMA_FILE`, the segment's id when
    /// `flags & VMA_SYSV`, else empty.
    pub path: &'a [u8],
}

impl<'a> Vma<'a> {
    pub const FIXED: usize = 8 + 8 + 4 + 4 + 8;

    /// Writes the area into `out`; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        w.u64(self.start)?;
        w.u64(self.end)?;
        w.u32(self.prot)?;
        w.u32(self.flags)?;
        w.u64(self.pgoff)?;
        w.put(self.path)?;
        Some(w.len())
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
        let known = v.prot & !7 == 0 && v.flags & !31 == 0;
        let file = v.flags & VMA_FILE != 0;
        let named = if v.flags & VMA_SYSV != 0 {
            v.flags & (VMA_FILE | VMA_PAGES) == 0
                && v.flags & VMA_SHARED != 0
                && v.pgoff == 0
                && v.path.len() == 4
                && v.sysv_id().is_some_and(|id| id >= 0)
        } else {
            file != v.path.is_empty() && !v.path.contains(&0)
        };
        if !aligned || !in_user || !known || !named {
            return Err(Error::BadValue);
        }
        Ok(v)
    }

    /// The segment's id of a SysV attach (`VMA_SYSV`).
    pub fn sysv_id(&self) -> Option<i32> {
        if self.flags & VMA_SYSV == 0 {
            return None;
        }
        let b: [u8; 4] = self.path.try_into().ok()?;
        Some(i32::from_le_bytes(b))
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
        fill(|w| {
            w.u64(self.addr)?;
            w.u32(self.count)
        })
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
