// SPDX-License-Identifier: GPL-2.0-only
//! The core-kernel hooks of the patch series (`<linux/ssi.h>`).

use kernel::{error::Error, prelude::*};

mod ffi {
    extern "C" {
        pub fn ssi_pid_set_node(node: u32) -> i32;
    }
}

/// Makes this node allocate new PIDs from its own range (0: the usual
/// allocation); see `SSI_PID_SHIFT` in `<linux/ssi.h>`.
pub fn set_pid_node(node: u32) -> Result {
    // SAFETY: a plain setter with a range check; no pointers.
    let ret = unsafe { ffi::ssi_pid_set_node(node) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// `SSI_PID_SHIFT`: node K owns PIDs `[K << 14, (K + 1) << 14)`.
pub const PID_SHIFT: u32 = 14;

/// Delivers `k` to a local process or process group with `kill(2)`'s
/// permission checks made against the sender's credentials.
pub fn kill_local(k: &kernel::bindings::ssi_kill) -> Result {
    // SAFETY: `k` is a valid `struct ssi_kill` for the call.
    let ret = unsafe { kernel::bindings::ssi_kill_local(k) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Writes file `file` (an `enum ssi_task_file` index) of `/proc/<nr>` of a
/// local process into `buf`; returns the bytes written. `cmdline` and
/// `environ` are cut at `buf`'s length, the others refused (`EOVERFLOW`).
pub fn task_read(nr: u32, file: usize, buf: &mut [u8]) -> Result<usize> {
    let nr = i32::try_from(nr).map_err(|_| EINVAL)?;
    let file = u32::try_from(file).map_err(|_| EINVAL)?;
    // SAFETY: `buf` is writable for its length; the kernel checks `nr` and
    // `file`.
    let ret =
        unsafe { kernel::bindings::ssi_task_read(nr, file, buf.as_mut_ptr().cast(), buf.len()) };
    if ret < 0 {
        return Err(Error::from_errno(ret as i32));
    }
    usize::try_from(ret)
        .ok()
        .filter(|&n| n <= buf.len())
        .ok_or(EINVAL)
}
