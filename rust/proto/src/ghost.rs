// SPDX-License-Identifier: GPL-2.0-only
//! The ghost stream: one versioned format for a process's state, written
//! and read by the same code whether it goes to another node (migration)
//! or to a file (checkpoint). See Documentation/ssi/ghost.rst.
//!
//! A stream is a 16-byte header, then sections, each an 8-byte section
//! header (tag, flags, length) and its payload, then an [`Tag::End`]
//! section, whose payload in a checkpoint is the MAC of every byte before
//! it ([`MAC_LEN`], [`end_section`]). All integers are little-endian. [`Order`] checks the order of
//! the sections and that every page lies in a mapped area; the payload
//! decoders check lengths and values. Nothing here trusts its input.

/// First bytes of a stream.
pub const MAGIC: [u8; 8] = *b"SSIGHOST";
/// Format version this code writes and reads (2: `Rlimits`, `Fs`, the
/// pending signals and lazy `Pages` runs; 3: a checkpoint's `End` carries
/// its MAC; 4: the whole credential state in `Creds`).
pub const VERSION: u16 = 4;
/// Length of the MAC (HMAC-SHA256) that ends a checkpoint: the payload of
/// its `End` section, computed over every byte of the stream before that
/// payload (the header, every section, `End`'s own section header).
pub const MAC_LEN: usize = 32;
/// Stream header size.
pub const HEADER_LEN: usize = 16;
/// Section header size.
pub const SECTION_LEN: usize = 8;
/// Page size of the pages in `Pages` sections.
pub const PAGE: usize = 4096;
/// Most pages in one `Pages` section (256 KiB of contents).
pub const MAX_RUN_PAGES: u32 = 64;
/// Lowest address a ghost may map (as `mmap_min_addr`), and the end of
/// the x86_64 user address space (47 bits).
pub const USER_MIN: u64 = 0x1_0000;
pub const USER_END: u64 = 0x7fff_ffff_f000;

/// Why a stream or section was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Truncated,
    BadMagic,
    BadVersion,
    UnknownTag,
    /// A section longer than its kind allows, or of the wrong size.
    BadLength,
    /// A field out of range (address, count, flags).
    BadValue,
    /// A section where the order rules do not allow it.
    OutOfOrder,
    /// The stream ended without its required sections.
    Incomplete,
}

pub type Result<T> = core::result::Result<T, Error>;

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

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    let s = b
        .get(at..at.checked_add(2).ok_or(Error::Truncated)?)
        .ok_or(Error::Truncated)?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    let s = b
        .get(at..at.checked_add(4).ok_or(Error::Truncated)?)
        .ok_or(Error::Truncated)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    let s = b
        .get(at..at.checked_add(8).ok_or(Error::Truncated)?)
        .ok_or(Error::Truncated)?;
    let mut w = [0; 8];
    w.copy_from_slice(s);
    Ok(u64::from_le_bytes(w))
}

impl StreamHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0; HEADER_LEN];
        b[..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        b[10..12].copy_from_slice(&(self.purpose as u16).to_le_bytes());
        b[12..16].copy_from_slice(&(self.pid | (u32::from(self.node) << 24)).to_le_bytes());
        b
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
    fn repeats(self) -> bool {
        matches!(self, Tag::Vma | Tag::Pages | Tag::File)
    }
}

/// Longest path carried.
pub const PATH_MAX: usize = 4096;
/// Resource limits carried (`RLIM_NLIMITS`).
pub const RLIMITS: usize = 16;
/// Signal handlers carried (`_NSIG`).
pub const SIGNALS: usize = 64;
/// Registers of `struct user_regs_struct` on x86_64.
pub const REGS: usize = 27;

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
        let mut b = [0; SECTION_LEN];
        b[..2].copy_from_slice(&(self.tag as u16).to_le_bytes());
        b[2..4].copy_from_slice(&self.flags.to_le_bytes());
        b[4..8].copy_from_slice(&self.len.to_le_bytes());
        b
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
        let mut b = [0; Self::LEN];
        for (i, v) in [self.pid, self.ppid, self.pgid, self.sid, self.exit_signal]
            .iter()
            .enumerate()
        {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[20..].copy_from_slice(&self.comm);
        b
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

/// What an open file is ([`FileDesc::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FileKind {
    /// A regular file, reopened by path.
    Regular = 1,
    /// A character device (a terminal, `/dev/null`), reopened by path.
    Char = 2,
    /// Anything else (not restorable; carried so that the reader can say
    /// which fd it was).
    Other = 3,
    /// A remote file: fd `remote_fd` of process `remote_pid` on node
    /// `node` (`Documentation/ssi/ghost.rst`, "Remote files").
    Remote = 4,
}

impl FileKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => FileKind::Regular,
            2 => FileKind::Char,
            3 => FileKind::Other,
            4 => FileKind::Remote,
            _ => return None,
        })
    }
}

/// Highest fd number carried.
pub const MAX_FD: u32 = 1 << 20;

/// An open file: its fd, open flags, position and what it is.
///
/// Layout: `fd: u32`, `flags: u32`, `pos: u64`, `kind: u8`, `node: u8`,
/// two zero bytes, `remote_pid: u32`, `remote_fd: u32`, four zero bytes,
/// then the path (up to [`PATH_MAX`] bytes, no NUL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDesc<'a> {
    pub fd: u32,
    /// `O_*` flags of the open file (access mode, append, ...).
    pub flags: u32,
    pub pos: u64,
    pub kind: FileKind,
    /// For [`FileKind::Remote`]: the node, PID and fd that serve it; 0
    /// otherwise.
    pub node: u8,
    pub remote_pid: u32,
    pub remote_fd: u32,
    /// Absolute path; required for regular files and devices, may be
    /// empty otherwise.
    pub path: &'a [u8],
}

impl<'a> FileDesc<'a> {
    pub const FIXED: usize = 32;

    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let n = Self::FIXED.checked_add(self.path.len())?;
        let b = out.get_mut(..n)?;
        b[..4].copy_from_slice(&self.fd.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.pos.to_le_bytes());
        b[16] = self.kind as u8;
        b[17] = self.node;
        b[18..20].fill(0);
        b[20..24].copy_from_slice(&self.remote_pid.to_le_bytes());
        b[24..28].copy_from_slice(&self.remote_fd.to_le_bytes());
        b[28..32].fill(0);
        b[32..].copy_from_slice(self.path);
        Some(n)
    }

    pub fn decode(b: &'a [u8]) -> Result<Self> {
        if b.len() < Self::FIXED || b.len() > Self::FIXED + PATH_MAX {
            return Err(Error::BadLength);
        }
        let f = FileDesc {
            fd: u32_at(b, 0)?,
            flags: u32_at(b, 4)?,
            pos: u64_at(b, 8)?,
            kind: FileKind::from_u8(b[16]).ok_or(Error::BadValue)?,
            node: b[17],
            remote_pid: u32_at(b, 20)?,
            remote_fd: u32_at(b, 24)?,
            path: &b[Self::FIXED..],
        };
        let zero = b[18] == 0 && b[19] == 0 && u32_at(b, 28)? == 0;
        let path_ok = match f.path.first() {
            None => !matches!(f.kind, FileKind::Regular | FileKind::Char),
            Some(&c) => c == b'/' && !f.path.contains(&0),
        };
        let remote_ok = if f.kind == FileKind::Remote {
            f.node != 0
                && f.remote_pid != 0
                && f.remote_pid <= i32::MAX as u32
                && f.remote_fd < MAX_FD
        } else {
            f.node == 0 && f.remote_pid == 0 && f.remote_fd == 0
        };
        if f.fd >= MAX_FD || !zero || !path_ok || !remote_ok || f.pos > i64::MAX as u64 {
            return Err(Error::BadValue);
        }
        Ok(f)
    }
}

/// Indices of `struct user_regs_struct` (x86_64) in [`Regs`].
pub mod reg {
    pub const R15: usize = 0;
    pub const BP: usize = 4;
    pub const AX: usize = 10;
    pub const CX: usize = 11;
    pub const ORIG_AX: usize = 15;
    pub const IP: usize = 16;
    pub const CS: usize = 17;
    pub const FLAGS: usize = 18;
    pub const SP: usize = 19;
    pub const SS: usize = 20;
    pub const FS_BASE: usize = 21;
    pub const GS_BASE: usize = 22;
}

const ERESTARTSYS: i64 = 512;
const ERESTARTNOINTR: i64 = 513;
const ERESTARTNOHAND: i64 = 514;
const ERESTART_RESTARTBLOCK: i64 = 516;
const EINTR: i64 = 4;

/// General registers, `struct user_regs_struct` of x86_64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regs(pub [u64; REGS]);

impl Regs {
    pub const LEN: usize = REGS * 8;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        for (i, v) in self.0.iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Instruction and stack pointers and the fs and gs bases must be user
    /// addresses.
    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let mut r = [0u64; REGS];
        for (i, v) in r.iter_mut().enumerate() {
            *v = u64_at(b, 8 * i)?;
        }
        if [reg::IP, reg::SP, reg::FS_BASE, reg::GS_BASE]
            .iter()
            .any(|&i| r[i] >= USER_END)
        {
            return Err(Error::BadValue);
        }
        Ok(Regs(r))
    }

    /// Applies the system call restart rules to a task frozen by a
    /// signal-like interruption before they ran (`get_signal()` comes
    /// before the restart fix-up of `arch_do_signal_or_restart()`): a
    /// syscall that asked to be restarted is re-executed (ax = its number,
    /// ip back over the 2-byte `syscall`); one that needs its kernel
    /// restart block (nanosleep's remaining time, which is not carried)
    /// returns -EINTR instead.
    pub fn fix_syscall_restart(&mut self) {
        let r = &mut self.0;
        if (r[reg::ORIG_AX] as i64) < 0 {
            return;
        }
        match -(r[reg::AX] as i64) {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
                r[reg::AX] = r[reg::ORIG_AX];
                r[reg::IP] = r[reg::IP].wrapping_sub(2);
            }
            ERESTART_RESTARTBLOCK => r[reg::AX] = (-EINTR) as u64,
            _ => {}
        }
    }
}

/// One signal's disposition (`struct sigaction`, x86_64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `SIGKILL`'s bit in a signal set (signal `n` is bit `n - 1`): never
/// carried as pending (a process with it pending is dying).
pub const SIGKILL_BIT: u64 = 1 << 8;

/// Signal handlers, the blocked mask and the pending signals: the task's
/// private set and the process's shared set, numbers only (bit `n - 1`
/// for signal `n`; their siginfo is not carried).
///
/// Layout: `SIGNALS` dispositions of 32 bytes (handler, flags, restorer,
/// mask), then `blocked`, `pending`, `shared_pending` (8 bytes each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signals<'a> {
    b: &'a [u8],
}

/// The three signal sets of a [`Signals`] section.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSets {
    pub blocked: u64,
    /// The task's own pending signals (`tgkill()`, faults).
    pub pending: u64,
    /// The process's pending signals (`kill()`).
    pub shared_pending: u64,
}

impl<'a> Signals<'a> {
    pub const LEN: usize = SIGNALS * 32 + 24;

    /// Writes handlers and sets into `out` (`Self::LEN` bytes).
    pub fn encode(actions: &[SigAction; SIGNALS], sets: &SigSets, out: &mut [u8]) -> Option<()> {
        let b = out.get_mut(..Self::LEN)?;
        for (i, a) in actions.iter().enumerate() {
            for (j, v) in [a.handler, a.flags, a.restorer, a.mask].iter().enumerate() {
                let at = 32 * i + 8 * j;
                b[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        for (j, v) in [sets.blocked, sets.pending, sets.shared_pending]
            .iter()
            .enumerate()
        {
            let at = SIGNALS * 32 + 8 * j;
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        Some(())
    }

    /// A pending `SIGKILL` is refused.
    pub fn decode(b: &'a [u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let s = Signals { b };
        let sets = s.sets();
        if (sets.pending | sets.shared_pending) & SIGKILL_BIT != 0 {
            return Err(Error::BadValue);
        }
        Ok(s)
    }

    /// The disposition of signal `i + 1`.
    pub fn action(&self, i: usize) -> SigAction {
        let f = |j: usize| u64_at(self.b, 32 * i + 8 * j).unwrap_or(0);
        SigAction {
            handler: f(0),
            flags: f(1),
            restorer: f(2),
            mask: f(3),
        }
    }

    pub fn sets(&self) -> SigSets {
        let f = |j: usize| u64_at(self.b, SIGNALS * 32 + 8 * j).unwrap_or(0);
        SigSets {
            blocked: f(0),
            pending: f(1),
            shared_pending: f(2),
        }
    }

    pub fn blocked(&self) -> u64 {
        self.sets().blocked
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
        let mut b = [0; Self::LEN];
        for (i, r) in self.0.iter().enumerate() {
            b[16 * i..16 * i + 8].copy_from_slice(&r.cur.to_le_bytes());
            b[16 * i + 8..16 * i + 16].copy_from_slice(&r.max.to_le_bytes());
        }
        b
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
            let end = at.checked_add(2)?.checked_add(p.len())?;
            let b = out.get_mut(at..end)?;
            b[..2].copy_from_slice(&(p.len() as u16).to_le_bytes());
            b[2..].copy_from_slice(p);
            at = end;
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
        let len = Self::FIXED + 4 * groups.len();
        let b = out.get_mut(..len)?;
        b.fill(0);
        for (i, v) in h.uid.iter().chain(h.gid.iter()).enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        let c = &h.caps;
        for (i, v) in [
            c.inheritable,
            c.permitted,
            c.effective,
            c.bounding,
            c.ambient,
        ]
        .iter()
        .enumerate()
        {
            b[32 + 8 * i..40 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        b[72..76].copy_from_slice(&h.securebits.to_le_bytes());
        b[76] = h.no_new_privs as u8;
        b[77] = h.dumpable;
        b[80..84].copy_from_slice(&(groups.len() as u32).to_le_bytes());
        for (i, g) in groups.iter().enumerate() {
            b[Self::FIXED + 4 * i..Self::FIXED + 4 * i + 4].copy_from_slice(&g.to_le_bytes());
        }
        Some(len)
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

/// `sas_ss_flags` bits a task may hold (`SS_AUTODISARM`, `SS_ONSTACK`,
/// `SS_DISABLE`).
pub const SS_FLAGS: u64 = (1 << 31) | 1 | 2;

/// Per-thread kernel state that points into user memory, the personality,
/// and the place of the vDSO (zero when the process had none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadState {
    pub rseq: u64,
    pub rseq_len: u64,
    pub rseq_sig: u64,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    pub sas_ss_sp: u64,
    pub sas_ss_size: u64,
    pub sas_ss_flags: u64,
    pub personality: u64,
    /// Start of `[vvar]`, start and end of `[vdso]`.
    pub vvar: u64,
    pub vdso: u64,
    pub vdso_end: u64,
}

impl ThreadState {
    pub const LEN: usize = 12 * 8;

    fn fields(&self) -> [u64; 12] {
        [
            self.rseq,
            self.rseq_len,
            self.rseq_sig,
            self.clear_child_tid,
            self.robust_list,
            self.sas_ss_sp,
            self.sas_ss_size,
            self.sas_ss_flags,
            self.personality,
            self.vvar,
            self.vdso,
            self.vdso_end,
        ]
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        for (i, v) in self.fields().iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Checks what `rseq(2)`, `set_robust_list(2)` and `sigaltstack(2)`
    /// would: user addresses, rseq 32-byte aligned with a length of at
    /// least 32, known flags; the vDSO after its vvar area, page-aligned.
    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let f = |i: usize| u64_at(b, 8 * i);
        let t = ThreadState {
            rseq: f(0)?,
            rseq_len: f(1)?,
            rseq_sig: f(2)?,
            clear_child_tid: f(3)?,
            robust_list: f(4)?,
            sas_ss_sp: f(5)?,
            sas_ss_size: f(6)?,
            sas_ss_flags: f(7)?,
            personality: f(8)?,
            vvar: f(9)?,
            vdso: f(10)?,
            vdso_end: f(11)?,
        };
        let user = [t.rseq, t.clear_child_tid, t.robust_list, t.sas_ss_sp];
        let rseq_ok = t.rseq == 0 || (t.rseq % 32 == 0 && (32..=PAGE as u64).contains(&t.rseq_len));
        let page = PAGE as u64;
        let vdso_ok = (t.vvar == 0 && t.vdso == 0 && t.vdso_end == 0)
            || (t.vvar >= USER_MIN
                && t.vvar < t.vdso
                && t.vdso < t.vdso_end
                && t.vdso_end <= USER_END
                && [t.vvar, t.vdso, t.vdso_end].iter().all(|a| a % page == 0));
        if user.iter().any(|&a| a >= USER_END)
            || !rseq_ok
            || t.rseq_sig > u64::from(u32::MAX)
            || t.sas_ss_size > USER_END
            || t.sas_ss_flags & !SS_FLAGS != 0
            || t.personality > u64::from(u32::MAX)
            || !vdso_ok
        {
            return Err(Error::BadValue);
        }
        Ok(t)
    }
}

/// Where a [`Reader`] gets its bytes.
pub trait Source {
    /// Fills `buf` completely; `Err(Truncated)` at the end of the stream.
    fn fill(&mut self, buf: &mut [u8]) -> Result<()>;
    /// Whether the stream has no byte left.
    fn at_end(&mut self) -> Result<bool>;
    /// Fills `buf` with the payload of `End` (a checkpoint's MAC): the same
    /// as `fill`, but a source that authenticates what it reads leaves
    /// these bytes out of its MAC.
    fn trailer(&mut self, buf: &mut [u8]) -> Result<()> {
        self.fill(buf)
    }
    /// Passes over `n` bytes. A source that can seek need not check that
    /// they exist: the next `fill` or `at_end` tells.
    fn skip(&mut self, mut n: usize) -> Result<()> {
        let mut scratch = [0u8; 256];
        while n > 0 {
            let k = n.min(scratch.len());
            self.fill(&mut scratch[..k])?;
            n -= k;
        }
        Ok(())
    }
}

impl Source for &[u8] {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        let head = self.get(..buf.len()).ok_or(Error::Truncated)?;
        buf.copy_from_slice(head);
        *self = &self[buf.len()..];
        Ok(())
    }

    fn at_end(&mut self) -> Result<bool> {
        Ok(self.is_empty())
    }
}

impl<S: Source + ?Sized> Source for &mut S {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        (**self).fill(buf)
    }

    fn at_end(&mut self) -> Result<bool> {
        (**self).at_end()
    }

    fn trailer(&mut self, buf: &mut [u8]) -> Result<()> {
        (**self).trailer(buf)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        (**self).skip(n)
    }
}

/// A decoded section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Task(TaskInfo),
    Creds(Creds<'a>),
    Rlimits(Rlimits),
    Fs(FsPaths<'a>),
    Signals(Signals<'a>),
    Mm(MmLayout),
    Vma(Vma<'a>),
    Pages(PageRun, &'a [u8]),
    /// Pages left on the node that wrote the stream, to be asked for.
    Lazy(PageRun),
    Regs(Regs),
    /// The XSAVE image; its size is the destination's to check.
    Fpu(&'a [u8]),
    Thread(ThreadState),
    /// An open file.
    File(FileDesc<'a>),
    /// A section this code reads but does not restore yet.
    Unsupported(Tag),
    /// `End`, and the stream has nothing after it; a checkpoint's MAC is
    /// [`Reader::mac`].
    End,
}

/// Largest section payload, the size of the buffer [`Reader::next`] needs.
pub const MAX_SECTION: usize = 12 + MAX_RUN_PAGES as usize * PAGE;

/// Reads a stream section by section, checking every rule of this file.
pub struct Reader<S: Source> {
    src: S,
    order: Order,
    /// Page contents are passed over (`Item::Pages` with empty data): a
    /// pass that checks the stream's structure only.
    skip_pages: bool,
    /// The MAC that ended a checkpoint (zero until `End`).
    mac: [u8; MAC_LEN],
    pub header: StreamHeader,
}

impl<S: Source> Reader<S> {
    /// Reads and checks the stream header.
    pub fn new(mut src: S) -> Result<Self> {
        let mut h = [0; HEADER_LEN];
        src.fill(&mut h)?;
        let header = StreamHeader::decode(&h)?;
        Ok(Reader {
            src,
            order: Order::new(),
            skip_pages: false,
            mac: [0; MAC_LEN],
            header,
        })
    }

    /// From now on, passes over page contents (see `skip_pages`).
    pub fn skip_pages(&mut self) {
        self.skip_pages = true;
    }

    /// The MAC that ended a checkpoint, once [`Item::End`] was read; for
    /// the caller to compare with the one it computed (in constant time).
    pub fn mac(&self) -> &[u8; MAC_LEN] {
        &self.mac
    }

    /// The source, e.g. to tell where an error was found.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// The next section, decoded and checked, its payload read into `buf`
    /// (at least [`MAX_SECTION`] bytes).
    pub fn next<'b>(&mut self, buf: &'b mut [u8]) -> Result<Item<'b>> {
        let mut h = [0; SECTION_LEN];
        self.src.fill(&mut h)?;
        let sec = Section::decode(&h)?;
        if sec.flags == SECTION_LAZY {
            let b = buf.get_mut(..PageRun::LEN).ok_or(Error::BadLength)?;
            self.src.fill(b)?;
            let r = PageRun::decode_run(b)?;
            self.order.next(Tag::Pages, None, Some(&r))?;
            if self.order.file_area() {
                return Err(Error::BadValue);
            }
            return Ok(Item::Lazy(r));
        }
        if sec.tag == Tag::Pages && self.skip_pages {
            let b = buf.get_mut(..PageRun::LEN).ok_or(Error::BadLength)?;
            self.src.fill(b)?;
            let r = PageRun::decode_run(b)?;
            let data = r.count as usize * PAGE;
            if sec.len as usize != PageRun::LEN + data {
                return Err(Error::BadLength);
            }
            self.src.skip(data)?;
            self.order.next(Tag::Pages, None, Some(&r))?;
            return Ok(Item::Pages(r, &[]));
        }
        if sec.tag == Tag::End {
            let n = trailer_len(self.header.purpose);
            if sec.len as usize != n {
                return Err(Error::BadLength);
            }
            let mut mac = [0; MAC_LEN];
            self.src.trailer(&mut mac[..n])?;
            if !self.src.at_end()? {
                return Err(Error::OutOfOrder);
            }
            self.order.next(Tag::End, None, None)?;
            self.mac = mac;
            return Ok(Item::End);
        }
        let b = buf.get_mut(..sec.len as usize).ok_or(Error::BadLength)?;
        self.src.fill(b)?;
        let b: &'b [u8] = b;
        let item = match sec.tag {
            Tag::Task => {
                let t = TaskInfo::decode(b)?;
                if t.pid != self.header.pid {
                    return Err(Error::BadValue);
                }
                Item::Task(t)
            }
            Tag::Creds => Item::Creds(Creds::decode(b)?),
            Tag::Rlimits => Item::Rlimits(Rlimits::decode(b)?),
            Tag::Fs => Item::Fs(FsPaths::decode(b)?),
            Tag::Signals => Item::Signals(Signals::decode(b)?),
            Tag::Mm => Item::Mm(MmLayout::decode(b)?),
            Tag::Vma => Item::Vma(Vma::decode(b)?),
            Tag::Pages => {
                let (r, data) = PageRun::decode(b)?;
                Item::Pages(r, data)
            }
            Tag::Regs => Item::Regs(Regs::decode(b)?),
            Tag::Fpu => Item::Fpu(b),
            Tag::Thread => Item::Thread(ThreadState::decode(b)?),
            Tag::File => Item::File(FileDesc::decode(b)?),
            // Read above, with its trailer.
            Tag::End => return Err(Error::OutOfOrder),
        };
        let (vma, run) = match &item {
            Item::Vma(v) => (Some(v), None),
            Item::Pages(r, _) => (None, Some(r)),
            _ => (None, None),
        };
        self.order.next(sec.tag, vma, run)?;
        Ok(item)
    }
}

/// Checks the order of a stream's sections: `Task` first and once; the
/// other single sections at most once, in tag order; areas in increasing,
/// disjoint address order; each `Pages` run inside the last area, which
/// must carry pages, after the previous run; `Regs`, `Mm` and `End`
/// required; nothing after `End`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Order {
    last: Option<Tag>,
    vma: Option<(u64, u64, bool)>,
    /// The last area is a file's.
    file: bool,
    pages_end: u64,
    seen_regs: bool,
    seen_mm: bool,
    ended: bool,
}

impl Order {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts for the next section (its decoded area or run if any).
    pub fn next(&mut self, tag: Tag, vma: Option<&Vma<'_>>, run: Option<&PageRun>) -> Result<()> {
        if self.ended {
            return Err(Error::OutOfOrder);
        }
        match self.last {
            None if tag != Tag::Task => return Err(Error::OutOfOrder),
            Some(last) if tag < last || (tag == last && !tag.repeats()) => {
                // Areas and their pages interleave.
                if !(tag == Tag::Vma && last == Tag::Pages) {
                    return Err(Error::OutOfOrder);
                }
            }
            _ => {}
        }
        match tag {
            Tag::Vma => {
                let v = vma.ok_or(Error::BadValue)?;
                if self.vma.is_some_and(|(_, end, _)| v.start < end) {
                    return Err(Error::OutOfOrder);
                }
                self.vma = Some((v.start, v.end, v.flags & VMA_PAGES != 0));
                self.file = v.flags & VMA_FILE != 0;
                self.pages_end = v.start;
            }
            Tag::Pages => {
                let r = run.ok_or(Error::BadValue)?;
                let (_, end, pages) = self.vma.ok_or(Error::OutOfOrder)?;
                let run_end = r.end().ok_or(Error::BadValue)?;
                if !pages || r.addr < self.pages_end || run_end > end {
                    return Err(Error::OutOfOrder);
                }
                self.pages_end = run_end;
            }
            Tag::Regs => self.seen_regs = true,
            Tag::Mm => self.seen_mm = true,
            Tag::End => {
                if !(self.seen_regs && self.seen_mm) {
                    return Err(Error::Incomplete);
                }
                self.ended = true;
            }
            _ => {}
        }
        self.last = Some(tag);
        Ok(())
    }

    /// Whether the last area is a file's (whose pages always travel).
    pub fn file_area(&self) -> bool {
        self.file
    }

    /// Whether the stream ended properly.
    pub fn done(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn vma(start: u64, end: u64, flags: u32) -> Vma<'static> {
        Vma {
            start,
            end,
            prot: PROT_READ | PROT_WRITE,
            flags,
            pgoff: 0,
            path: if flags & VMA_FILE != 0 {
                b"/bin/sum"
            } else {
                b""
            },
        }
    }

    #[test]
    fn header_roundtrip_and_refusals() {
        let h = StreamHeader {
            purpose: Purpose::Checkpoint,
            node: 3,
            pid: 49210,
        };
        let b = h.encode();
        assert_eq!(StreamHeader::decode(&b), Ok(h));
        let mut bad = b;
        bad[0] = b'X';
        assert_eq!(StreamHeader::decode(&bad), Err(Error::BadMagic));
        // Another version, the previous ones included, is refused.
        for v in [1, 2, 3, 5] {
            let mut bad = b;
            bad[8] = v;
            assert_eq!(StreamHeader::decode(&bad), Err(Error::BadVersion));
        }
        assert_eq!(StreamHeader::decode(&b[..15]), Err(Error::Truncated));
    }

    #[test]
    fn section_lengths_are_bounded_by_kind() {
        let s = Section {
            tag: Tag::Regs,
            flags: 0,
            len: (REGS * 8) as u32,
        };
        assert_eq!(Section::decode(&s.encode()), Ok(s));
        let s = Section {
            tag: Tag::Regs,
            flags: 0,
            len: (REGS * 8 + 1) as u32,
        };
        assert_eq!(Section::decode(&s.encode()), Err(Error::BadLength));
        let mut b = Section {
            tag: Tag::End,
            flags: 0,
            len: 0,
        }
        .encode();
        b[0] = 99;
        assert_eq!(Section::decode(&b), Err(Error::UnknownTag));
    }

    #[test]
    fn vma_checks() {
        let mut buf = [0u8; 64];
        let v = vma(0x40_0000, 0x40_2000, VMA_FILE);
        let n = v.encode(&mut buf).unwrap();
        assert_eq!(Vma::decode(&buf[..n]), Ok(v));
        for bad in [
            vma(0x40_0001, 0x40_2000, 0),
            vma(0x2000, 0x1000, 0),
            vma(0x1000, 0x2000, 0),
            vma(0x40_0000, USER_END + 0x1000, 0),
            vma(0x40_0000, 0x40_1000, 16),
        ] {
            let n = bad.encode(&mut buf).unwrap();
            assert_eq!(Vma::decode(&buf[..n]), Err(Error::BadValue), "{bad:?}");
        }
        // A file area needs a path, an anonymous one none.
        let mut v = vma(0x40_0000, 0x40_1000, 0);
        v.path = b"/x";
        let n = v.encode(&mut buf).unwrap();
        assert_eq!(Vma::decode(&buf[..n]), Err(Error::BadValue));
    }

    #[test]
    fn page_runs_are_whole() {
        let r = PageRun {
            addr: 0x60_0000,
            count: 2,
        };
        let mut b = r.encode().to_vec();
        b.extend(std::iter::repeat(7).take(2 * PAGE));
        assert_eq!(PageRun::decode(&b).map(|x| x.0), Ok(r));
        assert_eq!(PageRun::decode(&b[..b.len() - 1]), Err(Error::BadLength));
        let r = PageRun {
            addr: 0x60_0000,
            count: 0,
        };
        assert_eq!(PageRun::decode(&r.encode()), Err(Error::BadValue));
    }

    #[test]
    fn order_of_a_stream() {
        let heap = vma(0x60_0000, 0x60_4000, VMA_PAGES);
        let stack = vma(
            0x7ffe_0000_0000,
            0x7ffe_0000_2000,
            VMA_PAGES | VMA_GROWSDOWN,
        );
        let mut o = Order::new();
        o.next(Tag::Task, None, None).unwrap();
        o.next(Tag::Creds, None, None).unwrap();
        o.next(Tag::Rlimits, None, None).unwrap();
        assert!(
            o.clone().next(Tag::Creds, None, None).is_err(),
            "Creds before Rlimits"
        );
        o.next(Tag::Fs, None, None).unwrap();
        assert!(o.clone().next(Tag::Fs, None, None).is_err(), "Fs once");
        assert!(
            o.clone().next(Tag::Rlimits, None, None).is_err(),
            "Rlimits before Fs"
        );
        o.next(Tag::Signals, None, None).unwrap();
        o.next(Tag::Mm, None, None).unwrap();
        o.next(Tag::Vma, Some(&heap), None).unwrap();
        o.next(
            Tag::Pages,
            None,
            Some(&PageRun {
                addr: 0x60_0000,
                count: 2,
            }),
        )
        .unwrap();
        o.next(
            Tag::Pages,
            None,
            Some(&PageRun {
                addr: 0x60_3000,
                count: 1,
            }),
        )
        .unwrap();
        // Before the previous run, or beyond the area: refused.
        assert!(o
            .clone()
            .next(
                Tag::Pages,
                None,
                Some(&PageRun {
                    addr: 0x60_1000,
                    count: 1
                })
            )
            .is_err());
        assert!(o
            .clone()
            .next(
                Tag::Pages,
                None,
                Some(&PageRun {
                    addr: 0x60_3000,
                    count: 2
                })
            )
            .is_err());
        // Overlapping area: refused.
        assert!(o
            .clone()
            .next(Tag::Vma, Some(&vma(0x60_2000, 0x60_5000, 0)), None)
            .is_err());
        o.next(Tag::Vma, Some(&stack), None).unwrap();
        o.next(Tag::File, None, None).unwrap();
        assert!(o.clone().next(Tag::End, None, None).is_err(), "no Regs yet");
        o.next(Tag::Regs, None, None).unwrap();
        o.next(Tag::Fpu, None, None).unwrap();
        assert!(o.clone().next(Tag::Regs, None, None).is_err(), "twice");
        o.next(Tag::End, None, None).unwrap();
        assert!(o.done());
        assert!(o.next(Tag::End, None, None).is_err());
        assert!(
            Order::new().next(Tag::Regs, None, None).is_err(),
            "Task first"
        );
        // Pages of an area that carries none.
        let mut o = Order::new();
        o.next(Tag::Task, None, None).unwrap();
        o.next(Tag::Vma, Some(&vma(0x40_0000, 0x40_1000, VMA_FILE)), None)
            .unwrap();
        assert!(o
            .next(
                Tag::Pages,
                None,
                Some(&PageRun {
                    addr: 0x40_0000,
                    count: 1
                })
            )
            .is_err());
    }

    #[test]
    fn task_and_mm_roundtrip() {
        let t = TaskInfo {
            pid: 49210,
            ppid: 16400,
            pgid: 49210,
            sid: 16390,
            exit_signal: 17,
            comm: *b"sum\0\0\0\0\0\0\0\0\0\0\0\0\0",
        };
        assert_eq!(TaskInfo::decode(&t.encode()), Ok(t));
        let m = MmLayout {
            start_brk: 0x60_0000,
            brk: 0x62_0000,
            ..Default::default()
        };
        assert_eq!(MmLayout::decode(&m.encode()), Ok(m));
        let bad = MmLayout {
            start_brk: 2,
            brk: 1,
            ..Default::default()
        };
        assert_eq!(MmLayout::decode(&bad.encode()), Err(Error::BadValue));
        let f = FileDesc {
            fd: 1,
            flags: 1,
            pos: 12,
            kind: FileKind::Regular,
            node: 0,
            remote_pid: 0,
            remote_fd: 0,
            path: b"/tmp/out",
        };
        let mut buf = [0u8; 64];
        let n = f.encode(&mut buf).unwrap();
        assert_eq!(FileDesc::decode(&buf[..n]), Ok(f));
        let remote = FileDesc {
            kind: FileKind::Remote,
            node: 2,
            remote_pid: 16400,
            remote_fd: 1,
            path: b"",
            ..f
        };
        let n = remote.encode(&mut buf).unwrap();
        assert_eq!(FileDesc::decode(&buf[..n]), Ok(remote));
        for bad in [
            FileDesc { path: b"", ..f },
            FileDesc {
                path: b"tmp/x",
                ..f
            },
            FileDesc {
                path: b"/a\0b",
                ..f
            },
            FileDesc { fd: MAX_FD, ..f },
            FileDesc { pos: 1 << 63, ..f },
            FileDesc { node: 1, ..f },
            FileDesc { remote_pid: 3, ..f },
            FileDesc { node: 0, ..remote },
            FileDesc {
                remote_pid: 0,
                ..remote
            },
            FileDesc {
                remote_fd: MAX_FD,
                ..remote
            },
            FileDesc {
                kind: FileKind::Char,
                path: b"",
                ..f
            },
        ] {
            let n = bad.encode(&mut buf).unwrap();
            assert_eq!(FileDesc::decode(&buf[..n]), Err(Error::BadValue), "{bad:?}");
        }
        let n = f.encode(&mut buf).unwrap();
        for (at, v) in [(16, 0u8), (16, 5), (18, 1), (30, 1)] {
            let mut b = buf;
            b[at] = v;
            assert_eq!(FileDesc::decode(&b[..n]), Err(Error::BadValue), "byte {at}");
        }
        assert_eq!(FileDesc::decode(&buf[..31]), Err(Error::BadLength));
    }

    /// A small stream as the kernel writes it: every section kind read.
    fn sample_stream() -> Vec<u8> {
        sample_stream_with(false)
    }

    /// `lazy_in_file`: a lazy run in the file's area, which must travel.
    fn sample_stream_with(lazy_in_file: bool) -> Vec<u8> {
        let lazy = |out: &mut Vec<u8>, addr: u64| {
            out.extend_from_slice(
                &Section {
                    tag: Tag::Pages,
                    flags: SECTION_LAZY,
                    len: PageRun::LEN as u32,
                }
                .encode(),
            );
            out.extend_from_slice(&PageRun { addr, count: 1 }.encode());
        };
        let mut out = Vec::new();
        let sec = |out: &mut Vec<u8>, tag: Tag, p: &[u8]| {
            out.extend_from_slice(
                &Section {
                    tag,
                    flags: 0,
                    len: p.len() as u32,
                }
                .encode(),
            );
            out.extend_from_slice(p);
        };
        out.extend_from_slice(
            &StreamHeader {
                purpose: Purpose::Checkpoint,
                node: 1,
                pid: 16400,
            }
            .encode(),
        );
        let t = TaskInfo {
            pid: 16400,
            ppid: 16390,
            pgid: 16400,
            sid: 16390,
            exit_signal: 17,
            comm: *b"vecsum\0\0\0\0\0\0\0\0\0\0",
        };
        sec(&mut out, Tag::Task, &t.encode());
        let mut cb = [0u8; Creds::FIXED + 8];
        let n = Creds::encode(&sample_creds(), &[100, 2000], &mut cb).unwrap();
        sec(&mut out, Tag::Creds, &cb[..n]);
        let mut lim = Rlimits::default();
        for (i, r) in lim.0.iter_mut().enumerate() {
            *r = Rlimit {
                cur: i as u64 * 10,
                max: u64::MAX,
            };
        }
        sec(&mut out, Tag::Rlimits, &lim.encode());
        let mut fb = [0u8; 64];
        let n = FsPaths {
            cwd: b"/tmp/fsdir",
            root: b"/",
        }
        .encode(&mut fb)
        .unwrap();
        sec(&mut out, Tag::Fs, &fb[..n]);
        let mut acts = [SigAction::default(); SIGNALS];
        acts[9].handler = 0x40_1000;
        let mut sig = std::vec![0u8; Signals::LEN];
        let sets = SigSets {
            blocked: 1 << 11,
            pending: 1 << 11,
            shared_pending: 1 << 9,
        };
        Signals::encode(&acts, &sets, &mut sig).unwrap();
        sec(&mut out, Tag::Signals, &sig);
        sec(&mut out, Tag::Mm, &MmLayout::default().encode());
        let mut vb = [0u8; 64];
        let n = vma(0x40_0000, 0x40_2000, VMA_FILE | VMA_PAGES)
            .encode(&mut vb)
            .unwrap();
        sec(&mut out, Tag::Vma, &vb[..n]);
        if lazy_in_file {
            lazy(&mut out, 0x40_0000);
        }
        let n = vma(0x60_0000, 0x60_2000, VMA_PAGES)
            .encode(&mut vb)
            .unwrap();
        sec(&mut out, Tag::Vma, &vb[..n]);
        lazy(&mut out, 0x60_0000);
        let mut run = PageRun {
            addr: 0x60_1000,
            count: 1,
        }
        .encode()
        .to_vec();
        run.extend(std::iter::repeat(9).take(PAGE));
        sec(&mut out, Tag::Pages, &run);
        let mut fb = [0u8; 64];
        let n = FileDesc {
            fd: 1,
            flags: 0o2001,
            pos: 42,
            kind: FileKind::Regular,
            node: 0,
            remote_pid: 0,
            remote_fd: 0,
            path: b"/tmp/out",
        }
        .encode(&mut fb)
        .unwrap();
        sec(&mut out, Tag::File, &fb[..n]);
        let n = FileDesc {
            fd: 2,
            flags: 1,
            pos: 0,
            kind: FileKind::Remote,
            node: 1,
            remote_pid: 16399,
            remote_fd: 2,
            path: b"",
        }
        .encode(&mut fb)
        .unwrap();
        sec(&mut out, Tag::File, &fb[..n]);
        let mut regs = Regs([0; REGS]);
        regs.0[reg::IP] = 0x40_1000;
        sec(&mut out, Tag::Regs, &regs.encode());
        sec(&mut out, Tag::Fpu, &[0u8; 512]);
        let th = ThreadState {
            rseq: 0x60_0020,
            rseq_len: 32,
            vvar: 0x7fff_0000_0000,
            vdso: 0x7fff_0000_4000,
            vdso_end: 0x7fff_0000_6000,
            ..Default::default()
        };
        sec(&mut out, Tag::Thread, &th.encode());
        sec(&mut out, Tag::End, &SAMPLE_MAC);
        out
    }

    const SAMPLE_MAC: [u8; MAC_LEN] = [0xa5; MAC_LEN];

    /// A source that records which bytes it would authenticate (`fill`,
    /// `skip`) and which it reads as the trailer.
    struct Recording<'a> {
        rest: &'a [u8],
        macd: Vec<u8>,
        trailer: Vec<u8>,
    }

    impl Source for Recording<'_> {
        fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
            self.rest.fill(buf)?;
            self.macd.extend_from_slice(buf);
            Ok(())
        }

        fn trailer(&mut self, buf: &mut [u8]) -> Result<()> {
            self.rest.fill(buf)?;
            self.trailer.extend_from_slice(buf);
            Ok(())
        }

        fn at_end(&mut self) -> Result<bool> {
            Ok(self.rest.is_empty())
        }
    }

    /// Version 3: a checkpoint ends with its MAC, read apart from the
    /// bytes it covers (all before it, `End`'s section header included);
    /// a migration ends with nothing; any other length, a truncated MAC or
    /// a byte after it is refused.
    #[test]
    fn checkpoint_ends_with_its_mac() {
        let s = sample_stream();
        for skip in [false, true] {
            let mut src = Recording {
                rest: &s,
                macd: Vec::new(),
                trailer: Vec::new(),
            };
            let mut r = Reader::new(&mut src).unwrap();
            if skip {
                r.skip_pages();
            }
            let mut buf = std::vec![0u8; MAX_SECTION];
            while r.next(&mut buf).unwrap() != Item::End {}
            assert_eq!(r.mac(), &SAMPLE_MAC);
            if !skip {
                assert_eq!(src.macd, s[..s.len() - MAC_LEN]);
            }
            assert_eq!(src.trailer, SAMPLE_MAC);
        }
        let end = s.len() - MAC_LEN - SECTION_LEN;
        assert_eq!(
            s[end..end + SECTION_LEN],
            end_section(Purpose::Checkpoint).encode()
        );
        // Without its MAC, or with a longer one.
        let mut bare = s[..end].to_vec();
        bare.extend_from_slice(&end_section(Purpose::Migration).encode());
        assert_eq!(read_all(&bare), Err(Error::BadLength));
        let mut long = s[..end].to_vec();
        long.extend_from_slice(
            &Section {
                tag: Tag::End,
                flags: 0,
                len: MAC_LEN as u32 + 1,
            }
            .encode(),
        );
        long.extend_from_slice(&[0; MAC_LEN + 1]);
        assert_eq!(read_all(&long), Err(Error::BadLength));
        // Truncated in its MAC, or followed by anything.
        for cut in 1..=MAC_LEN {
            assert_eq!(read_all(&s[..s.len() - cut]), Err(Error::Truncated));
        }
        let mut more = s.clone();
        more.extend_from_slice(&[0; MAC_LEN]);
        assert_eq!(read_all(&more), Err(Error::OutOfOrder));
        // A migration: no MAC, and one is refused.
        let mut m = s.clone();
        m[10..12].copy_from_slice(&(Purpose::Migration as u16).to_le_bytes());
        assert_eq!(read_all(&m), Err(Error::BadLength));
        let mut m = m[..end].to_vec();
        m.extend_from_slice(&end_section(Purpose::Migration).encode());
        assert_eq!(read_all(&m), Ok(16));
    }

    fn read_all(mut b: &[u8]) -> Result<usize> {
        let mut r = Reader::new(&mut b)?;
        let mut buf = std::vec![0u8; MAX_SECTION];
        let mut n = 0;
        loop {
            n += 1;
            if r.next(&mut buf)? == Item::End {
                return Ok(n);
            }
        }
    }

    #[test]
    fn reader_reads_a_whole_stream() {
        let s = sample_stream();
        assert_eq!(read_all(&s), Ok(16));
    }

    /// Lazy runs: the run alone, in an anonymous area only, read alike
    /// whether page contents are passed over or not.
    #[test]
    fn lazy_runs() {
        let s = sample_stream();
        let mut b: &[u8] = &s;
        let mut r = Reader::new(&mut b).unwrap();
        r.skip_pages();
        let mut buf = std::vec![0u8; MAX_SECTION];
        let mut lazies = Vec::new();
        loop {
            match r.next(&mut buf).unwrap() {
                Item::End => break,
                Item::Lazy(run) => lazies.push(run),
                _ => {}
            }
        }
        assert_eq!(
            lazies,
            [PageRun {
                addr: 0x60_0000,
                count: 1
            }]
        );
        assert_eq!(read_all(&sample_stream_with(true)), Err(Error::BadValue));
        let sec = |tag, flags, len| Section { tag, flags, len }.encode();
        let run = PageRun::LEN as u32;
        assert!(Section::decode(&sec(Tag::Pages, SECTION_LAZY, run)).is_ok());
        for bad in [
            sec(Tag::Pages, SECTION_LAZY, run + PAGE as u32),
            sec(Tag::Vma, SECTION_LAZY, run),
            sec(Tag::Pages, 2, run),
        ] {
            assert_eq!(Section::decode(&bad), Err(Error::BadValue));
        }
    }

    /// Passing over page contents checks the same structure: the same
    /// items, the same refusals of truncated streams.
    #[test]
    fn reader_skipping_pages() {
        let s = sample_stream();
        let read = |mut b: &[u8]| -> Result<usize> {
            let mut r = Reader::new(&mut b)?;
            r.skip_pages();
            let mut buf = std::vec![0u8; MAX_SECTION];
            let mut n = 0;
            loop {
                n += 1;
                match r.next(&mut buf)? {
                    Item::End => return Ok(n),
                    Item::Pages(_, d) => assert!(d.is_empty()),
                    _ => {}
                }
            }
        };
        assert_eq!(read(&s), Ok(16));
        for cut in 0..s.len() {
            assert!(read(&s[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn reader_refuses_every_truncation_and_trailing_bytes() {
        let s = sample_stream();
        for cut in 0..s.len() {
            assert!(read_all(&s[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = s.clone();
        long.push(0);
        assert_eq!(read_all(&long), Err(Error::OutOfOrder));
    }

    #[test]
    fn reader_refuses_a_task_of_another_pid() {
        let mut s = sample_stream();
        // The Task section's pid follows the 16-byte header and its
        // 8-byte section header.
        s[24] ^= 1;
        assert_eq!(read_all(&s), Err(Error::BadValue));
    }

    #[test]
    fn syscall_restart_fixup() {
        let mut r = Regs([0; REGS]);
        r.0[reg::ORIG_AX] = 0; // read
        r.0[reg::AX] = (-512i64) as u64; // -ERESTARTSYS
        r.0[reg::IP] = 0x40_1002;
        r.fix_syscall_restart();
        assert_eq!((r.0[reg::AX], r.0[reg::IP]), (0, 0x40_1000));
        r.0[reg::ORIG_AX] = 35; // nanosleep
        r.0[reg::AX] = (-516i64) as u64;
        r.fix_syscall_restart();
        assert_eq!(r.0[reg::AX] as i64, -4);
        // Interrupted in user mode: nothing to do.
        r.0[reg::ORIG_AX] = u64::MAX;
        r.0[reg::AX] = (-512i64) as u64;
        r.fix_syscall_restart();
        assert_eq!(r.0[reg::AX] as i64, -512);
    }

    #[test]
    fn thread_state_checks() {
        let ok = ThreadState {
            rseq: 0x60_0020,
            rseq_len: 32,
            ..Default::default()
        };
        assert_eq!(ThreadState::decode(&ok.encode()), Ok(ok));
        for bad in [
            ThreadState {
                rseq: 0x60_0010,
                rseq_len: 32,
                ..ok
            },
            ThreadState { rseq_len: 8, ..ok },
            ThreadState {
                sas_ss_flags: 4,
                ..ok
            },
            ThreadState {
                robust_list: USER_END,
                ..ok
            },
            ThreadState {
                vvar: 0x7000_0000,
                vdso: 0x6000_0000,
                vdso_end: 0x7000_2000,
                ..ok
            },
        ] {
            assert_eq!(
                ThreadState::decode(&bad.encode()),
                Err(Error::BadValue),
                "{bad:?}"
            );
        }
        let mut regs = Regs([0; REGS]);
        regs.0[reg::SP] = USER_END;
        assert_eq!(Regs::decode(&regs.encode()), Err(Error::BadValue));
    }

    #[test]
    fn rlimits_fs_and_pending_signals() {
        let mut l = Rlimits::default();
        l.0[7] = Rlimit { cur: 64, max: 1024 };
        l.0[3] = Rlimit {
            cur: 8 << 20,
            max: u64::MAX,
        };
        assert_eq!(Rlimits::decode(&l.encode()), Ok(l));
        let mut bad = l;
        bad.0[7] = Rlimit {
            cur: 1025,
            max: 1024,
        };
        assert_eq!(Rlimits::decode(&bad.encode()), Err(Error::BadValue));
        assert_eq!(Rlimits::decode(&l.encode()[1..]), Err(Error::BadLength));

        let mut b = [0u8; 2 * (2 + PATH_MAX) + 1];
        let f = FsPaths {
            cwd: b"/tmp/d",
            root: b"/jail",
        };
        let n = f.encode(&mut b).unwrap();
        assert_eq!(n, 2 + 6 + 2 + 5);
        assert_eq!(FsPaths::decode(&b[..n]), Ok(f));
        for cut in 0..n {
            assert!(FsPaths::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(FsPaths::decode(&b[..n + 1]), Err(Error::BadLength));
        for bad in [
            FsPaths {
                cwd: b"",
                root: b"/",
            },
            FsPaths {
                cwd: b"tmp",
                root: b"/",
            },
            FsPaths {
                cwd: b"/",
                root: b"/a\0b",
            },
        ] {
            let n = bad.encode(&mut b).unwrap();
            assert_eq!(FsPaths::decode(&b[..n]), Err(Error::BadValue), "{bad:?}");
        }
        let long = std::vec![b'/'; PATH_MAX + 1];
        let f = FsPaths {
            cwd: &long,
            root: b"/",
        };
        assert_eq!(f.encode(&mut b), None);
        // The largest section fits its bound.
        let full = std::vec![b'/'; PATH_MAX];
        let f = FsPaths {
            cwd: &full,
            root: &full,
        };
        let n = f.encode(&mut b).unwrap();
        assert_eq!(n, Tag::Fs.max_len());
        assert_eq!(FsPaths::decode(&b[..n]), Ok(f));

        let acts = [SigAction::default(); SIGNALS];
        let mut sig = std::vec![0u8; Signals::LEN];
        let sets = SigSets {
            blocked: 1 << 11,
            pending: 1 << 11 | 1 << 63,
            shared_pending: 1 << 9,
        };
        Signals::encode(&acts, &sets, &mut sig).unwrap();
        assert_eq!(Signals::decode(&sig).map(|s| s.sets()), Ok(sets));
        for k in [
            SigSets {
                pending: SIGKILL_BIT,
                ..sets
            },
            SigSets {
                shared_pending: SIGKILL_BIT,
                ..sets
            },
        ] {
            Signals::encode(&acts, &k, &mut sig).unwrap();
            assert_eq!(Signals::decode(&sig), Err(Error::BadValue));
        }
    }

    /// A root process that dropped capabilities: some sets, securebits,
    /// `no_new_privs`.
    fn sample_creds() -> CredsHead {
        CredsHead {
            uid: [1000, 1001, 1002, 1001],
            gid: [100, 101, 102, 101],
            caps: Caps {
                inheritable: 1 << 10,
                permitted: (1 << 10) | (1 << 5),
                effective: 1 << 5,
                bounding: (1 << 10) | (1 << 5) | (1 << 21),
                ambient: 1 << 10,
            },
            securebits: 0x14,
            no_new_privs: true,
            dumpable: 1,
        }
    }

    #[test]
    fn creds_round_trip() {
        let h = sample_creds();
        let groups = [10, 20, 20, 65534];
        let mut b = [0u8; Creds::FIXED + 16];
        let n = Creds::encode(&h, &groups, &mut b).unwrap();
        assert_eq!(n, b.len());
        let c = Creds::decode(&b).unwrap();
        assert_eq!(c.head, h);
        assert_eq!(c.ngroups(), 4);
        assert!(c.groups().eq(groups.iter().copied()));
        // No groups, and the most a section carries.
        let n = Creds::encode(&h, &[], &mut b).unwrap();
        assert_eq!(Creds::decode(&b[..n]).unwrap().ngroups(), 0);
        let many: std::vec::Vec<u32> = (0..MAX_GROUPS as u32).collect();
        let mut big = std::vec![0u8; Tag::Creds.max_len()];
        let n = Creds::encode(&h, &many, &mut big).unwrap();
        assert_eq!(n, Tag::Creds.max_len());
        assert_eq!(Creds::decode(&big).unwrap().ngroups(), MAX_GROUPS);
        let more: std::vec::Vec<u32> = (0..=MAX_GROUPS as u32).collect();
        assert_eq!(Creds::encode(&h, &more, &mut big), None);
        assert_eq!(
            Creds::encode(&h, &groups, &mut b[..Creds::FIXED + 15]),
            None
        );
    }

    #[test]
    fn malformed_creds_are_refused() {
        let ok = sample_creds();
        let enc = |h: &CredsHead, g: &[u32]| {
            let mut b = std::vec![0u8; Creds::FIXED + 4 * g.len()];
            Creds::encode(h, g, &mut b).unwrap();
            b
        };
        let caps = |f: fn(&mut Caps)| {
            let mut h = ok;
            f(&mut h.caps);
            h
        };
        for bad in [
            CredsHead {
                uid: [0, 0, u32::MAX, 0],
                ..ok
            },
            CredsHead {
                gid: [u32::MAX, 0, 0, 0],
                ..ok
            },
            caps(|c| c.bounding |= 1 << 41),
            caps(|c| c.inheritable = u64::MAX),
            caps(|c| c.effective |= 1 << 21),
            caps(|c| c.ambient |= 1 << 5),
            caps(|c| c.ambient |= 1 << 21),
            CredsHead {
                securebits: 0x100,
                ..ok
            },
            CredsHead { dumpable: 3, ..ok },
        ] {
            assert_eq!(
                Creds::decode(&enc(&bad, &[1])),
                Err(Error::BadValue),
                "{bad:?}"
            );
        }
        let good = enc(&ok, &[1, 2]);
        assert!(Creds::decode(&good).is_ok());
        // Flags beyond one bit, reserved bytes, groups out of order or
        // `-1`, a count that does not match the length or is too large.
        for (at, v) in [(76, 2u8), (78, 1), (79, 0x80)] {
            let mut b = good.clone();
            b[at] = v;
            assert_eq!(Creds::decode(&b), Err(Error::BadValue), "byte {at}");
        }
        assert_eq!(Creds::decode(&enc(&ok, &[2, 1])), Err(Error::BadValue));
        assert_eq!(Creds::decode(&enc(&ok, &[u32::MAX])), Err(Error::BadValue));
        let mut b = good.clone();
        b[80] = 3;
        assert_eq!(Creds::decode(&b), Err(Error::BadLength));
        b[80..84].copy_from_slice(&(MAX_GROUPS as u32 + 1).to_le_bytes());
        assert_eq!(Creds::decode(&b), Err(Error::BadValue));
        assert_eq!(
            Creds::decode(&good[..Creds::FIXED - 1]),
            Err(Error::BadLength)
        );
        assert_eq!(
            Creds::decode(&good[..good.len() - 1]),
            Err(Error::BadLength)
        );
        // A section longer than the most groups is refused by its header.
        let h = Section {
            tag: Tag::Creds,
            flags: 0,
            len: (Tag::Creds.max_len() + 4) as u32,
        };
        assert_eq!(Section::decode(&h.encode()), Err(Error::BadLength));
    }

    proptest! {
        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = StreamHeader::decode(&b);
            let _ = Section::decode(&b);
            let _ = TaskInfo::decode(&b);
            let _ = MmLayout::decode(&b);
            let _ = Vma::decode(&b);
            let _ = PageRun::decode(&b);
            let _ = FileDesc::decode(&b);
            let _ = Regs::decode(&b);
            let _ = Signals::decode(&b);
            let _ = Creds::decode(&b);
            let _ = Rlimits::decode(&b);
            let _ = FsPaths::decode(&b);
            let _ = ThreadState::decode(&b);
        }

        #[test]
        fn reader_never_panics_on_a_damaged_stream(at in 0usize..20000, v in any::<u8>()) {
            let mut s = sample_stream();
            let i = at % s.len();
            s[i] ^= v | 1;
            let _ = read_all(&s);
        }

        #[test]
        fn order_never_panics(tags in proptest::collection::vec((0u16..13, any::<u64>(), 1u32..80), 0..40)) {
            let mut o = Order::new();
            for (t, a, c) in tags {
                let tag = Tag::from_u16(if t == 12 { 0xffff } else { t }).unwrap_or(Tag::File);
                let addr = a % USER_END & !(PAGE as u64 - 1);
                let v = Vma { start: addr, end: addr.saturating_add(PAGE as u64 * 4), prot: 3, flags: VMA_PAGES, pgoff: 0, path: b"" };
                let r = PageRun { addr, count: c };
                let _ = o.next(tag, Some(&v), Some(&r));
            }
        }

        #[test]
        fn file_roundtrip(fd in 0u32..MAX_FD, flags in any::<u32>(), pos in 0u64..=i64::MAX as u64,
                          kind in 1u8..5, node in 1u8.., rpid in 1u32..=i32::MAX as u32, rfd in 0u32..MAX_FD,
                          path in proptest::collection::vec(1u8.., 0..40)) {
            let kind = FileKind::from_u8(kind).unwrap();
            let remote = kind == FileKind::Remote;
            let mut p = std::vec![b'/'];
            p.extend_from_slice(&path);
            let f = FileDesc {
                fd,
                flags,
                pos,
                kind,
                node: if remote { node } else { 0 },
                remote_pid: if remote { rpid } else { 0 },
                remote_fd: if remote { rfd } else { 0 },
                path: &p,
            };
            let mut buf = std::vec![0u8; FileDesc::FIXED + p.len()];
            let n = f.encode(&mut buf).unwrap();
            prop_assert_eq!(FileDesc::decode(&buf[..n]), Ok(f));
        }

        #[test]
        fn rlimits_roundtrip(pairs in proptest::collection::vec((any::<u64>(), any::<u64>()), RLIMITS)) {
            let mut l = Rlimits::default();
            for (r, &(a, b)) in l.0.iter_mut().zip(pairs.iter()) {
                *r = Rlimit { cur: a.min(b), max: a.max(b) };
            }
            prop_assert_eq!(Rlimits::decode(&l.encode()), Ok(l));
            let soft_above_hard = pairs.iter().any(|&(a, b)| a > b);
            let mut raw = Rlimits::default();
            for (r, &(a, b)) in raw.0.iter_mut().zip(pairs.iter()) {
                *r = Rlimit { cur: a, max: b };
            }
            prop_assert_eq!(Rlimits::decode(&raw.encode()).is_err(), soft_above_hard);
        }

        #[test]
        fn fs_roundtrip(cwd in proptest::collection::vec(1u8.., 0..200),
                        root in proptest::collection::vec(1u8.., 0..200)) {
            let mut c = std::vec![b'/'];
            c.extend_from_slice(&cwd);
            let mut r = std::vec![b'/'];
            r.extend_from_slice(&root);
            let f = FsPaths { cwd: &c, root: &r };
            let mut buf = std::vec![0u8; Tag::Fs.max_len()];
            let n = f.encode(&mut buf).unwrap();
            prop_assert_eq!(FsPaths::decode(&buf[..n]), Ok(f));
        }

        #[test]
        fn fs_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(f) = FsPaths::decode(&b) {
                prop_assert!(f.cwd.starts_with(b"/") && f.root.starts_with(b"/"));
                prop_assert_eq!(f.cwd.len() + f.root.len() + 4, b.len());
            }
        }

        #[test]
        fn signal_sets_roundtrip(blocked in any::<u64>(), pending in any::<u64>(), shared in any::<u64>()) {
            let acts = [SigAction::default(); SIGNALS];
            let sets = SigSets {
                blocked,
                pending: pending & !SIGKILL_BIT,
                shared_pending: shared & !SIGKILL_BIT,
            };
            let mut sig = std::vec![0u8; Signals::LEN];
            Signals::encode(&acts, &sets, &mut sig).unwrap();
            prop_assert_eq!(Signals::decode(&sig).map(|s| s.sets()), Ok(sets));
        }

        #[test]
        fn vma_roundtrip(start in (USER_MIN / PAGE as u64)..(USER_END / PAGE as u64 - 16), pages in 1u64..16,
                         prot in 0u32..8, flags in 0u32..16, pgoff in any::<u64>()) {
            let v = Vma {
                start: start * PAGE as u64,
                end: (start + pages) * PAGE as u64,
                prot,
                flags,
                pgoff,
                path: if flags & VMA_FILE != 0 { b"/lib/x.so" } else { b"" },
            };
            let mut buf = Vec::new();
            buf.resize(64, 0);
            let n = v.encode(&mut buf).unwrap();
            prop_assert_eq!(Vma::decode(&buf[..n]), Ok(v));
        }
    }
}
