// SPDX-License-Identifier: GPL-2.0-only
//! What 6.12's `KVec` lacks: removing elements.

use kernel::alloc::KVec;

/// Removes element `k` and returns it; the last element takes its place.
/// `None` if `k` is out of bounds.
pub fn swap_remove<T>(v: &mut KVec<T>, k: usize) -> Option<T> {
    let len = v.len();
    if k >= len {
        return None;
    }
    v.as_mut_slice().swap(k, len - 1);
    // SAFETY: `len - 1 < len` is initialized; once the length is cut the
    // vector no longer owns it, so it is read out exactly once.
    unsafe {
        v.set_len(len - 1);
        Some(core::ptr::read(v.as_ptr().add(len - 1)))
    }
}

/// Removes and returns the first element for which `f` is true.
pub fn take_first<T>(v: &mut KVec<T>, f: impl FnMut(&T) -> bool) -> Option<T> {
    let k = v.iter().position(f)?;
    swap_remove(v, k)
}

/// Keeps only the elements for which `keep` is true (order not kept).
pub fn retain<T>(v: &mut KVec<T>, mut keep: impl FnMut(&T) -> bool) {
    let mut k = 0;
    while k < v.len() {
        if keep(&v[k]) {
            k += 1;
        } else {
            drop(swap_remove(v, k));
        }
    }
}
