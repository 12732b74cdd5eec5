// SPDX-License-Identifier: GPL-2.0-only
//! The address space layout between the kernel's form (`mm::Layout`) and
//! the stream's (`MmLayout`).

use crate::kernel_ext::mm::Layout;
use crate::proto::ghost::MmLayout;

impl From<&Layout> for MmLayout {
    fn from(l: &Layout) -> Self {
        MmLayout {
            start_code: l.start_code,
            end_code: l.end_code,
            start_data: l.start_data,
            end_data: l.end_data,
            start_brk: l.start_brk,
            brk: l.brk,
            start_stack: l.start_stack,
            arg_start: l.arg_start,
            arg_end: l.arg_end,
            env_start: l.env_start,
            env_end: l.env_end,
        }
    }
}

impl From<&MmLayout> for Layout {
    fn from(l: &MmLayout) -> Self {
        Layout {
            start_code: l.start_code,
            end_code: l.end_code,
            start_data: l.start_data,
            end_data: l.end_data,
            start_brk: l.start_brk,
            brk: l.brk,
            start_stack: l.start_stack,
            arg_start: l.arg_start,
            arg_end: l.arg_end,
            env_start: l.env_start,
            env_end: l.env_end,
        }
    }
}
