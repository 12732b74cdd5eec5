// SPDX-License-Identifier: GPL-2.0-only
//! The migration of a local process to another node, offered by the ghost
//! module (`ssi_migrator_register`) to the other modules (`ssi_migrate`):
//! the scheduler moves processes through it without naming the ghost
//! module. One migrator at a time; unregistering waits for the
//! migrations in progress.

use kernel::{ffi::c_void, new_condvar, new_mutex, prelude::*, sync::CondVar, sync::Mutex};

use crate::header;

/// The ghost module's migrator: `ssi_api.h`'s `ssi_migrator_t`, not null.
pub(crate) type Migrator = unsafe extern "C" fn(*mut c_void, u32, u8) -> i32;

// The header's type is this, or null: anything else fails the build.
const _: fn(header::ssi_migrator_t) -> Option<Migrator> = |m| m;

struct Inner {
    /// The migrator and its context.
    offered: Option<(Migrator, usize)>,
    /// Migrations running through it.
    running: usize,
}

#[pin_data]
pub(crate) struct Slot {
    #[pin]
    inner: Mutex<Inner>,
    #[pin]
    idle: CondVar,
}

impl Slot {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Slot {
            inner <- new_mutex!(Inner {
                offered: None,
                running: 0,
            }),
            idle <- new_condvar!(),
        })
    }

    /// Offers `m` with `ctx`; `EBUSY` if a migrator is offered already.
    pub(crate) fn register(&self, m: Migrator, ctx: *mut c_void) -> Result {
        let mut i = self.inner.lock();
        if i.offered.is_some() {
            return Err(EBUSY);
        }
        i.offered = Some((m, ctx as usize));
        Ok(())
    }

    /// Withdraws `m` (if it is the one offered); returns once no migration
    /// runs through it.
    pub(crate) fn unregister(&self, m: Migrator, ctx: *mut c_void) {
        let mut i = self.inner.lock();
        if i.offered == Some((m, ctx as usize)) {
            i.offered = None;
        }
        while i.running != 0 {
            self.idle.wait(&mut i);
        }
    }

    /// Migrates process `pid` of this node to `node` through the migrator
    /// offered: its result, `ENOSYS` if none is.
    pub(crate) fn migrate(&self, pid: u32, node: u8) -> i32 {
        let (m, ctx) = {
            let mut i = self.inner.lock();
            let Some(o) = i.offered else {
                return crate::kernel_ext::errno::enosys().to_errno();
            };
            i.running += 1;
            o
        };
        // SAFETY: `m` and `ctx` stay valid until unregistered (the
        // contract of `ssi_migrator_register`), and `unregister` waits for
        // `running` to drop to 0, which it does only after this call.
        let ret = unsafe { m(ctx as *mut c_void, pid, node) };
        let mut i = self.inner.lock();
        i.running -= 1;
        if i.running == 0 {
            self.idle.notify_all();
        }
        ret
    }
}
