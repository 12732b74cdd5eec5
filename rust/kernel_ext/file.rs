// SPDX-License-Identifier: GPL-2.0-only
//! Reading whole (small) files from the kernel, such as `/proc` files.

use kernel::{bindings, error::Error, prelude::*, str::CStr};

/// Reads `path` from its start into `buf`; returns the bytes read. Stops
/// when `buf` is full.
pub fn read(path: &CStr, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `path` is NUL-terminated; flags and mode are plain values.
    let f = unsafe { bindings::filp_open(path.as_char_ptr(), bindings::O_RDONLY as i32, 0) };
    let v = f as isize;
    if (-4095..0).contains(&v) {
        return Err(Error::from_errno(v as i32));
    }
    let mut pos: bindings::loff_t = 0;
    let mut done = 0;
    let mut res = Ok(());
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `f` is an open file; `rest` is writable for its length;
        // `pos` is a valid position for the call.
        let n = unsafe { bindings::kernel_read(f, rest.as_mut_ptr().cast(), rest.len(), &mut pos) };
        if n < 0 {
            res = Err(Error::from_errno(n as i32));
            break;
        }
        if n == 0 {
            break;
        }
        done += n as usize;
    }
    // SAFETY: closes the file opened above, once.
    unsafe { bindings::filp_close(f, core::ptr::null_mut()) };
    res.map(|()| done)
}
