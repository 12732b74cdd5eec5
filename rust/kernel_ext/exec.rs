// SPDX-License-Identifier: GPL-2.0-only
//! The kernel's call at `execve()` (patch 0040, `ssi_exec()`): the one
//! module that may start a new program on another node hears of each
//! program that `execve()` from user space started, in that task.

use core::marker::PhantomData;
use kernel::{alloc::KBox, bindings, error::Error, prelude::*};

/// What a module does when `execve()` gave the current task a new
/// program, before it returns to user mode.
pub trait Exec {
    /// `ppid`: the task's parent (as `getppid()` gives it); `parent`:
    /// whether it has children. Must not sleep for long; may queue work
    /// for the return to user mode.
    fn exec(ppid: u32, parent: bool);
}

/// `ssi_exec_ops::exec` of `E`.
///
/// # Safety
///
/// Called by the kernel only, in the task that just executed a program.
unsafe extern "C" fn exec_tramp<E: Exec>(ppid: i32, parent: bool) {
    E::exec(u32::try_from(ppid).unwrap_or(0), parent);
}

/// `E` registered with the kernel until drop.
///
/// # Invariants
///
/// `ops` is registered and neither moved nor freed until drop has
/// unregistered it.
pub struct ExecRegistration<E: Exec> {
    ops: KBox<bindings::ssi_exec_ops>,
    _e: PhantomData<E>,
}

// SAFETY: the ops table is read-only after registration.
unsafe impl<E: Exec> Send for ExecRegistration<E> {}
// SAFETY: as above.
unsafe impl<E: Exec> Sync for ExecRegistration<E> {}

impl<E: Exec> ExecRegistration<E> {
    /// Registers `E`; `EBUSY` if another module did.
    pub fn new(module: &'static kernel::ThisModule) -> Result<Self> {
        let ops = KBox::new(
            bindings::ssi_exec_ops {
                owner: module.as_ptr(),
                exec: Some(exec_tramp::<E>),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is a complete table that lives until drop.
        let ret = unsafe { bindings::ssi_exec_register(&*ops) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered; unregistered in drop.
        Ok(ExecRegistration {
            ops,
            _e: PhantomData,
        })
    }
}

impl<E: Exec> Drop for ExecRegistration<E> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`. A call holds its owner's module
        // reference from before the unregistration (whose RCU grace
        // period it waits for) to its end, so once the module unloads
        // none runs; a module drops this last at unload, or not at all.
        unsafe { bindings::ssi_exec_unregister(&*self.ops) };
    }
}
