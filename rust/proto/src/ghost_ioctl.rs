// SPDX-License-Identifier: GPL-2.0-only
//! The ioctls of `/dev/ssi/ghost`: their numbers, argument blocks and the
//! reasons of a refusal, shared by `ssi_ghost.ko` and the user tools
//! (`tools/ghost`). Documented in `Documentation/ssi/ghost.rst`.
//!
//! Every argument block is little endian, read and written back whole:
//!
//! | ioctl (nr)              | block                                                        |
//! |-------------------------|--------------------------------------------------------------|
//! | `DUMP` (0x40)           | `pid`, `fd`, `flags`, `reason: u32`, `detail: u64`, `bytes: u64` |
//! | `RESTORE_SELF` (0x41)   | `fd`, `dev_fd`, `reason`, `node: u32`, `detail: u64`          |
//! | `MIGRATE` (0x42)        | `pid`, `node`, `flags`, `reason: u32`, `detail: u64`          |
//! | `RESTORE_MIGRATED` (0x43) | as `RESTORE_SELF`                                           |
//! | `MAY_MIGRATE` (0x44)    | as `MIGRATE`: `flags` 0 reads, 1 forbids, 2 allows; `detail` says whether it may |
//! | `GETFD` (0x45)          | `node`, `pid`, `fd`, `flags`, `new_fd: i32`, 4 zero bytes     |
//!
//! The kernel reads the fields a caller gives (`request`) and writes the
//! whole block back (`encode`); a tool reads the answer with `decode`.

use super::codec::{fill, Reader};

/// `_IOWR('S', nr, size)` on x86_64.
const fn iowr(nr: u32, size: usize) -> u32 {
    (3 << 30) | ((size as u32) << 16) | ((b'S' as u32) << 8) | nr
}

/// `_IOWR('S', 0x40, struct ssi_ghost_dump)`.
pub const IOC_DUMP: u32 = iowr(0x40, DumpArg::LEN);
/// `_IOWR('S', 0x41, struct ssi_ghost_restore)`.
pub const IOC_RESTORE_SELF: u32 = iowr(0x41, RestoreArg::LEN);
/// `_IOWR('S', 0x42, struct ssi_ghost_migrate)`.
pub const IOC_MIGRATE: u32 = iowr(0x42, MigrateArg::LEN);
/// `_IOWR('S', 0x43, struct ssi_ghost_restore)`: the loader started for a
/// migrated process becomes it.
pub const IOC_RESTORE_MIGRATED: u32 = iowr(0x43, RestoreArg::LEN);
/// `_IOWR('S', 0x44, struct ssi_ghost_migrate)`: `flags` 0 reads, 1
/// forbids, 2 allows the migration of `pid`; `detail` says whether it may.
pub const IOC_MAY_MIGRATE: u32 = iowr(0x44, MigrateArg::LEN);
/// `_IOWR('S', 0x45, struct ssi_ghost_getfd)`.
pub const IOC_GETFD: u32 = iowr(0x45, GetFdArg::LEN);

/// `DUMP` flag: kill the process after a successful dump.
pub const DUMP_STOP: u32 = 1;
/// Internal check flag: the process is the caller (self-migration).
pub const DUMP_SELF: u32 = 1 << 31;

/// Why a checkpoint or a restart was refused (`reason` of the ioctl
/// arguments; `detail` says more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    /// Not refused.
    None = 0,
    /// Several threads (detail: how many).
    Threads = 1,
    /// An open pipe or FIFO (detail: fd).
    Pipe = 2,
    /// An open socket (detail: fd).
    Socket = 3,
    /// Another open file that is neither regular nor a character device
    /// (detail: fd; eventfd, epoll, directories...).
    OtherFile = 4,
    /// A shared writable mapping (detail: address).
    SharedMapping = 5,
    /// Shared memory that cannot move (detail: address): memfd or shared
    /// anonymous memory, or a SysV attach in a checkpoint, of a segment
    /// not shared across the cluster, or not mapped whole as `shmat()`
    /// mapped it (a part unmapped, or `mprotect()`ed).
    SharedMemory = 6,
    /// A kernel thread.
    KernelThread = 7,
    /// Stopped or traced: it would not reach the safe point.
    Stopped = 8,
    /// The caller itself.
    OwnProcess = 9,
    /// A device's memory (detail: address).
    DeviceMapping = 10,
    /// The stream is malformed (detail: byte offset where it was found).
    BadStream = 11,
    /// The stream is for another PID than the caller's (detail: its PID).
    OtherPid = 12,
    /// A mapped file is missing here (detail: its area's address), or an
    /// open file cannot be reopened (detail: [`FD_DETAIL`] `| fd`).
    MissingFile = 13,
    /// The FPU state does not fit this CPU.
    Fpu = 14,
    /// The process runs on another node (detail: which); this node keeps
    /// its stub.
    Migrated = 15,
    /// Its migration is forbidden (by its owner, for it and its children).
    NoMigrate = 16,
    /// Its working directory (detail 0) or root directory (detail 1) is
    /// missing on the restoring node, or has no path (removed) where it
    /// was dumped.
    MissingDir = 17,
    /// This node refuses one of its resource limits (detail: the
    /// `RLIMIT_*` resource), or it has an fd at or above its hard limit
    /// of open files (detail 7).
    Rlimit = 18,
    /// A checkpoint file this node cannot trust: its MAC is wrong (edited,
    /// or written by a cluster with another key; detail 0), it is open for
    /// writing (detail 1), or this node has no ghost key (detail 2).
    Untrusted = 19,
    /// It runs under seccomp (detail: the mode, 1 strict, 2 filter), which
    /// is not carried.
    Seccomp = 20,
    /// It is in a user namespace other than the initial one, which is not
    /// carried.
    UserNamespace = 21,
    /// It has more supplementary groups than a stream carries (detail: how
    /// many).
    Groups = 22,
    /// It ran `execve()` or changed its credentials between the permission
    /// check and its safe point: refused with `EPERM`.
    Changed = 23,
    /// It has a SysV semaphore undo list (`SEM_UNDO`): its exit on this
    /// node would apply the adjustments here.
    SemUndo = 24,
}

/// `MissingFile`'s detail bit for an open file (the fd in the low bits)
/// rather than a mapped one.
pub const FD_DETAIL: u64 = 1 << 63;

impl Reason {
    /// Every reason, in wire order.
    pub const ALL: [Reason; 25] = {
        use Reason::*;
        [
            None,
            Threads,
            Pipe,
            Socket,
            OtherFile,
            SharedMapping,
            SharedMemory,
            KernelThread,
            Stopped,
            OwnProcess,
            DeviceMapping,
            BadStream,
            OtherPid,
            MissingFile,
            Fpu,
            Migrated,
            NoMigrate,
            MissingDir,
            Rlimit,
            Untrusted,
            Seccomp,
            UserNamespace,
            Groups,
            Changed,
            SemUndo,
        ]
    };

    /// The reason of a wire value (`None` for unknown ones).
    pub fn from_u32(v: u32) -> Self {
        Self::ALL.get(v as usize).copied().unwrap_or(Reason::None)
    }
}

/// Reads a block that is exactly `N` bytes: every read succeeds.
fn fields<const N: usize, T>(b: &[u8; N], f: impl FnOnce(&mut Reader<'_>) -> Option<T>) -> T {
    let mut r = Reader::new(b);
    let v = f(&mut r);
    debug_assert!(r.is_empty());
    // The readers below read exactly `N` bytes.
    v.unwrap_or_else(|| unreachable!())
}

/// Arguments of `DUMP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpArg {
    pub pid: u32,
    pub fd: i32,
    pub flags: u32,
    pub reason: Reason,
    pub detail: u64,
    /// Bytes written (out).
    pub bytes: u64,
}

impl DumpArg {
    pub const LEN: usize = 32;

    /// The whole block.
    pub fn decode(b: &[u8; Self::LEN]) -> Self {
        fields(b, |r| {
            Some(DumpArg {
                pid: r.u32()?,
                fd: r.i32()?,
                flags: r.u32()?,
                reason: Reason::from_u32(r.u32()?),
                detail: r.u64()?,
                bytes: r.u64()?,
            })
        })
    }

    /// What the caller gives; the answer's fields are cleared.
    pub fn request(b: &[u8; Self::LEN]) -> Self {
        DumpArg {
            reason: Reason::None,
            detail: 0,
            bytes: 0,
            ..Self::decode(b)
        }
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            w.u32(self.pid)?;
            w.i32(self.fd)?;
            w.u32(self.flags)?;
            w.u32(self.reason as u32)?;
            w.u64(self.detail)?;
            w.u64(self.bytes)
        })
    }
}

/// Arguments of `RESTORE_SELF` and `RESTORE_MIGRATED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreArg {
    /// The stream, a regular file.
    pub fd: i32,
    /// The caller's fd of `/dev/ssi/ghost`, closed on success.
    pub dev_fd: i32,
    /// `RESTORE_SELF`: a node to send the process on to once restored
    /// (0: none).
    pub node: u32,
    pub reason: Reason,
    pub detail: u64,
}

impl RestoreArg {
    pub const LEN: usize = 24;

    /// The whole block.
    pub fn decode(b: &[u8; Self::LEN]) -> Self {
        fields(b, |r| {
            let (fd, dev_fd) = (r.i32()?, r.i32()?);
            let reason = Reason::from_u32(r.u32()?);
            Some(RestoreArg {
                fd,
                dev_fd,
                node: r.u32()?,
                reason,
                detail: r.u64()?,
            })
        })
    }

    /// What the caller gives; the answer's fields are cleared.
    pub fn request(b: &[u8; Self::LEN]) -> Self {
        RestoreArg {
            reason: Reason::None,
            detail: 0,
            ..Self::decode(b)
        }
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            w.i32(self.fd)?;
            w.i32(self.dev_fd)?;
            w.u32(self.reason as u32)?;
            w.u32(self.node)?;
            w.u64(self.detail)
        })
    }
}

/// Arguments of `MIGRATE` and `MAY_MIGRATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MigrateArg {
    pub pid: u32,
    /// The destination node.
    pub node: u32,
    pub flags: u32,
    pub reason: Reason,
    pub detail: u64,
}

impl MigrateArg {
    pub const LEN: usize = 24;

    /// The whole block.
    pub fn decode(b: &[u8; Self::LEN]) -> Self {
        fields(b, |r| {
            Some(MigrateArg {
                pid: r.u32()?,
                node: r.u32()?,
                flags: r.u32()?,
                reason: Reason::from_u32(r.u32()?),
                detail: r.u64()?,
            })
        })
    }

    /// What the caller gives; the answer's fields are cleared.
    pub fn request(b: &[u8; Self::LEN]) -> Self {
        MigrateArg {
            reason: Reason::None,
            detail: 0,
            ..Self::decode(b)
        }
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            w.u32(self.pid)?;
            w.u32(self.node)?;
            w.u32(self.flags)?;
            w.u32(self.reason as u32)?;
            w.u64(self.detail)
        })
    }
}

/// Arguments of `GETFD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetFdArg {
    pub node: u32,
    pub pid: u32,
    pub fd: i32,
    /// `O_CLOEXEC` and the access mode (3: the file's own).
    pub flags: u32,
    /// The caller's new fd (out).
    pub new_fd: i32,
}

impl GetFdArg {
    pub const LEN: usize = 24;

    /// The whole block.
    pub fn decode(b: &[u8; Self::LEN]) -> Self {
        fields(b, |r| {
            let a = GetFdArg {
                node: r.u32()?,
                pid: r.u32()?,
                fd: r.i32()?,
                flags: r.u32()?,
                new_fd: r.i32()?,
            };
            r.u32()?;
            Some(a)
        })
    }

    /// What the caller gives; the answer's field is -1.
    pub fn request(b: &[u8; Self::LEN]) -> Self {
        GetFdArg {
            new_fd: -1,
            ..Self::decode(b)
        }
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            w.u32(self.node)?;
            w.u32(self.pid)?;
            w.i32(self.fd)?;
            w.u32(self.flags)?;
            w.i32(self.new_fd)?;
            w.u32(0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_are_the_abi() {
        // The values tools built before this file keep working.
        assert_eq!(IOC_DUMP, 0xc020_5340);
        assert_eq!(IOC_RESTORE_SELF, 0xc018_5341);
        assert_eq!(IOC_MIGRATE, 0xc018_5342);
        assert_eq!(IOC_RESTORE_MIGRATED, 0xc018_5343);
        assert_eq!(IOC_MAY_MIGRATE, 0xc018_5344);
        assert_eq!(IOC_GETFD, 0xc018_5345);
    }

    #[test]
    fn reasons_roundtrip() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as u32, i as u32);
            assert_eq!(Reason::from_u32(i as u32), *r);
        }
        assert_eq!(Reason::from_u32(25), Reason::None);
        assert_eq!(Reason::from_u32(u32::MAX), Reason::None);
    }

    #[test]
    fn blocks_roundtrip() {
        let d = DumpArg {
            pid: 16390,
            fd: -1,
            flags: DUMP_STOP | DUMP_SELF,
            reason: Reason::Untrusted,
            detail: u64::MAX - 1,
            bytes: 1 << 40,
        };
        assert_eq!(DumpArg::decode(&d.encode()), d);
        let req = DumpArg::request(&d.encode());
        assert_eq!((req.pid, req.fd, req.flags), (d.pid, d.fd, d.flags));
        assert_eq!((req.reason, req.detail, req.bytes), (Reason::None, 0, 0));
        let r = RestoreArg {
            fd: 3,
            dev_fd: 4,
            node: 7,
            reason: Reason::MissingDir,
            detail: 1,
        };
        assert_eq!(RestoreArg::decode(&r.encode()), r);
        // The layout the tools relay: reason at 8, node at 12.
        assert_eq!(r.encode()[8], 17);
        assert_eq!(r.encode()[12], 7);
        assert_eq!(RestoreArg::request(&r.encode()).reason, Reason::None);
        let m = MigrateArg {
            pid: 1 << 24 | 5,
            node: 2,
            flags: 2,
            reason: Reason::NoMigrate,
            detail: 1,
        };
        assert_eq!(MigrateArg::decode(&m.encode()), m);
        assert_eq!(MigrateArg::request(&m.encode()).detail, 0);
        let g = GetFdArg {
            node: 3,
            pid: 16390,
            fd: 1,
            flags: 2,
            new_fd: 5,
        };
        assert_eq!(GetFdArg::decode(&g.encode()), g);
        assert_eq!(GetFdArg::request(&g.encode()).new_fd, -1);
        assert_eq!(&g.encode()[20..], &[0; 4]);
    }
}
