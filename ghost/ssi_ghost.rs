// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs ghost processes: checkpoint of a sequential process to a file and
//! restart from it, on any node, with the same PID.
//!
//! `/dev/ssi/ghost` takes two ioctls (`Documentation/ssi/ghost.rst`):
//! `DUMP` freezes a process at a safe point in its own context, writes its
//! ghost stream (`rust/proto/src/ghost.rs`) to a file, and lets it go on or
//! kills it; `RESTORE_SELF` turns the caller into the process of a stream.

use kernel::prelude::*;
use kernel::{
    alloc::flags::GFP_KERNEL,
    c_str, fmt,
    sync::Arc,
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../rust/proto/kernel.rs"]
mod proto;
#[path = "../rust/ssi_api.rs"]
mod ssi_api;

mod dump;
mod files;
mod knobs;
mod layout;
mod lazy;
mod migrate;
mod restore;
mod rfile;
mod stream;
mod trust;

use kernel_ext::chrdev::{FileOps, Operations, Registration};
use kernel_ext::sysfs::{SysfsDir, SysfsParent};

module! {
    type: Ghost,
    name: "ssi_ghost",
    author: "ssi-rs",
    description: "ssi-rs ghost processes: checkpoint to a file and restart with the same PID",
    license: "GPL",
}

/// `_IOWR('S', 0x40, struct ssi_ghost_dump)`.
pub(crate) const IOC_DUMP: u32 = kernel::ioctl::_IOWR::<[u8; DumpArg::LEN]>(b'S' as u32, 0x40);
/// `_IOWR('S', 0x41, struct ssi_ghost_restore)`.
pub(crate) const IOC_RESTORE_SELF: u32 =
    kernel::ioctl::_IOWR::<[u8; RestoreArg::LEN]>(b'S' as u32, 0x41);

/// `_IOWR('S', 0x42, struct ssi_ghost_migrate)`.
pub(crate) const IOC_MIGRATE: u32 =
    kernel::ioctl::_IOWR::<[u8; MigrateArg::LEN]>(b'S' as u32, 0x42);
/// `_IOWR('S', 0x43, struct ssi_ghost_restore)`: the loader started for a
/// migrated process becomes it.
pub(crate) const IOC_RESTORE_MIGRATED: u32 =
    kernel::ioctl::_IOWR::<[u8; RestoreArg::LEN]>(b'S' as u32, 0x43);

/// `_IOWR('S', 0x44, struct ssi_ghost_migrate)`: `flags` 0 reads, 1
/// forbids, 2 allows the migration of `pid`; `detail` says whether it may.
pub(crate) const IOC_MAY_MIGRATE: u32 =
    kernel::ioctl::_IOWR::<[u8; MigrateArg::LEN]>(b'S' as u32, 0x44);
/// `_IOWR('S', 0x45, struct ssi_ghost_getfd)`.
pub(crate) const IOC_GETFD: u32 =
    kernel::ioctl::_IOWR::<[u8; rfile::GetFdArg::LEN]>(b'S' as u32, 0x45);

/// `DUMP` flag: kill the process after a successful dump.
pub(crate) const DUMP_STOP: u32 = 1;
/// Internal check flag: the process is the caller (self-migration).
pub(crate) const DUMP_SELF: u32 = 1 << 31;

/// Why a checkpoint or a restart was refused (`reason` of the ioctl
/// arguments; `detail` says more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Reason {
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
    /// SysV shared memory, memfd or shared anonymous memory (detail:
    /// address).
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
    /// A mapped file is missing here (detail: its area's address).
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
}

impl Reason {
    /// The reason of a wire value (`None` for unknown ones).
    pub(crate) fn from_u32(v: u32) -> Self {
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
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(None)
    }
}
// An open file that cannot be reopened is `MissingFile` (detail:
// `files::FD_DETAIL | fd`) or `OtherFile` (detail: fd).

/// Arguments of `DUMP`.
pub(crate) struct DumpArg {
    pub(crate) pid: u32,
    pub(crate) fd: i32,
    pub(crate) flags: u32,
    pub(crate) reason: Reason,
    pub(crate) detail: u64,
    /// Bytes written (out).
    pub(crate) bytes: u64,
}

impl DumpArg {
    pub(crate) const LEN: usize = 32;

    fn read(r: &mut UserSliceReader) -> Result<Self> {
        let mut b = [0u8; Self::LEN];
        r.read_slice(&mut b)?;
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(DumpArg {
            pid: w(0),
            fd: w(4) as i32,
            flags: w(8),
            reason: Reason::None,
            detail: 0,
            bytes: 0,
        })
    }

    fn write(&self, w: &mut UserSliceWriter) -> Result {
        let mut b = [0u8; Self::LEN];
        b[0..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..8].copy_from_slice(&self.fd.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&(self.reason as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.detail.to_le_bytes());
        b[24..32].copy_from_slice(&self.bytes.to_le_bytes());
        w.write_slice(&b)
    }
}

/// Arguments of `RESTORE_SELF`.
pub(crate) struct RestoreArg {
    /// The stream, a regular file.
    pub(crate) fd: i32,
    /// The caller's fd of `/dev/ssi/ghost`, closed on success.
    pub(crate) dev_fd: i32,
    /// `RESTORE_SELF`: a node to send the process on to once restored
    /// (0: none).
    pub(crate) node: u32,
    pub(crate) reason: Reason,
    pub(crate) detail: u64,
}

impl RestoreArg {
    pub(crate) const LEN: usize = 24;

    fn read(r: &mut UserSliceReader) -> Result<Self> {
        let mut b = [0u8; Self::LEN];
        r.read_slice(&mut b)?;
        let w = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(RestoreArg {
            fd: w(0),
            dev_fd: w(4),
            node: w(12) as u32,
            reason: Reason::None,
            detail: 0,
        })
    }

    fn write(&self, w: &mut UserSliceWriter) -> Result {
        let mut b = [0u8; Self::LEN];
        b[0..4].copy_from_slice(&self.fd.to_le_bytes());
        b[4..8].copy_from_slice(&self.dev_fd.to_le_bytes());
        b[8..12].copy_from_slice(&(self.reason as u32).to_le_bytes());
        b[12..16].copy_from_slice(&self.node.to_le_bytes());
        b[16..24].copy_from_slice(&self.detail.to_le_bytes());
        w.write_slice(&b)
    }
}

/// Arguments of `MIGRATE`.
pub(crate) struct MigrateArg {
    pub(crate) pid: u32,
    /// The destination node.
    pub(crate) node: u32,
    pub(crate) flags: u32,
    pub(crate) reason: Reason,
    pub(crate) detail: u64,
}

impl MigrateArg {
    pub(crate) const LEN: usize = 24;

    fn read(r: &mut UserSliceReader) -> Result<Self> {
        let mut b = [0u8; Self::LEN];
        r.read_slice(&mut b)?;
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(MigrateArg {
            pid: w(0),
            node: w(4),
            flags: w(8),
            reason: Reason::None,
            detail: 0,
        })
    }

    fn write(&self, w: &mut UserSliceWriter) -> Result {
        let mut b = [0u8; Self::LEN];
        b[0..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..8].copy_from_slice(&self.node.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&(self.reason as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.detail.to_le_bytes());
        w.write_slice(&b)
    }
}

/// The device's operations.
struct Dev;

impl Operations for Dev {
    type File = ();

    fn mode(_minor: u32) -> u16 {
        0o666
    }

    fn open(&self, _minor: u32, _flags: u32) -> Result<()> {
        Ok(())
    }

    fn read(&self, _: &(), _: &mut UserSliceWriter, _: bool) -> Result<usize> {
        Err(EINVAL)
    }

    fn write(&self, _: &(), _: &mut UserSliceReader, _: bool) -> Result<usize> {
        Err(EINVAL)
    }

    fn ioctl(&self, _: &(), cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            IOC_DUMP => {
                let (mut r, mut w) = UserSlice::new(arg, DumpArg::LEN).reader_writer();
                let mut a = DumpArg::read(&mut r)?;
                let ret = dump::dump(&mut a);
                if let Ok(n) = ret {
                    a.bytes = n;
                }
                a.write(&mut w)?;
                ret.map(|_| 0)
            }
            IOC_RESTORE_SELF => {
                let (mut r, mut w) = UserSlice::new(arg, RestoreArg::LEN).reader_writer();
                let mut a = RestoreArg::read(&mut r)?;
                let ret = restore::restore_self(&mut a);
                if ret.is_err() {
                    // The caller's memory is still its own: report why.
                    let _ = a.write(&mut w);
                }
                ret.map(|_| 0)
            }
            IOC_GETFD => {
                let (mut r, mut w) = UserSlice::new(arg, rfile::GetFdArg::LEN).reader_writer();
                let mut b = [0u8; rfile::GetFdArg::LEN];
                r.read_slice(&mut b)?;
                let mut a = rfile::GetFdArg::decode(&b);
                let fd = rfile::getfd(&mut a)?;
                // The fd is the caller's now, whatever the copy-out does.
                let _ = w.write_slice(&a.encode());
                Ok(fd as isize)
            }
            IOC_MIGRATE => {
                let (mut r, mut w) = UserSlice::new(arg, MigrateArg::LEN).reader_writer();
                let mut a = MigrateArg::read(&mut r)?;
                let ret = migrate::migrate(&mut a);
                a.write(&mut w)?;
                ret.map(|_| 0)
            }
            IOC_MAY_MIGRATE => {
                let (mut r, mut w) = UserSlice::new(arg, MigrateArg::LEN).reader_writer();
                let mut a = MigrateArg::read(&mut r)?;
                migrate::may_migrate(&mut a)?;
                a.write(&mut w)?;
                Ok(0)
            }
            IOC_RESTORE_MIGRATED => {
                let (mut r, mut w) = UserSlice::new(arg, RestoreArg::LEN).reader_writer();
                let mut a = RestoreArg::read(&mut r)?;
                let ret = migrate::restore_migrated(&mut a);
                if ret.is_err() {
                    let _ = a.write(&mut w);
                }
                ret.map(|_| 0)
            }
            _ => Err(ENOTTY),
        }
    }
}

static FOPS: FileOps<Dev> = FileOps::new(&THIS_MODULE);

struct Ghost {
    // Dropped first: no ioctl runs once the device is gone.
    _dev: Registration<Dev>,
    _sysfs: SysfsDir<lazy::Pages>,
    _rfile: rfile::Registration,
    _migration: migrate::Running,
    // After the migration's worker, which uses it.
    _pages: lazy::Running,
    // Last: the device and the sysfs files use it.
    _trust: trust::Running,
}

impl kernel::Module for Ghost {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let trust = trust::Running::start()?;
        let pages = lazy::Running::start(module)?;
        let parent = SysfsParent::ssi().ok_or(ENODEV)?;
        let sysfs = SysfsDir::new_in(parent, c_str!("ghost"), &knobs::ATTRS, pages.pages())?;
        let rfile = rfile::start()?;
        let migration = migrate::Running::start()?;
        let mut dev = Registration::new(&FOPS, c_str!("ssi_ghost"), 1, Arc::new(Dev, GFP_KERNEL)?)?;
        dev.create(0, fmt!("ssi!ghost"))?;
        match ssi_api::node_id() {
            Some(id) => pr_info!("loaded on node {}, /dev/ssi/ghost\n", id.get()),
            None => pr_info!("loaded, node id unset, /dev/ssi/ghost\n"),
        }
        Ok(Ghost {
            _dev: dev,
            _sysfs: sysfs,
            _rfile: rfile,
            _migration: migration,
            _pages: pages,
            _trust: trust,
        })
    }
}
