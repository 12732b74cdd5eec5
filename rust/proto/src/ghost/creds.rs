// SPDX-License-Identifier: GPL-2.0-only
//! The process's credentials: ids, capabilities, groups.

use super::*;

/// Most supplementary groups a `Creds` section carries; a process with
/// more is refused before it is frozen.
pub const MAX_GROUPS: usize = 1024;

/// Capability bits a set may hold (`CAP_LAST_CAP` is 40).
pub const CAP_VALID: u64 = (1 << 41) - 1;

/// `securebits` a task may hold: `SECURE_ALL_BITS | SECURE_ALL_LOCKS`.
pub const SECUREBITS: u32 = 0xff;

/// Highest dumpable state (`SUID_DUMP_ROOT`).
pub const DUMPABLE_MAX: u8 = 2;

/// The capability sets of a process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
}

/// The fixed part of the `Creds` section: ids as the initial user
/// namespace sees them (real, effective, saved, file system), capability
/// sets, securebits, `no_new_privs` and the dumpable state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CredsHead {
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub caps: Caps,
    pub securebits: u32,
    pub no_new_privs: bool,
    /// `SUID_DUMP_*`: who may ptrace, checkpoint or migrate it.
    pub dumpable: u8,
}

/// The `Creds` section: the whole credential state of the process, its
/// [`CredsHead`] then `ngroups` supplementary groups (u32 each, ascending,
/// as the kernel keeps them). Seccomp modes and user namespaces other than
/// the initial one are not carried: such a process is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds<'a> {
    pub head: CredsHead,
    groups: &'a [u8],
}

impl<'a> Creds<'a> {
    /// Length of the fixed part: 8 ids, 5 sets, securebits, two flags, two
    /// reserved bytes, the number of groups.
    pub const FIXED: usize = 32 + 40 + 4 + 4 + 4;

    /// Writes the section's payload (`h`, then `groups`) to `out`; its
    /// length, or `None` if `out` is too short or there are more than
    /// [`MAX_GROUPS`].
    pub fn encode(h: &CredsHead, groups: &[u32], out: &mut [u8]) -> Option<usize> {
        if groups.len() > MAX_GROUPS {
            return None;
        }
        let mut w = Writer::new(out);
        h.uid
            .iter()
            .chain(h.gid.iter())
            .try_for_each(|&v| w.u32(v))?;
        let c = &h.caps;
        w.u64s(&[
            c.inheritable,
            c.permitted,
            c.effective,
            c.bounding,
            c.ambient,
        ])?;
        w.u32(h.securebits)?;
        w.u8(h.no_new_privs as u8)?;
        w.u8(h.dumpable)?;
        w.u16(0)?;
        w.u32(groups.len() as u32)?;
        groups.iter().try_for_each(|&g| w.u32(g))?;
        Some(w.len())
    }

    /// Refuses what no process can hold: an id of `-1` (no id), a
    /// capability beyond [`CAP_VALID`], an effective set beyond the
    /// permitted one, an ambient set beyond permitted and inheritable,
    /// unknown securebits or flags, groups out of order or too many.
    pub fn decode(b: &'a [u8]) -> Result<Self> {
        if b.len() < Self::FIXED {
            return Err(Error::BadLength);
        }
        let mut h = CredsHead::default();
        for i in 0..4 {
            h.uid[i] = u32_at(b, 4 * i)?;
            h.gid[i] = u32_at(b, 16 + 4 * i)?;
        }
        let set = |i: usize| u64_at(b, 32 + 8 * i);
        h.caps = Caps {
            inheritable: set(0)?,
            permitted: set(1)?,
            effective: set(2)?,
            bounding: set(3)?,
            ambient: set(4)?,
        };
        h.securebits = u32_at(b, 72)?;
        let (nnp, dumpable, reserved) = (b[76], b[77], u16_at(b, 78)?);
        h.no_new_privs = nnp == 1;
        h.dumpable = dumpable;
        let n = u32_at(b, 80)? as usize;
        if n > MAX_GROUPS {
            return Err(Error::BadValue);
        }
        if b.len() != Self::FIXED + 4 * n {
            return Err(Error::BadLength);
        }
        let c = &h.caps;
        let all = c.inheritable | c.permitted | c.effective | c.bounding | c.ambient;
        if h.uid.iter().chain(h.gid.iter()).any(|&v| v == u32::MAX)
            || all & !CAP_VALID != 0
            || c.effective & !c.permitted != 0
            || c.ambient & !(c.permitted & c.inheritable) != 0
            || h.securebits & !SECUREBITS != 0
            || nnp > 1
            || dumpable > DUMPABLE_MAX
            || reserved != 0
        {
            return Err(Error::BadValue);
        }
        let cr = Creds {
            head: h,
            groups: &b[Self::FIXED..],
        };
        let mut last = 0;
        for g in cr.groups() {
            if g == u32::MAX || g < last {
                return Err(Error::BadValue);
            }
            last = g;
        }
        Ok(cr)
    }

    pub fn ngroups(&self) -> usize {
        self.groups.len() / 4
    }

    /// The supplementary groups, ascending.
    pub fn groups(&self) -> impl Iterator<Item = u32> + 'a {
        self.groups
            .chunks_exact(4)
            .map(|g| u32::from_le_bytes([g[0], g[1], g[2], g[3]]))
    }
}
