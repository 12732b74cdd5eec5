// SPDX-License-Identifier: GPL-2.0-only
//! Files the kernel itself opens by path (not in any process's table), such
//! as `/proc` files or devices served to other nodes.

use kernel::{bindings, error::Error, prelude::*, str::CStr};

/// An open file; dropping it closes it.
///
/// Reads and writes go through the file's `read_iter`/`write_iter` with a
/// kernel buffer, which works for the character devices whose `read`/
/// `write` methods `kernel_read`/`kernel_write` refuse (`/dev/zero`).
///
/// # Invariants
///
/// `ptr` is a file returned by a successful `filp_open`, on which
/// this struct holds the reference that `drop` gives back, once.
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

    /// Moves the file's own position (`f_pos`, what a descriptor of it
    /// uses) and this struct's to `pos`.
    pub fn seek_to(&mut self, pos: i64) -> Result {
        // SAFETY: an open file (type invariant); plain values. Nobody else
        // uses the file yet (it is in no fd table).
        let p = unsafe { bindings::vfs_llseek(self.ptr, pos, bindings::SEEK_SET as i32) };
        if p < 0 {
            return Err(Error::from_errno(p as i32));
        }
        self.pos = p;
        Ok(())
    }

    /// Installs the file as fd `fd` of the current task (as `dup2`),
    /// closing what was there.
    pub fn install_at(self, fd: u32) -> Result {
        // SAFETY: acts on the current task's own table; `replace_fd` takes
        // its own reference; `self` gives back its own when dropped.
        let ret = unsafe { bindings::ssi_ghost_replace_fd(fd, self.ptr, 0) };
        if ret < 0 {
            Err(Error::from_errno(ret))
        } else {
            Ok(())
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
///
/// # Invariants
///
/// `ptr` is a file with a reference from `fget` that this struct
/// gives back once.
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

/// `FMODE_*` bits of `struct file` (include/linux/fs.h of 6.12; bindgen
/// cannot evaluate their casts).
const FMODE_LSEEK: u32 = 1 << 2;
const FMODE_PREAD: u32 = 1 << 3;

/// `S_IFMT` type of an inode mode, and the types a ghost carries.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFCHR: u32 = 0o020000;

impl FdFile {
    /// File `fd` of `task` (`EBADF` if none), as `pidfd_getfd()` finds it.
    /// The caller checks that it may use it.
    pub fn of_task(task: &crate::kernel_ext::task::TaskRef, fd: u32) -> Result<Self> {
        // SAFETY: `task` is a live task (its type invariant); the result
        // is a counted reference or null.
        let ptr = unsafe { bindings::ssi_ghost_fget(task.as_ptr(), fd) };
        if ptr.is_null() {
            return Err(EBADF);
        }
        // INVARIANT: a counted reference.
        Ok(FdFile { ptr })
    }

    /// Takes over a counted reference.
    ///
    /// # Safety
    ///
    /// `ptr` must be a file with a reference the caller gives away.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::file) -> Self {
        // INVARIANT: guaranteed by the caller.
        FdFile { ptr }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.ptr
    }

    /// The `O_*` flags of the open file (`F_GETFL`).
    pub fn flags(&self) -> u32 {
        // SAFETY: an open file (type invariant); a plain word.
        unsafe { (*self.ptr).f_flags }
    }

    /// The inode's mode (`S_IFMT` type and permissions).
    pub fn mode(&self) -> u32 {
        // SAFETY: an open file has a live inode; a plain word.
        u32::from(unsafe { (*(*self.ptr).f_inode).i_mode })
    }

    /// The inode's size.
    pub fn size(&self) -> i64 {
        // SAFETY: as `mode`; an aligned 64-bit read is atomic on x86_64
        // (what `i_size_read()` does there).
        unsafe { (*(*self.ptr).f_inode).i_size }
    }

    /// The file's position (a snapshot, as `/proc/PID/fdinfo` shows it).
    pub fn pos(&self) -> i64 {
        // SAFETY: an open file; an aligned 64-bit read.
        unsafe { (*self.ptr).f_pos }
    }

    /// Whether `pread`/`pwrite` and `lseek` work on it.
    pub fn can_pread(&self) -> bool {
        // SAFETY: an open file; a plain word.
        let mode = unsafe { (*self.ptr).f_mode };
        mode & FMODE_PREAD != 0
    }

    pub fn can_seek(&self) -> bool {
        // SAFETY: as above.
        let mode = unsafe { (*self.ptr).f_mode };
        mode & FMODE_LSEEK != 0
    }

    /// An identity of the open file (not of the fd) while it is open: its
    /// address. Not to be shown outside the kernel as it is.
    pub fn identity(&self) -> u64 {
        self.ptr as usize as u64
    }

    /// Its path (`d_path`) at the start of `buf`; returns the length.
    pub fn path(&self, buf: &mut [u8]) -> Result<usize> {
        let cap = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: an open file has a live `f_path`; `buf` is writable for
        // `cap` bytes; the result points into `buf` or is an error.
        let p = unsafe {
            bindings::d_path(
                core::ptr::addr_of!((*self.ptr).f_path),
                buf.as_mut_ptr().cast(),
                cap,
            )
        };
        let v = p as isize;
        if (-4095..0).contains(&v) {
            return Err(Error::from_errno(v as i32));
        }
        let start = (p as usize)
            .checked_sub(buf.as_ptr() as usize)
            .filter(|&s| s < buf.len())
            .ok_or(EINVAL)?;
        // `d_path` writes the name NUL-terminated at the end of `buf`.
        let len = buf[start..].iter().position(|&c| c == 0).ok_or(EINVAL)?;
        buf.copy_within(start..start + len, 0);
        Ok(len)
    }

    fn rw(
        &self,
        buf: *mut u8,
        len: usize,
        pos: Option<&mut i64>,
        write: bool,
        nowait: bool,
    ) -> Result<usize> {
        let ppos = match pos {
            Some(p) => p as *mut i64,
            None => core::ptr::null_mut(),
        };
        let (f, b) = (self.ptr, buf.cast());
        // SAFETY: an open file (type invariant); `buf` is valid for `len`
        // bytes in the direction (callers); `ppos` is null or writable.
        let n = unsafe { bindings::ssi_ghost_file_rw(f, b, len, ppos, write, nowait) };
        if n < 0 {
            Err(Error::from_errno(n as i32))
        } else {
            Ok((n as usize).min(len))
        }
    }

    /// Reads as `read(2)` would through a descriptor of the file (its own
    /// position, shared with every descriptor of it), or as `pread(2)` at
    /// `*pos` (advanced). With `nowait`, a file that is not regular and has
    /// nothing to read answers `EAGAIN` instead of blocking.
    pub fn read_shared(
        &self,
        buf: &mut [u8],
        pos: Option<&mut i64>,
        nowait: bool,
    ) -> Result<usize> {
        self.rw(buf.as_mut_ptr(), buf.len(), pos, false, nowait)
    }

    /// Writes as `write(2)` (or `pwrite(2)`) would, `O_APPEND` included;
    /// `nowait` as for [`Self::read_shared`].
    pub fn write_shared(&self, buf: &[u8], pos: Option<&mut i64>, nowait: bool) -> Result<usize> {
        // The file only reads `buf`.
        self.rw(buf.as_ptr().cast_mut(), buf.len(), pos, true, nowait)
    }

    /// `lseek(2)` on the file's shared position.
    pub fn seek(&self, offset: i64, whence: u32) -> Result<i64> {
        let whence = i32::try_from(whence).map_err(|_| EINVAL)?;
        // SAFETY: an open file; plain values.
        let p = unsafe { bindings::ssi_ghost_file_llseek(self.ptr, offset, whence) };
        if p < 0 {
            Err(Error::from_errno(p as i32))
        } else {
            Ok(p)
        }
    }
}

/// `S_IFIFO`: a pipe or a FIFO.
pub const S_IFIFO: u32 = 0o010000;

impl FdFile {
    /// Another reference to the same open file.
    pub fn try_clone(&self) -> Result<Self> {
        let mut p = self.ptr;
        // SAFETY: `p` is a file this struct holds a reference on (type
        // invariant), so it is active; `get_file_active` takes another
        // one under the RCU read lock it requires.
        let ptr = unsafe {
            bindings::rcu_read_lock();
            let ptr = bindings::get_file_active(&mut p);
            bindings::rcu_read_unlock();
            ptr
        };
        if ptr.is_null() {
            return Err(EBADF);
        }
        // INVARIANT: a reference from `get_file_active`.
        Ok(FdFile { ptr })
    }

    /// Gives up the reference, to a caller that takes it over.
    pub(crate) fn into_raw(self) -> *mut bindings::file {
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr
    }

    /// Calls `f` with the file at `ptr`, borrowed for the call.
    ///
    /// # Safety
    ///
    /// `ptr` must be an open file on which the caller holds a reference
    /// for the duration of the call.
    pub(crate) unsafe fn with_borrowed<R>(
        ptr: *mut bindings::file,
        f: impl FnOnce(&Self) -> R,
    ) -> R {
        // INVARIANT: the caller's reference stands for this one's; the
        // `ManuallyDrop` never gives it back.
        let file = core::mem::ManuallyDrop::new(FdFile { ptr });
        f(&file)
    }

    /// Installs another reference to the file as fd `fd` of the current
    /// task (as `dup2`), closing what was there.
    pub fn install_at(&self, fd: u32, cloexec: bool) -> Result {
        let flags = if cloexec { bindings::O_CLOEXEC } else { 0 };
        // SAFETY: acts on the current task's own table; `replace_fd` takes
        // its own reference.
        let ret = unsafe { bindings::ssi_ghost_replace_fd(fd, self.ptr, flags) };
        if ret < 0 {
            Err(Error::from_errno(ret))
        } else {
            Ok(())
        }
    }

    /// An identity of the file's inode (for a pipe: the pipe, whichever
    /// end), compared only. Not to be shown outside the kernel.
    pub fn inode_identity(&self) -> u64 {
        // SAFETY: an open file has a live inode; the pointer is only read.
        unsafe { (*self.ptr).f_inode as usize as u64 }
    }

    /// Whether it is a pipe or a FIFO.
    pub fn is_fifo(&self) -> bool {
        self.mode() & S_IFMT == S_IFIFO
    }

    /// A pipe or FIFO's open read and write files, size and bytes
    /// (`EBADF` if it is not one).
    pub fn pipe_info(&self) -> Result<PipeInfo> {
        let mut out = bindings::ssi_ghost_pipe_info {
            readers: 0,
            writers: 0,
            size: 0,
            bytes: 0,
        };
        // SAFETY: an open file; `out` is writable; the call takes the
        // pipe's own lock.
        let ret = unsafe { bindings::ssi_ghost_pipe_info(self.ptr, &mut out) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(PipeInfo {
            readers: out.readers,
            writers: out.writers,
            size: out.size,
            bytes: out.bytes,
        })
    }

    /// Copies bytes of a pipe from byte `offset` of what it holds into
    /// `buf`, leaving them in the pipe; returns how many.
    pub fn pipe_peek(&self, buf: &mut [u8], offset: usize) -> Result<usize> {
        // SAFETY: an open file; `buf` is writable for its length; the call
        // takes the pipe's own lock.
        let n = unsafe {
            bindings::ssi_ghost_pipe_peek(self.ptr, buf.as_mut_ptr().cast(), buf.len(), offset)
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok((n as usize).min(buf.len()))
    }

    /// A new pipe, as `pipe(2)` makes it for the current task: its read
    /// and write ends, of at least `size` bytes (0: the default).
    pub fn new_pipe(size: u32) -> Result<(Self, Self)> {
        let mut res: [*mut bindings::file; 2] = [core::ptr::null_mut(); 2];
        // SAFETY: `res` is writable for the two files the call makes.
        let ret = unsafe { bindings::ssi_ghost_pipe_create(res.as_mut_ptr(), size) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: on success both are counted references, ours.
        Ok((FdFile { ptr: res[0] }, FdFile { ptr: res[1] }))
    }

    /// Sets or clears `O_NONBLOCK` of a file that no other task uses yet
    /// (a pipe end made for a process being restored).
    pub fn set_nonblock_fresh(&self, on: bool) {
        // SAFETY: an open file; the caller's is the only task that uses
        // it, so nothing reads or writes `f_flags` meanwhile.
        unsafe {
            let f = &mut (*self.ptr).f_flags;
            if on {
                *f |= bindings::O_NONBLOCK;
            } else {
                *f &= !bindings::O_NONBLOCK;
            }
        }
    }

    /// How many references the open file has now (racy: a hint).
    pub fn count(&self) -> u64 {
        // SAFETY: an open file, only read.
        unsafe { bindings::ssi_ghost_file_count(self.ptr) as u64 }
    }

    /// The bytes a pipe or FIFO holds (`FIONREAD`); `EBADF` if it is not one.
    pub fn pipe_nread(&self) -> Result<u32> {
        // SAFETY: an open file; the call takes the pipe's own lock.
        let n = unsafe { bindings::ssi_ghost_pipe_nread(self.ptr) };
        if n < 0 {
            Err(Error::from_errno(n))
        } else {
            Ok(n as u32)
        }
    }
}

/// What [`FdFile::pipe_info`] tells of a pipe.
#[derive(Clone, Copy, Debug)]
pub struct PipeInfo {
    /// Open files of each end.
    pub readers: u32,
    pub writers: u32,
    /// Its size in bytes.
    pub size: u32,
    /// The bytes it holds.
    pub bytes: u32,
}

/// The file of an [`FdFile`] kept from being written while this lives
/// (`deny_write_access()`, as `execve()` keeps a running binary).
///
/// # Invariants
///
/// `f`'s inode's write count was lowered by a successful
/// `deny_write_access()`, given back once on drop.
pub struct WriteDenied<'a> {
    f: &'a FdFile,
}

impl FdFile {
    /// Keeps the file from being opened for writing, truncated or written
    /// through a shared mapping until the guard is dropped; `ETXTBSY` if
    /// something has it open for writing now.
    pub fn deny_write(&self) -> Result<WriteDenied<'_>> {
        // SAFETY: `ptr` is open (type invariant).
        let r = unsafe { bindings::deny_write_access(self.ptr) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        // INVARIANT: a successful `deny_write_access`.
        Ok(WriteDenied { f: self })
    }
}

impl Drop for WriteDenied<'_> {
    fn drop(&mut self) {
        // SAFETY: gives back the denial of `deny_write`, once; the file is
        // still open (borrowed).
        unsafe { bindings::allow_write_access(self.f.ptr) };
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
