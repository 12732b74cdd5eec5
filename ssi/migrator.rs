// SPDX-License-Identifier: GPL-2.0-only
//! What one module offers the others through `ssi.ko` without being
//! named: the migration of a local process, offered by the ghost module
//! (`ssi_migrator_register`) and asked for by the scheduler
//! (`ssi_migrate`); the drain before a node retires, offered by the
//! scheduler (`ssi_drainer_register`) and run by a write to
//! `/sys/kernel/ssi/remove`; the record of local processes' migrations,
//! offered by the ghost module (`ssi_trail_register`) and read for
//! `/proc/<pid>/ssi`. One offer of each at a time; withdrawing it waits
//! for the calls in progress.

use kernel::{ffi::c_void, new_condvar, new_mutex, prelude::*, sync::CondVar, sync::Mutex};

use crate::header;

/// The ghost module's migrator: `ssi_api.h`'s `ssi_migrator_t`, not null.
pub(crate) type Migrator = unsafe extern "C" fn(*mut c_void, u32, u8) -> i32;
/// The scheduler's drain: `ssi_api.h`'s `ssi_drainer_t`, not null.
pub(crate) type Drainer = unsafe extern "C" fn(*mut c_void, u8, bool) -> i32;
/// The ghost module's trails: `ssi_api.h`'s `ssi_trail_t`, not null.
pub(crate) type Trail = unsafe extern "C" fn(*mut c_void, u32, *mut header::ssi_trail) -> i32;

// The header's types are these, or null: anything else fails the build.
const _: fn(header::ssi_migrator_t) -> Option<Migrator> = |m| m;
const _: fn(header::ssi_drainer_t) -> Option<Drainer> = |d| d;
const _: fn(header::ssi_trail_t) -> Option<Trail> = |t| t;

struct Inner<F> {
    /// The function and its context.
    offered: Option<(F, usize)>,
    /// Calls running through it.
    running: usize,
}

/// One offered function.
#[pin_data]
pub(crate) struct Slot<F: Copy + PartialEq> {
    #[pin]
    inner: Mutex<Inner<F>>,
    #[pin]
    idle: CondVar,
}

impl<F: Copy + PartialEq> Slot<F> {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Slot {
            inner <- new_mutex!(Inner {
                offered: None,
                running: 0,
            }),
            idle <- new_condvar!(),
        })
    }

    /// Offers `f` with `ctx`; `EBUSY` if one is offered already.
    pub(crate) fn register(&self, f: F, ctx: *mut c_void) -> Result {
        let mut i = self.inner.lock();
        if i.offered.is_some() {
            return Err(EBUSY);
        }
        i.offered = Some((f, ctx as usize));
        Ok(())
    }

    /// Withdraws `f` (if it is the one offered); returns once no call
    /// runs through it.
    pub(crate) fn unregister(&self, f: F, ctx: *mut c_void) {
        let mut i = self.inner.lock();
        if i.offered == Some((f, ctx as usize)) {
            i.offered = None;
        }
        while i.running != 0 {
            self.idle.wait(&mut i);
        }
    }

    /// `call(f, ctx)` with the function offered; `None` if none is.
    /// `unregister` waits for it to return.
    fn call(&self, call: impl FnOnce(F, *mut c_void) -> i32) -> Option<i32> {
        let (f, ctx) = {
            let mut i = self.inner.lock();
            let o = i.offered?;
            i.running += 1;
            o
        };
        let ret = call(f, ctx as *mut c_void);
        let mut i = self.inner.lock();
        i.running -= 1;
        if i.running == 0 {
            self.idle.notify_all();
        }
        Some(ret)
    }
}

impl Slot<Migrator> {
    /// Migrates process `pid` of this node to `node` through the migrator
    /// offered: its result, `ENOSYS` if none is.
    pub(crate) fn migrate(&self, pid: u32, node: u8) -> i32 {
        self.call(|m, ctx| {
            // SAFETY: `m` and `ctx` stay valid until unregistered (the
            // contract of `ssi_migrator_register`), and `unregister`
            // waits for this call to return.
            unsafe { m(ctx, pid, node) }
        })
        .unwrap_or_else(|| crate::kernel_ext::errno::enosys().to_errno())
    }
}

impl Slot<Drainer> {
    /// Drains `node` before it retires through the drainer offered: 0 to
    /// retire it (also when none is offered), or a negative errno.
    pub(crate) fn drain(&self, node: u8, force: bool) -> i32 {
        self.call(|d, ctx| {
            // SAFETY: `d` and `ctx` stay valid until unregistered (the
            // contract of `ssi_drainer_register`), and `unregister` waits
            // for this call to return.
            unsafe { d(ctx, node, force) }
        })
        .unwrap_or(0)
    }
}

impl Slot<Trail> {
    /// The migrations of local process `pid` (or of its stub here) as the
    /// ghost module records them; `None` if it never migrated, or while no
    /// module offers a record.
    pub(crate) fn trail(&self, pid: u32) -> Option<header::ssi_trail> {
        let mut t = header::ssi_trail {
            migrations: 0,
            home: 0,
            from: 0,
            when: 0,
        };
        let ret = self.call(|f, ctx| {
            // SAFETY: `f` and `ctx` stay valid until unregistered (the
            // contract of `ssi_trail_register`), `unregister` waits for
            // this call to return, and `t` is writable.
            unsafe { f(ctx, pid, &mut t) }
        })?;
        (ret == 0).then_some(t)
    }
}
