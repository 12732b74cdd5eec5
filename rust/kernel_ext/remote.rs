// SPDX-License-Identifier: GPL-2.0-only
//! Anonymous pages that live on another node (`<linux/ssi_remote.h>`,
//! patch 0019): marking areas, the fault-path callbacks, and the mm
//! references both ends of a migration on demand hold.

use super::mm::Mm;
use core::marker::PhantomData;
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::Error,
    ffi::c_void,
    prelude::*,
    ThisModule,
};

/// Page size.
pub const PAGE: usize = 4096;

/// An address space's identity, compared only (never dereferenced).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmName(usize);

/// What the module does when the kernel meets a page that is elsewhere.
/// Callbacks run in the faulting task's context (or the forking one's)
/// and may sleep.
pub trait Pager: 'static {
    /// Writes page `index` of `mm` into `page`; an error raises SIGBUS
    /// (`ENOMEM`: the OOM path).
    fn fill(mm: MmName, index: u64, page: &mut [u8; PAGE]) -> Result;
    /// The page filled for `index` is mapped now.
    fn mapped(mm: MmName, index: u64);
    /// Pages `[first, end)` were discarded: they read as zero from now on.
    fn discard(mm: MmName, first: u64, end: u64);
    /// `mm`, the current task's, is about to be copied by `fork()`.
    fn fork(mm: MmName) -> Result;
}

/// `ssi_remote_ops::fill` of `P`.
///
/// # Safety
///
/// Called by the anonymous fault path only, with `page` a mapped page of
/// `PAGE` bytes that nothing else uses during the call.
unsafe extern "C" fn fill_tramp<P: Pager>(
    mm: *mut bindings::mm_struct,
    index: kernel::ffi::c_ulong,
    page: *mut c_void,
) -> i32 {
    // SAFETY: the fault path passes a mapped, exclusive page of `PAGE`
    // bytes for the call.
    let page = unsafe { &mut *page.cast::<[u8; PAGE]>() };
    match P::fill(MmName(mm as usize), index as u64, page) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `ssi_remote_ops::mapped` of `P`.
///
/// # Safety
///
/// Called by the kernel only; `mm` is used as a name, never dereferenced.
unsafe extern "C" fn mapped_tramp<P: Pager>(
    mm: *mut bindings::mm_struct,
    index: kernel::ffi::c_ulong,
) {
    P::mapped(MmName(mm as usize), index as u64);
}

/// `ssi_remote_ops::discard` of `P`.
///
/// # Safety
///
/// As for [`mapped_tramp`].
unsafe extern "C" fn discard_tramp<P: Pager>(
    mm: *mut bindings::mm_struct,
    first: kernel::ffi::c_ulong,
    end: kernel::ffi::c_ulong,
) {
    P::discard(MmName(mm as usize), first as u64, end as u64);
}

/// `ssi_remote_ops::fork` of `P`.
///
/// # Safety
///
/// As for [`mapped_tramp`].
unsafe extern "C" fn fork_tramp<P: Pager>(mm: *mut bindings::mm_struct) -> i32 {
    match P::fork(MmName(mm as usize)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `P` registered with the kernel until drop.
///
/// # Invariants
///
/// `ops` is registered and neither moved nor freed until drop
/// has unregistered it (which waits for the callbacks in flight).
pub struct PagerRegistration<P: Pager> {
    ops: KBox<bindings::ssi_remote_ops>,
    _p: PhantomData<P>,
}

// SAFETY: the ops table is read-only after registration.
unsafe impl<P: Pager> Send for PagerRegistration<P> {}
// SAFETY: as above.
unsafe impl<P: Pager> Sync for PagerRegistration<P> {}

impl<P: Pager> PagerRegistration<P> {
    pub fn new(module: &'static ThisModule) -> Result<Self> {
        let ops = KBox::new(
            bindings::ssi_remote_ops {
                owner: module.as_ptr(),
                fill: Some(fill_tramp::<P>),
                mapped: Some(mapped_tramp::<P>),
                discard: Some(discard_tramp::<P>),
                fork: Some(fork_tramp::<P>),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is a complete table that lives until drop.
        let ret = unsafe { bindings::ssi_remote_register(&*ops) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(PagerRegistration {
            ops,
            _p: PhantomData,
        })
    }
}

impl<P: Pager> Drop for PagerRegistration<P> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; returns once no callback runs.
        unsafe { bindings::ssi_remote_unregister(&*self.ops) };
    }
}

/// Marks `[start, end)` of the current mm, anonymous areas only, as
/// holding pages that are elsewhere.
pub fn mark(start: u64, end: u64) -> Result {
    // SAFETY: acts on the current mm with plain values it checks.
    let ret = unsafe { bindings::ssi_remote_mark(start as _, end as _) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// `vm_flags` bit of a marked area (`VM_SSI_REMOTE`).
pub const VM_REMOTE: u64 = 1 << 41;

/// An address space held by name (`mm_count`): it cannot be freed and its
/// name reused while this lives, but its pages may go.
///
/// # Invariants
///
/// `ptr` holds the reference taken by `ssi_remote_grab`.
pub struct HeldMm {
    ptr: *mut bindings::mm_struct,
}

// SAFETY: the reference is atomic and may be dropped from any thread.
unsafe impl Send for HeldMm {}
// SAFETY: `&HeldMm` only reads the users count.
unsafe impl Sync for HeldMm {}

impl HeldMm {
    /// The current task's address space.
    pub fn current() -> Option<Self> {
        // SAFETY: takes a reference on `current->mm` if there is one.
        let ptr = unsafe { bindings::ssi_remote_grab() };
        // Built only if not null (its drop gives the reference back).
        (!ptr.is_null()).then(|| HeldMm { ptr })
    }

    pub fn name(&self) -> MmName {
        MmName(self.ptr as usize)
    }

    /// Whether a task still uses it.
    pub fn live(&self) -> bool {
        // SAFETY: `ptr` is held (type invariant).
        unsafe { bindings::ssi_remote_live(self.ptr) }
    }

    /// Takes the marks off its areas (if it still lives).
    pub fn clear_marks(&self) {
        // SAFETY: `ptr` is held; the call takes a user reference itself.
        unsafe { bindings::ssi_remote_clear(self.ptr) };
    }
}

impl Drop for HeldMm {
    fn drop(&mut self) {
        // SAFETY: gives back the reference of `current`, once.
        unsafe { bindings::ssi_remote_drop(self.ptr) };
    }
}

/// The name of the current task's address space.
pub fn current_name() -> Option<MmName> {
    Mm::current().map(|m| MmName(m.as_ptr() as usize))
}

/// Bit `i` set when page `i` of the 64 from `start` of `mm` holds data.
pub fn present(mm: &Mm, start: u64) -> Result<u64> {
    let mut bits = 0u64;
    // SAFETY: `mm` is live for the call; `bits` is writable.
    let ret = unsafe { bindings::ssi_remote_present(mm.as_ptr(), start as _, &mut bits) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(bits)
}
