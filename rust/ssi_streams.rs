// SPDX-License-Identifier: GPL-2.0-only
//! The stream carrier of `ssi.ko` (`ssi_streams_register`,
//! `ssi_stream_describe`, `ssi_stream_attach` in `ssi/ssi_api.h`): how
//! the ghost module hands an open pipe to the module that carries pipes
//! across migrations (dynstreams) without depending on it.
//!
//! For the modules that include both `rust/ssi_api.rs` and
//! `rust/kernel_ext/`: `#[path = "../rust/ssi_streams.rs"] mod
//! ssi_streams;`.

#![allow(dead_code, unreachable_pub)]

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::Error,
    ffi::c_void,
    prelude::*,
};

use crate::kernel_ext::file::FdFile;
use crate::ssi_api::ffi;

/// What the carrier does (dynstreams implements it for a `static`).
pub trait Carrier: Sync + 'static {
    /// If `f`, fd `fd` of process `pid`, is a stream it carries: writes
    /// its token into `tok` and returns its length and the node that holds
    /// the stream. `ENOENT` if it is not one; another error refuses it.
    /// Keeps nothing.
    fn describe(&self, f: &FdFile, pid: u32, fd: u32, tok: &mut [u8]) -> Result<(usize, u8)>;
    /// A new file for the current task from a token, open with the
    /// `O_ACCMODE` and `O_NONBLOCK` of `flags`.
    fn attach(&self, tok: &[u8], flags: u32) -> Result<FdFile>;
}

/// `ssi_stream_ops::describe` of `C`.
///
/// # Safety
///
/// Called by ssi.ko only, with the `ctx` given to `ssi_streams_register`
/// (a `&'static C`), an open file the caller holds a reference on,
/// `node` writable and `tok` writable for `cap` bytes.
unsafe extern "C" fn describe_tramp<C: Carrier>(
    ctx: *mut c_void,
    f: *mut bindings::file,
    pid: u32,
    fd: u32,
    node: *mut u8,
    tok: *mut u8,
    cap: usize,
) -> isize {
    // SAFETY: guaranteed by the caller.
    let (c, tok) = unsafe { (&*ctx.cast::<C>(), core::slice::from_raw_parts_mut(tok, cap)) };
    // SAFETY: the caller holds a reference on `f` for the call.
    let r = unsafe { FdFile::with_borrowed(f, |f| c.describe(f, pid, fd, tok)) };
    match r {
        Ok((n, at)) => {
            // SAFETY: guaranteed by the caller.
            unsafe { *node = at };
            n as isize
        }
        Err(e) => e.to_errno() as isize,
    }
}

/// `ssi_stream_ops::attach` of `C`.
///
/// # Safety
///
/// Called by ssi.ko only, with the `ctx` given to `ssi_streams_register`,
/// `tok` readable for `len` bytes and `out` writable.
unsafe extern "C" fn attach_tramp<C: Carrier>(
    ctx: *mut c_void,
    tok: *const u8,
    len: usize,
    flags: u32,
    out: *mut *mut bindings::file,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let (c, tok) = unsafe { (&*ctx.cast::<C>(), core::slice::from_raw_parts(tok, len)) };
    match c.attach(tok, flags) {
        Ok(f) => {
            // SAFETY: guaranteed by the caller; the reference goes to it.
            unsafe { *out = f.into_raw() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The registered carrier; unregistered on drop (which waits for its
/// operations in progress).
pub struct Registration {
    ops: KBox<ffi::ssi_stream_ops>,
}

// SAFETY: the table is read-only once registered.
unsafe impl Send for Registration {}
// SAFETY: as above.
unsafe impl Sync for Registration {}

/// Registers `c` as this node's stream carrier (`EBUSY` if one is).
pub fn register<C: Carrier>(c: &'static C) -> Result<Registration> {
    let ops = KBox::new(
        ffi::ssi_stream_ops {
            describe: Some(describe_tramp::<C>),
            attach: Some(attach_tramp::<C>),
        },
        GFP_KERNEL,
    )?;
    let ctx = (c as *const C).cast_mut().cast::<c_void>();
    // SAFETY: `ops` lives until drop has unregistered it; `c` forever.
    let ret = unsafe { ffi::ssi_streams_register(&*ops, ctx) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(Registration { ops })
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; returns once no operation runs.
        unsafe { ffi::ssi_streams_unregister(&*self.ops) };
    }
}

/// `ENOENT`: not a stream (or no carrier is loaded).
pub fn enoent() -> Error {
    Error::from_errno(-2)
}

/// The token of `f`, fd `fd` of process `pid`, into `tok`: its length and
/// the node that holds the stream. `ENOENT` if it is no stream a carrier
/// knows (or none is loaded); another error if the carrier refuses it.
pub fn describe(f: &FdFile, pid: u32, fd: u32, tok: &mut [u8]) -> Result<(usize, u8)> {
    let mut node = 0u8;
    // SAFETY: `f` holds a reference for the call; `node` and `tok` are
    // writable for their sizes.
    let n = unsafe {
        ffi::ssi_stream_describe(f.as_ptr(), pid, fd, &mut node, tok.as_mut_ptr(), tok.len())
    };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    Ok(((n as usize).min(tok.len()), node))
}

/// The file of a token, for the current task. `ENOPROTOOPT` without a
/// carrier.
pub fn attach(tok: &[u8], flags: u32) -> Result<FdFile> {
    let mut out: *mut bindings::file = core::ptr::null_mut();
    // SAFETY: `tok` is readable for its length, `out` writable.
    let ret = unsafe { ffi::ssi_stream_attach(tok.as_ptr(), tok.len(), flags, &mut out) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    if out.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: the carrier gave us a reference.
    Ok(unsafe { FdFile::from_raw(out) })
}
