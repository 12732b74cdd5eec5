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
