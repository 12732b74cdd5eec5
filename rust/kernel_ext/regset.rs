// SPDX-License-Identifier: GPL-2.0-only
//! The current task's user-mode CPU state: general registers (with the fs
//! and gs bases), FPU/extended state, and the vDSO's place.

use kernel::{bindings, error::Error, prelude::*};

fn check(ret: i32) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// `struct user_regs_struct` of the current task, as 27 words.
pub fn regs() -> [u64; 27] {
    let mut r = bindings::user_regs_struct::default();
    // SAFETY: `r` is writable; reads the current task's registers.
    unsafe { bindings::ssi_user_regs_get(&mut r) };
    const _: () = assert!(core::mem::size_of::<bindings::user_regs_struct>() == 27 * 8);
    // SAFETY: `user_regs_struct` is 27 `unsigned long`s (checked above),
    // any bit pattern of which is a valid `u64`.
    unsafe { core::mem::transmute::<bindings::user_regs_struct, [u64; 27]>(r) }
}

/// Makes the current task, inside a system call, return to user mode with
/// `regs` (27 words of `user_regs_struct`). Nothing changes on error.
pub fn set_regs(regs: &[u64; 27]) -> Result {
    // SAFETY: as in `regs`, the two types have the same size and layout.
    let r = unsafe { core::mem::transmute::<[u64; 27], bindings::user_regs_struct>(*regs) };
    // SAFETY: `r` is readable; acts on the current task.
    check(unsafe { bindings::ssi_user_regs_set(&r) })
}

/// Size of the FPU state's user ABI (XSAVE) image on this machine.
pub fn fpu_size() -> usize {
    // SAFETY: reads a constant of the boot CPU.
    unsafe { bindings::ssi_fpu_user_size() as usize }
}

/// The current task's FPU state into `buf` ([`fpu_size`] bytes).
pub fn fpu(buf: &mut [u8]) -> Result {
    let n = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
    // SAFETY: `buf` is writable for `n` bytes.
    check(unsafe { bindings::ssi_fpu_get(buf.as_mut_ptr().cast(), n) })
}

/// Loads `buf` into the current task's FPU state; an invalid image (size,
/// features this CPU lacks, reserved bits) changes nothing.
pub fn set_fpu(buf: &[u8]) -> Result {
    let n = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
    // SAFETY: `buf` is readable for `n` bytes.
    check(unsafe { bindings::ssi_fpu_set(buf.as_ptr().cast(), n) })
}

/// Maps this kernel's vDSO with its vvar area at `vvar` in the current mm,
/// which must have none; returns where the vDSO text landed.
pub fn map_vdso(vvar: u64) -> Result<u64> {
    let mut vdso = 0;
    // SAFETY: `vdso` is writable; acts on the current mm.
    check(unsafe { bindings::ssi_map_vdso(vvar as _, &mut vdso) })?;
    Ok(vdso as u64)
}
