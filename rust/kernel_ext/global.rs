// SPDX-License-Identifier: GPL-2.0-only
//! A module's object published to callbacks that have no context pointer
//! (RPC services and membership listeners of `ssi_api`, task works).

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::sync::Arc;

/// An `Arc<T>` reachable from a `static`, from `publish` to `withdraw`.
///
/// # Invariants
///
/// `p` is null or comes from `Arc::into_raw` in `publish`, and
/// holds that reference until `withdraw`.
pub struct Published<T> {
    p: AtomicPtr<T>,
}

impl<T: Sync> Published<T> {
    pub const fn new() -> Self {
        Published {
            p: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Publishes `a` (replacing nothing: call once before `withdraw`).
    pub fn publish(&self, a: &Arc<T>) {
        let old = self
            .p
            .swap(Arc::into_raw(a.clone()).cast_mut(), Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: a pointer from `Arc::into_raw` (type invariant), no
            // longer reachable through `p`.
            drop(unsafe { Arc::from_raw(old) });
        }
    }

    /// The published object, if any.
    pub fn get(&self) -> Option<&T> {
        let p = self.p.load(Ordering::Acquire);
        // SAFETY: non-null: published and its reference still held; the
        // contract of `withdraw` keeps it alive while `&self` callers run.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Withdraws the object.
    ///
    /// # Safety
    ///
    /// No reference returned by [`Self::get`] may be in use or used after
    /// this call: every callback that calls `get` has been unregistered
    /// and has returned.
    pub unsafe fn withdraw(&self) {
        let p = self.p.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: from `Arc::into_raw` (type invariant); by the
            // caller's contract nothing uses it any more.
            drop(unsafe { Arc::from_raw(p) });
        }
    }
}

impl<T: Sync> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}
