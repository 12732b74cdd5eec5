// SPDX-License-Identifier: GPL-2.0-only
//! The process's identity, resource limits and directories.

use super::*;

/// Identity of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    pub pid: u32,
    /// The parent's global PID, which keeps waiting for it.
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    /// Signal sent to the parent at exit.
    pub exit_signal: u32,
    pub comm: [u8; 16],
}

impl TaskInfo {
    pub const LEN: usize = 20 + 16;

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            [self.pid, self.ppid, self.pgid, self.sid, self.exit_signal]
                .iter()
                .try_for_each(|&v| w.u32(v))?;
            w.put(&self.comm)
        })
    }

    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let t = TaskInfo {
            pid: u32_at(b, 0)?,
            ppid: u32_at(b, 4)?,
            pgid: u32_at(b, 8)?,
            sid: u32_at(b, 12)?,
            exit_signal: u32_at(b, 16)?,
            comm: {
                let mut c = [0; 16];
                c.copy_from_slice(&b[20..36]);
                c
            },
        };
        if t.pid == 0 || t.exit_signal > SIGNALS as u32 {
            return Err(Error::BadValue);
        }
        Ok(t)
    }
}

/// One resource limit (`struct rlimit`; `u64::MAX` is `RLIM_INFINITY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

/// The `RLIMITS` resource limits of the process, in `RLIMIT_*` order,
/// each `(cur, max)`; the soft limit may not exceed the hard one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rlimits(pub [Rlimit; RLIMITS]);

impl Rlimits {
    pub const LEN: usize = RLIMITS * 16;

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| self.0.iter().try_for_each(|r| w.u64s(&[r.cur, r.max])))
    }

    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let mut l = Rlimits::default();
        for (i, r) in l.0.iter_mut().enumerate() {
            r.cur = u64_at(b, 16 * i)?;
            r.max = u64_at(b, 16 * i + 8)?;
            if r.cur > r.max {
                return Err(Error::BadValue);
            }
        }
        Ok(l)
    }
}

/// The working and root directories, absolute paths from the root of the
/// mount namespace (not from the process's root, which a `chroot()` moves).
///
/// Layout: `u16` length and bytes of the working directory's path, then
/// the same for the root's. Each path starts with `/`, holds no NUL, and
/// is at most [`PATH_MAX`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsPaths<'a> {
    pub cwd: &'a [u8],
    pub root: &'a [u8],
}

fn path_ok(p: &[u8]) -> bool {
    p.first() == Some(&b'/') && p.len() <= PATH_MAX && !p.contains(&0)
}

impl<'a> FsPaths<'a> {
    /// Writes both into `out`; returns the length, `None` if a path is
    /// too long or `out` too short.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut at = 0usize;
        for p in [self.cwd, self.root] {
            if p.len() > PATH_MAX {
                return None;
            }
            let mut w = Writer::new(out.get_mut(at..)?);
            w.u16(p.len() as u16)?;
            w.put(p)?;
            at = at.checked_add(w.len())?;
        }
        Some(at)
    }

    pub fn decode(b: &'a [u8]) -> Result<Self> {
        let mut at = 0usize;
        let mut next = || -> Result<&'a [u8]> {
            let n = usize::from(u16_at(b, at).map_err(|_| Error::BadLength)?);
            let start = at + 2;
            let end = start.checked_add(n).ok_or(Error::BadLength)?;
            let p = b.get(start..end).ok_or(Error::BadLength)?;
            at = end;
            if !path_ok(p) {
                return Err(Error::BadValue);
            }
            Ok(p)
        };
        let cwd = next()?;
        let root = next()?;
        if at != b.len() {
            return Err(Error::BadLength);
        }
        Ok(FsPaths { cwd, root })
    }
}
