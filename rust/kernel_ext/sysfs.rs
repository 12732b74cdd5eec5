// SPDX-License-Identifier: GPL-2.0-only
//! Directories of text attributes under `/sys/kernel/`.

use core::{fmt, ptr};
use kernel::ffi::c_char;
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::{code::ENOMEM, Result},
    str::CStr,
    sync::Arc,
};

/// The output of a `show` callback: at most one page of text.
pub struct ShowBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> ShowBuf<'a> {
    /// Wraps an empty buffer.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for ShowBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Reads the attribute of context `T` into the buffer.
pub type ShowFn<T> = fn(&T, &mut ShowBuf<'_>) -> Result;
/// Applies bytes written to the attribute; an error must leave state unchanged.
pub type StoreFn<T> = fn(&T, &[u8]) -> Result;

/// One file of a [`SysfsDir`] whose callbacks see a `&T`.
pub struct Attribute<T: 'static> {
    name: &'static CStr,
    show: Option<ShowFn<T>>,
    store: Option<StoreFn<T>>,
}

impl<T> Attribute<T> {
    /// A file readable by everyone (0444).
    pub const fn ro(name: &'static CStr, show: ShowFn<T>) -> Self {
        Self {
            name,
            show: Some(show),
            store: None,
        }
    }

    /// A file readable by everyone, writable by root (0644).
    pub const fn rw(name: &'static CStr, show: ShowFn<T>, store: StoreFn<T>) -> Self {
        Self {
            name,
            show: Some(show),
            store: Some(store),
        }
    }

    /// A file writable by root only (0200).
    pub const fn wo(name: &'static CStr, store: StoreFn<T>) -> Self {
        Self {
            name,
            show: None,
            store: Some(store),
        }
    }

    fn mode(&self) -> u16 {
        match (self.show.is_some(), self.store.is_some()) {
            (true, true) => 0o644,
            (true, false) => 0o444,
            (false, _) => 0o200,
        }
    }
}

/// A registered attribute: `kattr` is what sysfs hands back to the trampolines.
#[repr(C)]
struct Slot<T: 'static> {
    kattr: bindings::kobj_attribute,
    attr: &'static Attribute<T>,
    ctx: *const T,
}

/// `sysfs_ops::show` of a [`SysfsDir<T>`].
///
/// # Safety
///
/// Called by sysfs only, for an attribute of a live `SysfsDir<T>`, with a
/// buffer of `PAGE_SIZE` bytes.
unsafe extern "C" fn show_trampoline<T: 'static>(
    _kobj: *mut bindings::kobject,
    kattr: *mut bindings::kobj_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: sysfs only calls this for attributes of a live `SysfsDir`, whose
    // `kobj_attribute`s are the first field of a `#[repr(C)]` `Slot`.
    let slot = unsafe { &*kattr.cast::<Slot<T>>() };
    // SAFETY: `ctx` points into the `Arc` the `SysfsDir` holds until the
    // group is removed, and removal waits for running callbacks.
    let ctx = unsafe { &*slot.ctx };
    // SAFETY: sysfs passes a zeroed buffer of `PAGE_SIZE` bytes that nothing
    // else uses during the call.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), bindings::PAGE_SIZE) };
    let Some(show) = slot.attr.show else {
        return kernel::error::code::EIO.to_errno() as isize;
    };
    let mut out = ShowBuf::new(page);
    match show(ctx, &mut out) {
        Ok(()) => out.as_bytes().len() as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `sysfs_ops::store` of a [`SysfsDir<T>`].
///
/// # Safety
///
/// Called by sysfs only, for an attribute of a live `SysfsDir<T>`, with
/// `count` readable bytes.
unsafe extern "C" fn store_trampoline<T: 'static>(
    _kobj: *mut bindings::kobject,
    kattr: *mut bindings::kobj_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: as in `show_trampoline`.
    let slot = unsafe { &*kattr.cast::<Slot<T>>() };
    // SAFETY: as in `show_trampoline`.
    let ctx = unsafe { &*slot.ctx };
    // SAFETY: sysfs passes `count` readable bytes at `buf` for the call.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    let Some(store) = slot.attr.store else {
        return kernel::error::code::EIO.to_errno() as isize;
    };
    match store(ctx, input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// The directory `/sys/kernel/<name>/` and its attributes; removed on drop.
///
/// Callbacks run concurrently with each other and with drop's removal
/// draining them, so they must synchronise the state they touch.
///
/// # Invariants
///
/// `kobj` came from `kobject_create_and_add` and holds the one
/// reference this struct owns; `group` is registered on it and points into
/// `ptrs` and `slots`, which are neither moved nor changed until drop has
/// removed the group.
pub struct SysfsDir<T: Send + Sync + 'static> {
    kobj: *mut bindings::kobject,
    group: KBox<bindings::attribute_group>,
    ptrs: KVec<*mut bindings::attribute>,
    slots: KVec<KBox<Slot<T>>>,
    ctx: Arc<T>,
}

// SAFETY: the kobject is reference counted and sysfs serialises its own
// updates; the other fields are never changed after `new`, and `T` is
// `Send + Sync`.
unsafe impl<T: Send + Sync> Send for SysfsDir<T> {}
// SAFETY: `&SysfsDir` exposes no methods that touch shared state.
unsafe impl<T: Send + Sync> Sync for SysfsDir<T> {}

/// A directory another module made, in which a [`SysfsDir`] may be made.
///
/// # Invariants
///
/// `kobj` is a live kobject that outlives every `SysfsDir` made
/// in it.
#[derive(Clone, Copy)]
pub struct SysfsParent {
    kobj: *mut bindings::kobject,
}

extern "C" {
    /// Exported by `ssi.ko` (ssi/api.rs).
    fn ssi_sysfs_dir() -> *mut bindings::kobject;
}

impl SysfsParent {
    /// `/sys/kernel/ssi`, for a module that depends on `ssi.ko`.
    pub fn ssi() -> Option<Self> {
        // SAFETY: reads an atomic pointer; no preconditions.
        let kobj = unsafe { ssi_sysfs_dir() };
        // INVARIANT: the directory lives while `ssi.ko` is loaded, which
        // the module loader keeps so while a module that calls this is.
        (!kobj.is_null()).then_some(SysfsParent { kobj })
    }

    /// # Safety
    ///
    /// `kobj` is live and outlives every directory made in it.
    pub unsafe fn from_raw(kobj: *mut bindings::kobject) -> Self {
        // INVARIANT: by the caller's contract.
        SysfsParent { kobj }
    }
}

impl<T: Send + Sync + 'static> SysfsDir<T> {
    /// Creates `/sys/kernel/<name>/` holding `attrs`, whose callbacks see `ctx`.
    pub fn new(name: &'static CStr, attrs: &'static [Attribute<T>], ctx: Arc<T>) -> Result<Self> {
        // SAFETY: `kernel_kobj` is set once at boot and never changed or freed.
        let parent = unsafe { SysfsParent::from_raw(bindings::kernel_kobj) };
        Self::new_in(parent, name, attrs, ctx)
    }

    /// This directory's kobject, for [`SysfsParent::from_raw`].
    pub fn kobj(&self) -> *mut bindings::kobject {
        self.kobj
    }

    /// Creates `<parent>/<name>/` holding `attrs`, whose callbacks see `ctx`.
    pub fn new_in(
        parent: SysfsParent,
        name: &'static CStr,
        attrs: &'static [Attribute<T>],
        ctx: Arc<T>,
    ) -> Result<Self> {
        let mut slots = KVec::with_capacity(attrs.len(), GFP_KERNEL)?;
        let mut ptrs = KVec::with_capacity(attrs.len() + 1, GFP_KERNEL)?;
        for attr in attrs {
            // SAFETY: all-zero is a valid `kobj_attribute` (null name, no callbacks).
            let mut kattr: bindings::kobj_attribute = unsafe { core::mem::zeroed() };
            kattr.attr.name = attr.name.as_char_ptr();
            kattr.attr.mode = attr.mode();
            kattr.show = attr.show.map(|_| show_trampoline::<T> as _);
            kattr.store = attr.store.map(|_| store_trampoline::<T> as _);
            let ctx_ptr: *const T = &*ctx;
            let mut slot = KBox::new(
                Slot {
                    kattr,
                    attr,
                    ctx: ctx_ptr,
                },
                GFP_KERNEL,
            )?;
            ptrs.push(ptr::addr_of_mut!(slot.kattr.attr), GFP_KERNEL)?;
            slots.push(slot, GFP_KERNEL)?;
        }
        ptrs.push(ptr::null_mut(), GFP_KERNEL)?;
        // SAFETY: all-zero is a valid, empty `attribute_group`.
        let empty: bindings::attribute_group = unsafe { core::mem::zeroed() };
        let mut group = KBox::new(empty, GFP_KERNEL)?;
        group.attrs = ptrs.as_mut_ptr();

        // SAFETY: `parent` is live (its invariant); `name` is a
        // NUL-terminated string that outlives the call (it is copied).
        let kobj = unsafe { bindings::kobject_create_and_add(name.as_char_ptr(), parent.kobj) };
        if kobj.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `kobj` is live; `group` and the attributes it points to stay
        // allocated and unmoved until drop removes the group.
        let ret = unsafe { bindings::sysfs_create_group(kobj, &*group) };
        if ret != 0 {
            // SAFETY: drops the only reference, taken just above.
            unsafe { bindings::kobject_put(kobj) };
            return Err(kernel::error::Error::from_errno(ret));
        }
        // INVARIANT: the group is registered with storage owned by `Self`.
        Ok(Self {
            kobj,
            group,
            ptrs,
            slots,
            ctx,
        })
    }
}

impl<T: Send + Sync + 'static> Drop for SysfsDir<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the group is registered on the live
        // `kobj`. Removal waits for running callbacks, so nothing uses
        // `slots` afterwards; then the one owned reference is dropped.
        unsafe {
            bindings::sysfs_remove_group(self.kobj, &*self.group);
            bindings::kobject_put(self.kobj);
        }
    }
}
