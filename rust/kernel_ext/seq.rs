// SPDX-License-Identifier: GPL-2.0-only
//! Writing to a `seq_file` from a `show` callback.

use core::fmt;
use kernel::bindings;

/// The `seq_file` a show callback fills.
///
/// # Invariants
///
/// `0` is the seq_file of the show call this value lives in.
pub struct SeqFile(*mut bindings::seq_file);

impl SeqFile {
    /// # Safety
    ///
    /// `m` must be the `seq_file` passed to the running show callback,
    /// and the value must not outlive the call.
    pub unsafe fn from_raw(m: *mut bindings::seq_file) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self(m)
    }

    /// Appends bytes; on overflow seq_file calls show again with a larger
    /// buffer, so an error here needs no handling.
    pub fn write_bytes(&mut self, data: &[u8]) {
        // SAFETY: by the type invariant; `data` is valid for its length.
        unsafe { bindings::seq_write(self.0, data.as_ptr().cast(), data.len()) };
    }
}

impl fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}
