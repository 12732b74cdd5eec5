// SPDX-License-Identifier: GPL-2.0-only
//! HMAC-SHA256 through the kernel's synchronous hash API
//! (`crypto_alloc_shash("hmac(sha256)")`).

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings, c_str,
    error::{from_err_ptr, to_result},
    prelude::*,
};

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of a MAC.
pub const MAC_LEN: usize = 32;

/// A MAC being computed: `update` with the bytes, then `finish`.
///
/// # Invariants
///
/// `tfm` is a live `hmac(sha256)` transform from `crypto_alloc_shash`,
/// keyed, owned by this value and freed once on drop. `desc` holds a
/// `struct shash_desc` for `tfm` followed by its context, 8-byte aligned,
/// initialised by `crypto_shash_init`.
pub struct HmacSha256 {
    tfm: *mut bindings::crypto_shash,
    desc: KVec<u64>,
}

// SAFETY: the transform and the descriptor are used by one thread at a
// time (`&mut self` for every operation), from any thread.
unsafe impl Send for HmacSha256 {}

impl HmacSha256 {
    /// A MAC keyed with `key`. May sleep.
    pub fn new(key: &[u8; KEY_LEN]) -> Result<Self> {
        // SAFETY: a NUL-terminated algorithm name; type and mask 0.
        let tfm = from_err_ptr(unsafe {
            bindings::crypto_alloc_shash(c_str!("hmac(sha256)").as_char_ptr(), 0, 0)
        })?;
        // INVARIANT: `desc` is sized and initialised below before any use;
        // until then only `drop` may see it, which frees `tfm` alone.
        let mut h = HmacSha256 {
            tfm,
            desc: KVec::new(),
        };
        // SAFETY: `tfm` is live; `key` is readable for its length.
        to_result(unsafe { bindings::crypto_shash_setkey(tfm, key.as_ptr(), KEY_LEN as u32) })?;
        // SAFETY: `tfm` is live.
        let (ctx, digest) = unsafe {
            (
                bindings::crypto_shash_descsize(tfm) as usize,
                bindings::crypto_shash_digestsize(tfm) as usize,
            )
        };
        if digest != MAC_LEN {
            return Err(EINVAL);
        }
        let bytes = core::mem::size_of::<bindings::shash_desc>() + ctx;
        h.desc = KVec::from_elem(0u64, bytes.div_ceil(8), GFP_KERNEL)?;
        let d = h.desc_ptr();
        // SAFETY: `d` points to a zeroed, aligned `shash_desc` with room for
        // its context; it names the live `tfm` before the init.
        to_result(unsafe {
            (*d).tfm = tfm;
            bindings::crypto_shash_init(d)
        })?;
        Ok(h)
    }

    fn desc_ptr(&mut self) -> *mut bindings::shash_desc {
        self.desc.as_mut_ptr().cast()
    }

    /// Adds `b` to the MAC.
    pub fn update(&mut self, b: &[u8]) -> Result {
        for part in b.chunks(u32::MAX as usize) {
            let d = self.desc_ptr();
            // SAFETY: `d` is initialised (type invariant); `part` is
            // readable for its length.
            to_result(unsafe {
                bindings::crypto_shash_update(d, part.as_ptr(), part.len() as u32)
            })?;
        }
        Ok(())
    }

    /// The MAC of every byte added.
    pub fn finish(mut self) -> Result<[u8; MAC_LEN]> {
        let mut out = [0u8; MAC_LEN];
        let d = self.desc_ptr();
        // SAFETY: `d` is initialised; `out` has the digest size (checked in
        // `new`).
        to_result(unsafe { bindings::crypto_shash_final(d, out.as_mut_ptr()) })?;
        Ok(out)
    }
}

impl Drop for HmacSha256 {
    fn drop(&mut self) {
        if !self.desc.is_empty() {
            let d = self.desc_ptr();
            // SAFETY: `d` holds a descriptor of `tfm` (type invariant):
            // zeroes it and its context (the key's derived state).
            unsafe { bindings::shash_desc_zero(d) };
        }
        // SAFETY: gives back the transform of `crypto_alloc_shash`, once.
        unsafe { bindings::crypto_free_shash(self.tfm) };
    }
}

/// Whether `a` and `b` are equal, in a time that does not depend on where
/// they differ.
pub fn equal(a: &[u8; MAC_LEN], b: &[u8; MAC_LEN]) -> bool {
    let d = a.iter().zip(b.iter()).fold(0u8, |d, (x, y)| d | (x ^ y));
    // SAFETY: reads a local value: keeps the compiler from turning the fold
    // into an early exit.
    unsafe { core::ptr::read_volatile(&d) == 0 }
}
