// SPDX-License-Identifier: GPL-2.0-only
//! Address spaces for checkpoints: walking a process's areas, and
//! rebuilding the current one (unmap, map, write pages).

use super::{file::File, task::TaskRef};
use kernel::{bindings, error::Error, prelude::*, uaccess::UserSlice};

pub use bindings::ssi_ghost_mm as Layout;
pub use bindings::ssi_ghost_vma as VmaInfo;

/// `vm_flags` bits.
pub const VM_READ: u64 = 0x1;
pub const VM_WRITE: u64 = 0x2;
pub const VM_EXEC: u64 = 0x4;
pub const VM_SHARED: u64 = 0x8;
pub const VM_MAYWRITE: u64 = 0x20;
/// A `MAP_SHARED` mapping, writable or not (`VM_SHARED` is cleared for a
/// file opened read-only, as `shmat(SHM_RDONLY)` does).
pub const VM_MAYSHARE: u64 = 0x80;
pub const VM_GROWSDOWN: u64 = 0x100;
pub const VM_PFNMAP: u64 = 0x400;
pub const VM_IO: u64 = 0x4000;

/// `VmaInfo::kind` bits.
pub const KIND_FILE: u32 = bindings::SSI_GHOST_VMA_FILE;
pub const KIND_ANON: u32 = bindings::SSI_GHOST_VMA_ANON;
pub const KIND_SPECIAL: u32 = bindings::SSI_GHOST_VMA_SPECIAL;
pub const KIND_VDSO: u32 = bindings::SSI_GHOST_VMA_VDSO;
pub const KIND_VVAR: u32 = bindings::SSI_GHOST_VMA_VVAR;
pub const KIND_SHMEM: u32 = bindings::SSI_GHOST_VMA_SHMEM;

/// End of the user address space (`TASK_SIZE` on x86_64, 47 bits).
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

const FOLL_WRITE: u32 = 1 << 0;
const FOLL_FORCE: u32 = 1 << 3;

/// An address space.
///
/// # Invariants
///
/// `ptr` is a live mm: either one this struct holds a user
/// reference on (`owned`, given back by `drop`), or the current task's,
/// used only by the current task while it runs.
pub struct Mm {
    ptr: *mut bindings::mm_struct,
    owned: bool,
}

impl Mm {
    /// `task`'s address space (`None` for a kernel thread or an exiting
    /// task).
    pub fn of(task: &TaskRef) -> Option<Self> {
        // SAFETY: `task` is live; the result is a counted mm or null.
        let ptr = unsafe { bindings::ssi_ghost_get_mm(task.as_ptr()) };
        // INVARIANT: a counted reference. Built only if not null: `then_some`
        // would build (and drop, putting a null mm) it either way.
        (!ptr.is_null()).then(|| Mm { ptr, owned: true })
    }

    /// The current task's address space.
    pub fn current() -> Option<Self> {
        // SAFETY: reads `current->mm`.
        let ptr = unsafe { bindings::ssi_ghost_current_mm() };
        // INVARIANT: the current task's mm, which lives as long as it runs.
        (!ptr.is_null()).then(|| Mm { ptr, owned: false })
    }

    /// The first area that ends above `addr`, its file's path in `path`
    /// (`info.path_len` bytes): `None` when there is none.
    pub fn vma_from(&self, addr: u64, path: &mut [u8]) -> Result<Option<VmaInfo>> {
        let mut v = VmaInfo::default();
        let size = u32::try_from(path.len()).map_err(|_| EINVAL)?;
        // SAFETY: `ptr` is live (type invariant); `path` is writable for
        // `size` bytes, `v` is writable.
        let ret = unsafe {
            bindings::ssi_ghost_vma_find(
                self.ptr,
                addr as _,
                &mut v,
                path.as_mut_ptr().cast(),
                size,
            )
        };
        match ret {
            0 => Ok(Some(v)),
            r if r == ENOENT.to_errno() => Ok(None),
            r => Err(Error::from_errno(r)),
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::mm_struct {
        self.ptr
    }

    pub fn layout(&self) -> Layout {
        let mut l = Layout::default();
        // SAFETY: `ptr` is live; `l` is writable.
        unsafe { bindings::ssi_ghost_mm_get(self.ptr, &mut l) };
        l
    }
}

impl Drop for Mm {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: gives back the reference of `of`, once.
            unsafe { bindings::ssi_ghost_put_mm(self.ptr) };
        }
    }
}

/// A task's address space held with a user reference (its pages stay),
/// usable from any thread.
///
/// # Invariants
///
/// the `Mm` is an owned one (`Mm::of`).
pub struct SharedMm(Mm);

// SAFETY: the reference is atomic and `read` takes the mm's own locks.
unsafe impl Send for SharedMm {}
// SAFETY: as above.
unsafe impl Sync for SharedMm {}

impl SharedMm {
    /// `task`'s address space.
    pub fn of(task: &TaskRef) -> Option<Self> {
        // INVARIANT: `Mm::of` returns an owned reference.
        Mm::of(task).map(SharedMm)
    }

    /// Reads `buf.len()` bytes at `addr`, as ptrace does.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result {
        let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: the mm is held with a user reference (type invariant);
        // `buf` is writable for `len` bytes.
        let n = unsafe {
            bindings::ssi_remote_read(self.0.ptr, addr as _, buf.as_mut_ptr().cast(), len)
        };
        if n != len {
            return Err(EFAULT);
        }
        Ok(())
    }
}

/// Sets the current mm's layout fields (brk, stack, arguments).
pub fn set_layout(l: &Layout) {
    // SAFETY: `l` is readable; acts on the current mm.
    unsafe { bindings::ssi_ghost_mm_set(l) };
}

/// Whether the current task is alone in its mm (no thread, no other user).
pub fn current_alone() -> bool {
    // SAFETY: reads the current task's counters.
    unsafe { bindings::ssi_ghost_alone() }
}

/// Unmaps `[start, end)` of the current mm.
pub fn unmap(start: u64, end: u64) -> Result {
    let len = end.checked_sub(start).ok_or(EINVAL)?;
    // SAFETY: acts on the current mm with plain values.
    let ret = unsafe { bindings::vm_munmap(start as _, len as _) };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

fn mapped(ret: u64, want: u64) -> Result {
    let v = ret as i64;
    if (-4095..0).contains(&v) {
        Err(Error::from_errno(v as i32))
    } else if ret != want {
        Err(EFAULT)
    } else {
        Ok(())
    }
}

/// `mmap(start, len, prot, MAP_FIXED | flags, file, offset)` in the current
/// mm; `flags` holds `MAP_PRIVATE` or `MAP_SHARED` and maybe
/// `MAP_ANONYMOUS`, `MAP_GROWSDOWN`.
pub fn map(file: Option<&File>, start: u64, len: u64, prot: u32, flags: u32, off: u64) -> Result {
    let f = file.map_or(core::ptr::null_mut(), |f| f.as_ptr());
    let flags = flags | bindings::MAP_FIXED;
    // SAFETY: `f` is null or an open file held by the caller for the call
    // (the mapping takes its own reference); acts on the current mm.
    let ret =
        unsafe { bindings::vm_mmap(f, start as _, len as _, prot as _, flags as _, off as _) };
    mapped(ret as u64, start)
}

/// Maps `[start, start + len)` as the brk heap of the current mm, as the
/// ELF loader does, so that later `brk()` calls extend it.
pub fn map_brk(start: u64, len: u64) -> Result {
    // SAFETY: acts on the current mm with plain values.
    let ret = unsafe { bindings::vm_brk_flags(start as _, len as _, 0) };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// Copies `data` to `addr` of the current mm; areas that are not writable
/// (read-only private copies, PROT_NONE) are written as ptrace does.
pub fn write_pages(addr: u64, data: &[u8], writable: bool) -> Result {
    if writable {
        return UserSlice::new(addr as usize, data.len())
            .writer()
            .write_slice(data);
    }
    let len = i32::try_from(data.len()).map_err(|_| EINVAL)?;
    // SAFETY: `data` is readable for `len` bytes; the call does not write
    // it (FOLL_WRITE writes to the target); acts on the current task.
    let n = unsafe {
        bindings::access_process_vm(
            bindings::get_current(),
            addr as _,
            data.as_ptr().cast_mut().cast(),
            len,
            FOLL_WRITE | FOLL_FORCE,
        )
    };
    if n != len {
        return Err(EFAULT);
    }
    Ok(())
}

/// Reads `buf.len()` bytes at `addr` of the current mm, as ptrace does
/// where it is not readable; returns how many it read.
fn read_forced(addr: u64, buf: &mut [u8]) -> Result<usize> {
    if UserSlice::new(addr as usize, buf.len())
        .reader()
        .read_slice(buf)
        .is_ok()
    {
        return Ok(buf.len());
    }
    let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
    // SAFETY: `buf` is writable for `len` bytes; reads the current task's
    // memory, even where it is not readable, as ptrace does.
    let n = unsafe {
        bindings::access_process_vm(
            bindings::get_current(),
            addr as _,
            buf.as_mut_ptr().cast(),
            len,
            FOLL_FORCE,
        )
    };
    Ok(usize::try_from(n).unwrap_or(0).min(buf.len()))
}

/// Touches (reads a byte of) the page at `addr` of the current mm, as
/// ptrace would where it is not readable: the page is mapped afterwards.
pub fn touch(addr: u64) -> Result {
    match read_forced(addr, &mut [0u8; 1])? {
        1 => Ok(()),
        _ => Err(EFAULT),
    }
}

/// Reads `buf.len()` bytes at `addr` of the current mm; what cannot be read
/// (beyond the end of a mapped file) reads as zero.
pub fn read_pages(addr: u64, buf: &mut [u8]) -> Result {
    let got = read_forced(addr, buf)?;
    buf[got..].fill(0);
    Ok(())
}
