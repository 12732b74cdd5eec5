// SPDX-License-Identifier: GPL-2.0-only
//! Character devices: a region of minors, one `cdev`, a device class, and
//! device nodes created and removed by minor.
//!
//! A module declares the file operations of its [`Operations`] type as a
//! `static` (so that they outlive every open file, which holds a reference
//! on the module):
//!
//! ```ignore
//! static FOPS: FileOps<MyDevs> = FileOps::new(&crate::THIS_MODULE);
//! let mut reg = Registration::new(&FOPS, c_str!("mydevs"), 16, Arc::new(data, GFP_KERNEL)?)?;
//! reg.create(3, fmt!("mydevs!three"))?;   // devtmpfs: /dev/mydevs/three
//! ```
//!
//! Every open file holds an `Arc` of the registration's data, so the data
//! outlives the registration while files are open; the `cdev` comes from
//! `cdev_alloc` and is freed by its last reference.

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use kernel::ffi::{c_char, c_int, c_void};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::{code::*, Error, Result},
    str::{CStr, CString},
    sync::Arc,
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
    ThisModule,
};

const MINOR_BITS: u32 = 20;
const MINOR_MASK: u32 = (1 << MINOR_BITS) - 1;

/// What a set of character devices does. One value (the registration's
/// data) serves every minor; each open file gets its own [`Self::File`].
pub trait Operations: Send + Sync + Sized + 'static {
    /// Per-open state.
    type File: Send + Sync;

    /// Permissions of the device node of `minor`.
    fn mode(minor: u32) -> u16;

    /// Opens `minor` with the `O_*` `flags` of `open(2)`.
    fn open(&self, minor: u32, flags: u32) -> Result<Self::File>;

    /// Reads into `out` (as many bytes as `out.len()` at most); returns the
    /// bytes written to it. `nonblock`: the file is `O_NONBLOCK` now.
    fn read(&self, file: &Self::File, out: &mut UserSliceWriter, nonblock: bool) -> Result<usize>;

    /// Writes from `input`; returns the bytes written (which may be fewer
    /// than it consumed from `input`).
    fn write(
        &self,
        file: &Self::File,
        input: &mut UserSliceReader,
        nonblock: bool,
    ) -> Result<usize>;

    /// An `ioctl(2)` with command `cmd` and argument `arg` (often a user
    /// pointer: see [`UserSlice`]); returns the syscall's result. The
    /// default knows no command.
    fn ioctl(&self, _file: &Self::File, _cmd: u32, _arg: usize) -> Result<isize> {
        Err(ENOTTY)
    }

    /// The last reference to the open file is gone.
    fn release(&self, file: Self::File) {
        drop(file);
    }
}

/// What an open file's `private_data` points to.
struct Open<T: Operations> {
    data: Arc<T>,
    file: T::File,
}

/// The `file_operations` of `T` and the data of its live [`Registration`];
/// must be a `static` of the module that implements `T`.
pub struct FileOps<T: Operations> {
    fops: bindings::file_operations,
    /// `Arc::into_raw` of the registration's data; null without one.
    data: AtomicPtr<T>,
    /// Openers between reading `data` and taking their reference.
    busy: AtomicUsize,
    registered: AtomicBool,
    _t: PhantomData<T>,
}

// SAFETY: `fops` is never written after construction; the rest are atomics.
unsafe impl<T: Operations> Sync for FileOps<T> {}

impl<T: Operations> FileOps<T> {
    /// The operations, owned by `module` (which cannot be unloaded while a
    /// file is open).
    pub const fn new(module: &'static ThisModule) -> Self {
        // SAFETY: all-zero is a valid `file_operations` (null pointers,
        // `None` callbacks).
        let mut fops: bindings::file_operations = unsafe { core::mem::zeroed() };
        fops.owner = module.as_ptr();
        fops.open = Some(open_tramp::<T>);
        fops.read = Some(read_tramp::<T>);
        fops.write = Some(write_tramp::<T>);
        fops.unlocked_ioctl = Some(ioctl_tramp::<T>);
        fops.release = Some(release_tramp::<T>);
        FileOps {
            fops,
            data: AtomicPtr::new(core::ptr::null_mut()),
            busy: AtomicUsize::new(0),
            registered: AtomicBool::new(false),
            _t: PhantomData,
        }
    }

    /// The registration's data, if one is live.
    fn get(&self) -> Option<Arc<T>> {
        self.busy.fetch_add(1, SeqCst);
        let p = self.data.load(SeqCst);
        let data = if p.is_null() {
            None
        } else {
            // SAFETY: `p` came from `Arc::into_raw` in `publish`; `withdraw`
            // releases it only after swapping in null and seeing `busy` at
            // 0, and `busy` was raised before `p` was read.
            let arc = ManuallyDrop::new(unsafe { Arc::from_raw(p) });
            Some((*arc).clone())
        };
        self.busy.fetch_sub(1, SeqCst);
        data
    }

    fn publish(&self, data: Arc<T>) {
        self.data.store(Arc::into_raw(data).cast_mut(), SeqCst);
    }

    fn withdraw(&self) {
        let p = self.data.swap(core::ptr::null_mut(), SeqCst);
        while self.busy.load(SeqCst) != 0 {
            // SAFETY: sleeping in process context (registrations are
            // dropped there).
            unsafe { bindings::msleep(1) };
        }
        if !p.is_null() {
            // SAFETY: from `Arc::into_raw` in `publish`; no opener still
            // holds `p` without its own reference (see `get`).
            drop(unsafe { Arc::from_raw(p) });
        }
    }
}

fn errno(e: Error) -> isize {
    e.to_errno() as isize
}

/// `file_operations::open` of `FileOps<T>`.
///
/// # Safety
///
/// Called by the VFS only, with a live `inode` of our device and a `file`
/// whose `f_op` is the `fops` of a `FileOps<T>` static.
unsafe extern "C" fn open_tramp<T: Operations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `chrdev_open` set `f_op` from our cdev's `ops`, which is the
    // `fops` field of a `FileOps<T>` static.
    let ops = unsafe { &*kernel::container_of!((*file).f_op, FileOps<T>, fops) };
    let Some(data) = ops.get() else {
        return ENXIO.to_errno();
    };
    // SAFETY: the VFS passes a live inode and file, ours for this call.
    let (minor, flags) = unsafe { ((*inode).i_rdev & MINOR_MASK, (*file).f_flags) };
    let state = match data.open(minor, flags) {
        Ok(s) => s,
        Err(e) => return e.to_errno(),
    };
    let open = match KBox::new(Open { data, file: state }, GFP_KERNEL) {
        Ok(b) => b,
        Err(_) => return ENOMEM.to_errno(),
    };
    // SAFETY: as above; the box is taken back by `release_tramp`. A stream:
    // no positions, no seeking.
    unsafe {
        (*file).private_data = KBox::into_raw(open).cast();
        bindings::stream_open(inode, file);
    }
    0
}

/// The state of an open file.
///
/// # Safety
///
/// `file` must be a file opened by `open_tramp::<T>` and not yet released.
unsafe fn open_of<'a, T: Operations>(file: *mut bindings::file) -> (&'a Open<T>, bool) {
    // SAFETY: guaranteed by the caller: `private_data` is the box of
    // `open_tramp`, live until `release_tramp`.
    unsafe {
        let nonblock = (*file).f_flags & bindings::O_NONBLOCK != 0;
        (&*(*file).private_data.cast::<Open<T>>(), nonblock)
    }
}

/// `file_operations::read` of `FileOps<T>`.
///
/// # Safety
///
/// Called by the VFS only, on a file `open_tramp::<T>` opened and not yet
/// released, with a user buffer of `count` bytes.
unsafe extern "C" fn read_tramp<T: Operations>(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: the VFS calls `read` only on files `open_tramp` opened.
    let (open, nonblock) = unsafe { open_of::<T>(file) };
    let mut out = UserSlice::new(buf as usize, count).writer();
    match open.data.read(&open.file, &mut out, nonblock) {
        Ok(n) => n.min(count) as isize,
        Err(e) => errno(e),
    }
}

/// `file_operations::write` of `FileOps<T>`.
///
/// # Safety
///
/// As for [`read_tramp`].
unsafe extern "C" fn write_tramp<T: Operations>(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: the VFS calls `write` only on files `open_tramp` opened.
    let (open, nonblock) = unsafe { open_of::<T>(file) };
    let mut input = UserSlice::new(buf as usize, count).reader();
    match open.data.write(&open.file, &mut input, nonblock) {
        Ok(n) => n.min(count) as isize,
        Err(e) => errno(e),
    }
}

/// `file_operations::unlocked_ioctl` of `FileOps<T>`.
///
/// # Safety
///
/// Called by the VFS only, on a file `open_tramp::<T>` opened and not yet
/// released.
unsafe extern "C" fn ioctl_tramp<T: Operations>(
    file: *mut bindings::file,
    cmd: u32,
    arg: usize,
) -> isize {
    // SAFETY: the VFS calls `unlocked_ioctl` only on files `open_tramp`
    // opened, holding a reference for the call.
    let (open, _) = unsafe { open_of::<T>(file) };
    match open.data.ioctl(&open.file, cmd, arg) {
        Ok(n) => n,
        Err(e) => errno(e),
    }
}

/// `file_operations::release` of `FileOps<T>`.
///
/// # Safety
///
/// Called by the VFS only, once, when the last reference to a file
/// `open_tramp::<T>` opened goes.
unsafe extern "C" fn release_tramp<T: Operations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the last reference of a file `open_tramp` opened: nothing
    // else uses `private_data`, boxed there by `open_tramp`.
    let open = unsafe { KBox::from_raw((*file).private_data.cast::<Open<T>>()) };
    let Open { data, file } = KBox::into_inner(open);
    data.release(file);
    0
}

/// `class::devnode` of the class of `T`'s devices.
///
/// # Safety
///
/// Called by the driver core only, with a live device of that class and a
/// `mode` that is null or writable.
unsafe extern "C" fn devnode_tramp<T: Operations>(
    dev: *const bindings::device,
    mode: *mut bindings::umode_t,
) -> *mut c_char {
    if !mode.is_null() {
        // SAFETY: the driver core passes a live device of our class and,
        // when non-null, a mode to fill in.
        unsafe { *mode = T::mode((*dev).devt & MINOR_MASK) };
    }
    // The default name: the device's, with '!' turned into '/'.
    core::ptr::null_mut()
}

fn err_ptr<P>(p: *mut P) -> Result<*mut P> {
    let v = p as isize;
    if (-4095..0).contains(&v) {
        Err(Error::from_errno(v as i32))
    } else if p.is_null() {
        Err(ENOMEM)
    } else {
        Ok(p)
    }
}

/// A live set of character devices: minors `0..count` of a dynamically
/// allocated major, served by `T`, with device nodes of class `name`.
/// Dropping it removes the nodes, the class, the cdev and the region; files
/// still open keep working with their own reference to the data.
///
/// # Invariants
///
/// `region` is a chrdev region of `count` minors starting at minor
/// 0 that this struct allocated; `cdev` a `cdev_alloc` cdev added over it,
/// whose initial reference this struct holds; `class` a class it created;
/// bit `m` of `created` is set iff it created the device of minor `m`;
/// `ops.data` holds the data and `ops.registered` is set by this struct.
pub struct Registration<T: Operations> {
    ops: &'static FileOps<T>,
    region: bindings::dev_t,
    count: u32,
    cdev: *mut bindings::cdev,
    class: *mut bindings::class,
    created: KVec<u64>,
}

// SAFETY: the kernel objects may be used and released from any thread;
// `&Registration` only reads `created`.
unsafe impl<T: Operations> Send for Registration<T> {}
// SAFETY: see `Send`.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    /// Registers `count` minors (at most 2^20) served by `data` through
    /// `ops`, with device class `name`. One registration per `ops` at a time.
    pub fn new(
        ops: &'static FileOps<T>,
        name: &'static CStr,
        count: u32,
        data: Arc<T>,
    ) -> Result<Self> {
        if count == 0 || count > MINOR_MASK + 1 {
            return Err(EINVAL);
        }
        let created = KVec::from_elem(0u64, (count as usize).div_ceil(64), GFP_KERNEL)?;
        if ops.registered.swap(true, SeqCst) {
            return Err(EBUSY);
        }
        let mut region: bindings::dev_t = 0;
        // SAFETY: `region` is writable; `name` is NUL-terminated and static.
        let ret =
            unsafe { bindings::alloc_chrdev_region(&mut region, 0, count, name.as_char_ptr()) };
        if ret < 0 {
            ops.registered.store(false, SeqCst);
            return Err(Error::from_errno(ret));
        }
        let undo_region = || {
            // SAFETY: the region allocated above, released once.
            unsafe { bindings::unregister_chrdev_region(region, count) };
            ops.registered.store(false, SeqCst);
        };
        // SAFETY: plain allocation.
        let cdev = match err_ptr(unsafe { bindings::cdev_alloc() }) {
            Ok(c) => c,
            Err(e) => {
                undo_region();
                return Err(e);
            }
        };
        // SAFETY: `cdev` is a fresh cdev that only we know; `ops.fops` is
        // static. `cdev_del` also releases a cdev whose `cdev_add` failed.
        let ret = unsafe {
            (*cdev).owner = ops.fops.owner;
            (*cdev).ops = &ops.fops;
            let ret = bindings::cdev_add(cdev, region, count);
            if ret < 0 {
                bindings::cdev_del(cdev);
            }
            ret
        };
        if ret < 0 {
            undo_region();
            return Err(Error::from_errno(ret));
        }
        // SAFETY: `name` is NUL-terminated and static.
        let class = match err_ptr(unsafe { bindings::class_create(name.as_char_ptr()) }) {
            Ok(c) => c,
            Err(e) => {
                // SAFETY: the cdev added above, deleted once.
                unsafe { bindings::cdev_del(cdev) };
                undo_region();
                return Err(e);
            }
        };
        // SAFETY: the class has no device yet, so nothing reads `devnode`
        // concurrently.
        unsafe { (*class).devnode = Some(devnode_tramp::<T>) };
        ops.publish(data);
        // INVARIANT: everything above succeeded.
        Ok(Registration {
            ops,
            region,
            count,
            cdev,
            class,
            created,
        })
    }

    fn devt(&self, minor: u32) -> bindings::dev_t {
        self.region + minor
    }

    /// Whether the device node of `minor` exists.
    pub fn exists(&self, minor: u32) -> bool {
        minor < self.count && self.created[(minor / 64) as usize] & (1 << (minor % 64)) != 0
    }

    /// Creates the device of `minor` named `name` (`'!'` stands for `'/'`
    /// under `/dev`). May sleep.
    pub fn create(&mut self, minor: u32, name: fmt::Arguments<'_>) -> Result {
        if minor >= self.count {
            return Err(EINVAL);
        }
        if self.exists(minor) {
            return Err(EEXIST);
        }
        let name = CString::try_from_fmt(name)?;
        // SAFETY: `class` is live (type invariant); the format and `name`
        // are NUL-terminated, and the name is copied by the call.
        let dev = unsafe {
            bindings::device_create(
                self.class,
                core::ptr::null_mut(),
                self.devt(minor),
                core::ptr::null_mut::<c_void>(),
                kernel::c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        err_ptr(dev)?;
        // INVARIANT: the device of `minor` now exists.
        self.created[(minor / 64) as usize] |= 1 << (minor % 64);
        Ok(())
    }

    /// Removes the device of `minor`, if it exists. May sleep.
    pub fn remove(&mut self, minor: u32) {
        if !self.exists(minor) {
            return;
        }
        // SAFETY: a device this registration created in its live class.
        unsafe { bindings::device_destroy(self.class, self.devt(minor)) };
        // INVARIANT: it no longer exists.
        self.created[(minor / 64) as usize] &= !(1 << (minor % 64));
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        for minor in 0..self.count {
            self.remove(minor);
        }
        // SAFETY: by the type invariant, each released once, devices first.
        unsafe {
            bindings::class_destroy(self.class);
            bindings::cdev_del(self.cdev);
        }
        // Openers through a stale inode now get ENXIO.
        self.ops.withdraw();
        // SAFETY: the region of the type invariant, no longer mapped.
        unsafe { bindings::unregister_chrdev_region(self.region, self.count) };
        self.ops.registered.store(false, SeqCst);
    }
}
