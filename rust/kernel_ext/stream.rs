// SPDX-License-Identifier: GPL-2.0-only
//! Anonymous files whose operations a module implements (as remote files
//! do): no inode of their own, no position of their own (`read`/`write`
//! without a position), `lseek`, `pread` and `pwrite` passed to the
//! module, installed in the current task's fd table.
//!
//! ```ignore
//! static FOPS: StreamFops<Mine> = StreamFops::new(&crate::THIS_MODULE);
//! let f = NewFile::new(&FOPS, Mine { .. }, bindings::O_RDWR)?;
//! let fd = f.install(true)?;          // a new fd, close-on-exec
//! ```

use core::marker::PhantomData;
use kernel::ffi::{c_char, c_int};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{code::*, Error, Result},
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
    ThisModule,
};

use crate::kernel_ext::file::FdFile;

/// What a stream file does. Positions are `Some` for `pread`/`pwrite`
/// only; `nonblock` is the file's `O_NONBLOCK`.
pub trait StreamOps: Send + Sync + Sized + 'static {
    fn read(&self, out: &mut UserSliceWriter, pos: Option<i64>, nonblock: bool) -> Result<usize>;
    fn write(&self, input: &mut UserSliceReader, pos: Option<i64>, nonblock: bool)
        -> Result<usize>;
    /// `lseek(2)`: returns the new position.
    fn seek(&self, offset: i64, whence: u32) -> Result<i64>;
}

/// The `file_operations` of `T`; must be a `static` of the module that
/// implements `T` (open files hold a reference on the module).
pub struct StreamFops<T: StreamOps> {
    fops: bindings::file_operations,
    _t: PhantomData<T>,
}

// SAFETY: `fops` is never written after construction.
unsafe impl<T: StreamOps> Sync for StreamFops<T> {}

impl<T: StreamOps> StreamFops<T> {
    pub const fn new(module: &'static ThisModule) -> Self {
        // SAFETY: all-zero is a valid `file_operations`.
        let mut fops: bindings::file_operations = unsafe { core::mem::zeroed() };
        fops.owner = module.as_ptr();
        fops.read = Some(read_tramp::<T>);
        fops.write = Some(write_tramp::<T>);
        fops.llseek = Some(llseek_tramp::<T>);
        fops.release = Some(release_tramp::<T>);
        StreamFops {
            fops,
            _t: PhantomData,
        }
    }

    /// The state of `f` if it is a file of these operations.
    pub fn data_of<'a>(&'static self, f: &'a FdFile) -> Option<&'a T> {
        let p = f.as_ptr();
        // SAFETY: an open file (`FdFile`'s invariant); its `f_op` is
        // fixed while it is open.
        if !core::ptr::eq(unsafe { (*p).f_op }, &self.fops) {
            return None;
        }
        // SAFETY: a file of `self.fops` was made by `NewFile::new::<T>`,
        // whose `private_data` is a `KBox<T>` freed only at its release,
        // after the reference `f` holds is gone.
        Some(unsafe { &*(*p).private_data.cast::<T>() })
    }
}

/// The state of a stream file.
///
/// # Safety
///
/// `file` must be a file made by `NewFile::new::<T>`, not yet released.
unsafe fn state<'a, T: StreamOps>(file: *mut bindings::file) -> (&'a T, bool) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let nonblock = (*file).f_flags & bindings::O_NONBLOCK != 0;
        (&*(*file).private_data.cast::<T>(), nonblock)
    }
}

/// The position argument: null for `read`/`write` (a stream), the
/// caller's for `pread`/`pwrite`.
///
/// # Safety
///
/// `ppos` must be null or valid.
unsafe fn pos_of(ppos: *mut bindings::loff_t) -> Option<i64> {
    if ppos.is_null() {
        None
    } else {
        // SAFETY: guaranteed by the caller.
        Some(unsafe { *ppos })
    }
}

/// Advances a non-null position by `n` bytes done.
///
/// # Safety
///
/// As [`pos_of`].
unsafe fn advance(ppos: *mut bindings::loff_t, n: usize) {
    if !ppos.is_null() {
        // SAFETY: guaranteed by the caller.
        unsafe { *ppos = (*ppos).saturating_add(n as i64) };
    }
}

/// `file_operations::read` of a stream file of `T`.
///
/// # Safety
///
/// Called by the VFS only, on a file made by `NewFile::new::<T>` and not yet
/// released, with a user buffer of `count` bytes.
unsafe extern "C" fn read_tramp<T: StreamOps>(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: the VFS calls `read` only on files of our `fops` with a null
    // (stream) or valid position.
    let ((s, nonblock), pos) = unsafe { (state::<T>(file), pos_of(ppos)) };
    let mut out = UserSlice::new(buf as usize, count).writer();
    match s.read(&mut out, pos, nonblock) {
        Ok(n) => {
            let n = n.min(count);
            // SAFETY: as above.
            unsafe { advance(ppos, n) };
            n as isize
        }
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::write` of a stream file of `T`.
///
/// # Safety
///
/// As for [`read_tramp`].
unsafe extern "C" fn write_tramp<T: StreamOps>(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: as in `read_tramp`.
    let ((s, nonblock), pos) = unsafe { (state::<T>(file), pos_of(ppos)) };
    let mut input = UserSlice::new(buf as usize, count).reader();
    match s.write(&mut input, pos, nonblock) {
        Ok(n) => {
            let n = n.min(count);
            // SAFETY: as above.
            unsafe { advance(ppos, n) };
            n as isize
        }
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::llseek` of a stream file of `T`.
///
/// # Safety
///
/// Called by the VFS only, on a file made by `NewFile::new::<T>` and not yet
/// released.
unsafe extern "C" fn llseek_tramp<T: StreamOps>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: the VFS calls `llseek` only on files of our `fops`.
    let (s, _) = unsafe { state::<T>(file) };
    let Ok(whence) = u32::try_from(whence) else {
        return EINVAL.to_errno().into();
    };
    match s.seek(offset, whence) {
        Ok(p) => p,
        Err(e) => e.to_errno().into(),
    }
}

/// `file_operations::release` of a stream file of `T`.
///
/// # Safety
///
/// Called by the VFS only, once, when the last reference to a file made by
/// `NewFile::new::<T>` goes.
unsafe extern "C" fn release_tramp<T: StreamOps>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the last reference of a file of `NewFile::new::<T>`: its
    // `private_data` is the box made there, used by nothing else now.
    drop(unsafe { KBox::from_raw((*file).private_data.cast::<T>()) });
    0
}

/// A stream file not yet in any fd table; dropping it releases it.
///
/// # Invariants
///
/// `file` holds the one reference of a file made by
/// `ssi_ghost_stream_file` with `StreamFops<T>`'s operations.
pub struct NewFile {
    file: FdFile,
}

impl NewFile {
    /// A new file of `ops` with state `data`, open with the access mode
    /// and `O_NONBLOCK` of `flags`.
    pub fn new<T: StreamOps>(ops: &'static StreamFops<T>, data: T, flags: u32) -> Result<Self> {
        let data = KBox::into_raw(KBox::new(data, GFP_KERNEL)?);
        // SAFETY: `ops.fops` is static; `data` is a valid box that the file
        // owns on success (freed by `release_tramp`).
        let ptr = unsafe { bindings::ssi_ghost_stream_file(&ops.fops, data.cast(), flags) };
        let v = ptr as isize;
        if ptr.is_null() || (-4095..0).contains(&v) {
            // SAFETY: the file was not made: the box is still ours.
            drop(unsafe { KBox::from_raw(data) });
            return Err(if ptr.is_null() {
                ENOMEM
            } else {
                Error::from_errno(v as i32)
            });
        }
        // SAFETY: a new file with one reference, which we own.
        // INVARIANT: made by `ssi_ghost_stream_file` with `ops`.
        Ok(NewFile {
            file: unsafe { FdFile::from_raw(ptr) },
        })
    }

    /// The file, as a reference of its own (no longer a new file).
    pub fn into_file(self) -> FdFile {
        self.file
    }

    /// Installs it as the lowest free fd of the current task; returns it.
    pub fn install(self, cloexec: bool) -> Result<u32> {
        let flags = if cloexec { bindings::O_CLOEXEC } else { 0 };
        // SAFETY: reserves an fd in the current task's table.
        let fd = unsafe { bindings::get_unused_fd_flags(flags) };
        if fd < 0 {
            return Err(Error::from_errno(fd));
        }
        let ptr = self.file.as_ptr();
        core::mem::forget(self);
        // SAFETY: `fd` was reserved above; `fd_install` takes over the
        // reference `self` held (forgotten, so not dropped twice).
        unsafe { bindings::fd_install(fd as u32, ptr) };
        Ok(fd as u32)
    }

    /// Installs it as fd `fd` of the current task, closing what was there
    /// (as `dup2`).
    pub fn install_at(self, fd: u32, cloexec: bool) -> Result {
        let flags = if cloexec { bindings::O_CLOEXEC } else { 0 };
        // SAFETY: acts on the current task's own table; `replace_fd` takes
        // its own reference, `self` drops ours.
        let ret = unsafe { bindings::ssi_ghost_replace_fd(fd, self.file.as_ptr(), flags) };
        if ret < 0 {
            Err(Error::from_errno(ret))
        } else {
            Ok(())
        }
    }
}
