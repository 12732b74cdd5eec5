// SPDX-License-Identifier: GPL-2.0-only
//! Files the kernel itself opens by path (not in any process's table), such
//! as `/proc` files or devices served to other nodes.

use kernel::{bindings, error::Error, prelude::*, str::CStr};

/// An open file; dropping it closes it.
///
/// Reads and writes go through the file's `read_iter`/`write_iter` with a
/// kernel buffer, which works for the character devices whose `read`/
/// `write` methods `kernel_read`/`kernel_write` refuse (`/dev/zero`).
// INVARIANT: `ptr` is a file returned by a successful `filp_open`, on which
// this struct holds the reference that `drop` gives back, once.
pub struct File {
    ptr: *mut bindings::file,
    pos: bindings::loff_t,
}

// SAFETY: a `struct file` may be used and closed from any thread; `&File`
// offers no operation.
unsafe impl Send for File {}
// SAFETY: `&File` offers no operation.
unsafe impl Sync for File {}

impl File {
    /// Opens `path` with the `O_*` `flags` (no `O_CREAT`).
    pub fn open(path: &CStr, flags: u32) -> Result<Self> {
        // SAFETY: `path` is NUL-terminated; flags and mode are plain values.
        let ptr = unsafe { bindings::filp_open(path.as_char_ptr(), flags as i32, 0) };
        let v = ptr as isize;
        if (-4095..0).contains(&v) {
            return Err(Error::from_errno(v as i32));
        }
        // INVARIANT: a successful `filp_open`.
        Ok(File { ptr, pos: 0 })
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.ptr
    }

    /// Builds an iterator over `len` bytes at `base` in direction `dir` and
    /// runs `op` on it.
    fn iter_op(
        &mut self,
        dir: u32,
        base: *mut u8,
        len: usize,
        op: unsafe extern "C" fn(
            *mut bindings::file,
            *mut bindings::iov_iter,
            *mut bindings::loff_t,
            bindings::rwf_t,
        ) -> isize,
    ) -> Result<usize> {
        let kv = bindings::kvec {
            iov_base: base.cast(),
            iov_len: len,
        };
        let mut iter = core::mem::MaybeUninit::<bindings::iov_iter>::zeroed();
        // SAFETY: `iter` is writable; `kv` describes `len` bytes at `base`
        // and outlives the iterator, which lives only in this function.
        unsafe { bindings::iov_iter_kvec(iter.as_mut_ptr(), dir, &kv, 1, len) };
        // SAFETY: by the type invariant `ptr` is an open file; `iter` was
        // initialized above; `pos` is a valid position for the call. The
        // callers pass a buffer valid for `len` bytes in the direction.
        let n = unsafe { op(self.ptr, iter.as_mut_ptr(), &mut self.pos, 0) };
        if n < 0 {
            Err(Error::from_errno(n as i32))
        } else {
            Ok(n as usize)
        }
    }

    /// Reads into `buf`; returns the bytes read (0: end of file).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.iter_op(
            bindings::ITER_DEST,
            buf.as_mut_ptr(),
            buf.len(),
            bindings::vfs_iter_read,
        )?;
        Ok(n.min(buf.len()))
    }

    /// Writes from `buf`; returns the bytes written.
    pub fn write(&mut self, buf: &[u8]) -> Result<usize> {
        // The iterator is a source: the file only reads `buf`.
        let n = self.iter_op(
            bindings::ITER_SOURCE,
            buf.as_ptr().cast_mut(),
            buf.len(),
            bindings::vfs_iter_write,
        )?;
        Ok(n.min(buf.len()))
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, gives back the reference of `open`,
        // once.
        unsafe { bindings::filp_close(self.ptr, core::ptr::null_mut()) };
    }
}

/// Reads `path` from its start into `buf`; returns the bytes read. Stops
/// when `buf` is full.
pub fn read(path: &CStr, buf: &mut [u8]) -> Result<usize> {
    let mut f = File::open(path, bindings::O_RDONLY)?;
    let mut done = 0;
    while done < buf.len() {
        let n = f.read(&mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// A file of the current task's fd table, by number; dropping it gives the
/// reference back (the fd itself stays open).
// INVARIANT: `ptr` is a file with a reference from `fget` that this struct
// gives back once.
pub struct FdFile {
    ptr: *mut bindings::file,
}

// SAFETY: a file reference may be used and dropped from any thread.
unsafe impl Send for FdFile {}
// SAFETY: reads and writes take an explicit position; the file's own
// operations serialize what they need.
unsafe impl Sync for FdFile {}

impl FdFile {
    /// The file open as `fd` in the current task (`EBADF` if none).
    pub fn get(fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: a lookup in the current task's table.
        let ptr = unsafe { bindings::fget(fd) };
        if ptr.is_null() {
            return Err(EBADF);
        }
        // INVARIANT: a reference from `fget`.
        Ok(FdFile { ptr })
    }

    /// Whether it is a regular file (seekable, the same bytes when read
    /// twice).
    pub fn is_regular(&self) -> bool {
        // SAFETY: an open file has a live inode, whose mode is a plain
        // word.
        let mode = unsafe { (*(*self.ptr).f_inode).i_mode };
        u32::from(mode) & 0o170000 == 0o100000
    }

    /// Reads at `*pos` into `buf`, advancing `*pos`; returns the bytes read
    /// (0 at the end of the file).
    pub fn read_at(&self, pos: &mut i64, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `ptr` is open (type invariant); `buf` is writable for its
        // length; `pos` is writable.
        let n = unsafe { bindings::kernel_read(self.ptr, buf.as_mut_ptr().cast(), buf.len(), pos) };
        if n < 0 {
            Err(Error::from_errno(n as i32))
        } else {
            Ok((n as usize).min(buf.len()))
        }
    }

    /// Writes all of `buf` at `*pos`, advancing `*pos`.
    pub fn write_all_at(&self, pos: &mut i64, mut buf: &[u8]) -> Result {
        while !buf.is_empty() {
            // SAFETY: `ptr` is open; `buf` is readable for its length;
            // `pos` is writable.
            let n =
                unsafe { bindings::kernel_write(self.ptr, buf.as_ptr().cast(), buf.len(), pos) };
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            if n == 0 {
                return Err(EIO);
            }
            buf = &buf[(n as usize).min(buf.len())..];
        }
        Ok(())
    }
}

impl Drop for FdFile {
    fn drop(&mut self) {
        // SAFETY: gives back the reference of `get`, once.
        unsafe { bindings::fput(self.ptr) };
    }
}

/// Closes `fd` of the current task.
pub fn close_fd(fd: i32) {
    if let Ok(fd) = u32::try_from(fd) {
        // SAFETY: closes an fd of the current task's own table.
        unsafe { bindings::close_fd(fd) };
    }
}
