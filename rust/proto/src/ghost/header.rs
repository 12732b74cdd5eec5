// SPDX-License-Identifier: GPL-2.0-only
//! The stream header and the section headers: tags, lengths, flags.

use super::*;

/// Why the stream was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Purpose {
    Migration = 1,
    Checkpoint = 2,
}

/// The stream header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    pub purpose: Purpose,
    /// Node the stream was written on.
    pub node: u8,
    /// The process's (global) PID.
    pub pid: u32,
}

impl StreamHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        fill(|w| {
            w.put(&MAGIC)?;
            w.u16(VERSION)?;
            w.u16(self.purpose as u16)?;
            w.u32(self.pid | (u32::from(self.node) << 24))
        })
    }

    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[..8] != MAGIC {
            return Err(Error::BadMagic);
        }
        if u16_at(b, 8)? != VERSION {
            return Err(Error::BadVersion);
        }
        let purpose = match u16_at(b, 10)? {
            1 => Purpose::Migration,
            2 => Purpose::Checkpoint,
            _ => return Err(Error::BadValue),
        };
        let w = u32_at(b, 12)?;
        let pid = w & 0x00ff_ffff;
        if pid == 0 {
            return Err(Error::BadValue);
        }
        Ok(StreamHeader {
            purpose,
            node: (w >> 24) as u8,
            pid,
        })
    }
}

/// Section kinds, in the order a stream carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u16)]
pub enum Tag {
    /// Identity: PID, parent, process group, session, name.
    Task = 1,
    /// Credentials.
    Creds = 2,
    /// Resource limits.
    Rlimits = 3,
    /// Working and root directories (paths).
    Fs = 4,
    /// Signal handlers, blocked mask, pending signals.
    Signals = 5,
    /// Layout of the address space (brk, stack, arguments, environment).
    Mm = 6,
    /// One mapped area; repeated.
    Vma = 7,
    /// Contents of consecutive pages of a mapped area; repeated.
    Pages = 8,
    /// An open regular file; repeated.
    File = 9,
    /// General registers (`struct user_regs_struct`).
    Regs = 10,
    /// FPU and extended state (XSAVE, user ABI layout).
    Fpu = 11,
    /// Per-thread kernel state that points into user memory (rseq,
    /// robust futex list, clear_child_tid, alternate signal stack),
    /// personality, and where the vDSO was.
    Thread = 12,
    /// End of the stream: the MAC of a checkpoint, nothing in a migration.
    End = 0xffff,
}

impl Tag {
    pub fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            1 => Tag::Task,
            2 => Tag::Creds,
            3 => Tag::Rlimits,
            4 => Tag::Fs,
            5 => Tag::Signals,
            6 => Tag::Mm,
            7 => Tag::Vma,
            8 => Tag::Pages,
            9 => Tag::File,
            10 => Tag::Regs,
            11 => Tag::Fpu,
            12 => Tag::Thread,
            0xffff => Tag::End,
            _ => return None,
        })
    }

    /// Largest payload of a section of this kind.
    pub fn max_len(self) -> usize {
        match self {
            Tag::Task => TaskInfo::LEN,
            Tag::Creds => Creds::FIXED + 4 * MAX_GROUPS,
            Tag::Rlimits => RLIMITS * 16,
            Tag::Fs => 2 * (2 + PATH_MAX),
            Tag::Signals => SIGNALS * 32 + 24,
            Tag::Mm => MmLayout::LEN,
            Tag::Vma => Vma::FIXED + PATH_MAX,
            Tag::Pages => 12 + MAX_RUN_PAGES as usize * PAGE,
            Tag::File => FileDesc::FIXED + PATH_MAX,
            Tag::Regs => REGS * 8,
            Tag::Fpu => 64 * 1024,
            Tag::Thread => ThreadState::LEN,
            Tag::End => MAC_LEN,
        }
    }

    /// Whether a stream may carry several sections of this kind.
    pub(super) fn repeats(self) -> bool {
        matches!(self, Tag::Vma | Tag::Pages | Tag::File)
    }
}

/// Section flag of a `Pages` section whose pages stayed on the node that
/// wrote the stream (migration on demand): its payload is the run only.
pub const SECTION_LAZY: u16 = 1;

/// A section header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    pub tag: Tag,
    /// [`SECTION_LAZY`] or 0.
    pub flags: u16,
    pub len: u32,
}

impl Section {
    pub fn encode(&self) -> [u8; SECTION_LEN] {
        fill(|w| {
            w.u16(self.tag as u16)?;
            w.u16(self.flags)?;
            w.u32(self.len)
        })
    }

    /// Checks the tag, the flags and the length against the tag.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let tag = Tag::from_u16(u16_at(b, 0)?).ok_or(Error::UnknownTag)?;
        let flags = u16_at(b, 2)?;
        let len = u32_at(b, 4)?;
        match flags {
            0 => {}
            SECTION_LAZY if tag == Tag::Pages && len as usize == PageRun::LEN => {}
            _ => return Err(Error::BadValue),
        }
        if len as usize > tag.max_len() {
            return Err(Error::BadLength);
        }
        Ok(Section { tag, flags, len })
    }
}

/// The payload length of `End` in a stream of `purpose`: a checkpoint,
/// which goes through files anyone may edit, ends with its MAC; a
/// migration goes from kernel to kernel over the cluster's transport
/// (authenticated by the cluster key) and carries none.
pub fn trailer_len(purpose: Purpose) -> usize {
    match purpose {
        Purpose::Checkpoint => MAC_LEN,
        Purpose::Migration => 0,
    }
}

/// The `End` section header of a stream of `purpose`.
pub fn end_section(purpose: Purpose) -> Section {
    Section {
        tag: Tag::End,
        flags: 0,
        len: trailer_len(purpose) as u32,
    }
}
