// SPDX-License-Identifier: GPL-2.0-only
//! The working and root directories of the current task: their paths for
//! a checkpoint, and directories looked up ahead of a restart that sets
//! them.

use kernel::{bindings, error::Error, prelude::*, str::CStr};

/// Which directory [`path`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The working directory.
    Pwd,
    /// The root directory (`chroot()`).
    Root,
}

/// The path of the current task's working or root directory from the
/// root of its mount namespace (which `chroot()` does not move), at the
/// start of `buf`, NUL-terminated; returns its length. `ENOENT`: the
/// directory was removed; `EINVAL`: it is out of that root's reach;
/// `ENAMETOOLONG`: `buf` is too short.
pub fn path(which: Which, buf: &mut [u8]) -> Result<usize> {
    let w = match which {
        Which::Pwd => bindings::SSI_GHOST_FS_PWD,
        Which::Root => bindings::SSI_GHOST_FS_ROOT,
    };
    let size = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
    // SAFETY: `buf` is writable for `size` bytes; reads the current task.
    let ret = unsafe { bindings::ssi_ghost_fs_path(w as i32, buf.as_mut_ptr().cast(), size) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(ret as usize)
}

/// A directory looked up by path, with a reference (dropped with it).
///
/// # Invariants
///
/// `ptr` is a path returned by a successful `ssi_ghost_dir_get`,
/// released once, by `drop`.
pub struct Dir {
    ptr: *mut bindings::path,
}

impl Dir {
    /// Looks `name` up from the current task's root (symbolic links
    /// followed); `ENOENT`, `ENOTDIR`...: no such directory.
    pub fn lookup(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated.
        let ptr = unsafe { bindings::ssi_ghost_dir_get(name.as_char_ptr()) };
        let v = ptr as isize;
        if (-4095..0).contains(&v) {
            return Err(Error::from_errno(v as i32));
        }
        // INVARIANT: a successful `ssi_ghost_dir_get`.
        Ok(Dir { ptr })
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, `ptr` holds a reference not yet
        // released.
        unsafe { bindings::ssi_ghost_dir_put(self.ptr) };
    }
}

/// Makes `root` the root and `pwd` the working directory of the current
/// task (its `fs_struct` made its own first).
pub fn set(pwd: &Dir, root: &Dir) -> Result {
    // SAFETY: both paths are live (type invariant); acts on the current
    // task, which takes its own references.
    let ret = unsafe { bindings::ssi_ghost_fs_set(pwd.ptr, root.ptr) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}
