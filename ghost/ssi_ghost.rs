// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs ghost processes: checkpoint of a sequential process to a file and
//! restart from it, on any node, with the same PID.
//!
//! `/dev/ssi/ghost` takes two ioctls (`Documentation/ssi/ghost.rst`):
//! `DUMP` freezes a process at a safe point in its own context, writes its
//! ghost stream (`rust/proto/src/ghost/`) to a file, and lets it go on or
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
#[path = "../rust/ssi_streams.rs"]
mod ssi_streams;

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

// The ioctls' numbers, argument blocks and refusal reasons, shared with
// the user tools (`tools/ghost`).
use proto::ghost_ioctl::{
    DumpArg, MigrateArg, Reason, RestoreArg, IOC_DUMP, IOC_GETFD, IOC_MAY_MIGRATE, IOC_MIGRATE,
    IOC_RESTORE_MIGRATED, IOC_RESTORE_SELF,
};

/// The `N`-byte argument block at `arg` (the caller's), read whole.
fn read_arg<const N: usize>(r: &mut UserSliceReader) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_slice(&mut b)?;
    Ok(b)
}

/// `DUMP`: refused for a process that runs elsewhere (its stub is here),
/// else its stream is written to `a.fd`; returns the stream's length.
fn checkpoint(a: &mut DumpArg) -> Result<u64> {
    if let Some(at) = migrate::stub_at(a.pid) {
        a.reason = Reason::Migrated;
        a.detail = u64::from(at);
        return Err(kernel_ext::errno::eremote());
    }
    dump::dump(a)
}

/// `RESTORE_SELF`: the caller becomes the process of a checkpoint file,
/// and goes on to node `a.node` if one is given.
fn restart(a: &mut RestoreArg) -> Result {
    // A caller that may not restore is refused by `restore_self` first.
    if a.node != 0 && kernel_ext::cred::may_restore() && !migrate::may_go(a.node) {
        return Err(EINVAL);
    }
    restore::restore_self(a)?;
    if a.node != 0 {
        if let Err(e) = migrate::restart_elsewhere(a.node) {
            pr_warn!(
                "pid {} runs here: it cannot go on to node {}: {:?}\n",
                kernel_ext::task::current_pid(),
                a.node,
                e
            );
        }
    }
    Ok(())
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
                let mut a = DumpArg::request(&read_arg(&mut r)?);
                let ret = checkpoint(&mut a);
                if let Ok(n) = ret {
                    a.bytes = n;
                }
                w.write_slice(&a.encode())?;
                ret.map(|_| 0)
            }
            IOC_RESTORE_SELF => {
                let (mut r, mut w) = UserSlice::new(arg, RestoreArg::LEN).reader_writer();
                let mut a = RestoreArg::request(&read_arg(&mut r)?);
                let ret = restart(&mut a);
                if ret.is_err() {
                    // The caller's memory is still its own: report why.
                    let _ = w.write_slice(&a.encode());
                }
                ret.map(|_| 0)
            }
            IOC_GETFD => {
                let (mut r, mut w) = UserSlice::new(arg, rfile::GetFdArg::LEN).reader_writer();
                let mut a = rfile::GetFdArg::request(&read_arg(&mut r)?);
                let fd = rfile::getfd(&mut a)?;
                // The fd is the caller's now, whatever the copy-out does.
                let _ = w.write_slice(&a.encode());
                Ok(fd as isize)
            }
            IOC_MIGRATE => {
                let (mut r, mut w) = UserSlice::new(arg, MigrateArg::LEN).reader_writer();
                let mut a = MigrateArg::request(&read_arg(&mut r)?);
                let ret = migrate::migrate(&mut a);
                w.write_slice(&a.encode())?;
                ret.map(|_| 0)
            }
            IOC_MAY_MIGRATE => {
                let (mut r, mut w) = UserSlice::new(arg, MigrateArg::LEN).reader_writer();
                let mut a = MigrateArg::request(&read_arg(&mut r)?);
                migrate::may_migrate(&mut a)?;
                w.write_slice(&a.encode())?;
                Ok(0)
            }
            IOC_RESTORE_MIGRATED => {
                let (mut r, mut w) = UserSlice::new(arg, RestoreArg::LEN).reader_writer();
                let mut a = RestoreArg::request(&read_arg(&mut r)?);
                let ret = migrate::restore_migrated(&mut a);
                if ret.is_err() {
                    let _ = w.write_slice(&a.encode());
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
        // A lending's end wakes the stubs and the migration worker.
        let pages = lazy::Running::start(module, migrate::wake)?;
        let parent = SysfsParent::ssi().ok_or(ENODEV)?;
        let sysfs = SysfsDir::new_in(parent, c_str!("ghost"), &knobs::ATTRS, pages.pages())?;
        let rfile = rfile::start()?;
        let migration = migrate::Running::start(module)?;
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
