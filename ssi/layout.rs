// SPDX-License-Identifier: GPL-2.0-only
//! bindgen's layout of the kernel structures the modules read through
//! `kernel::bindings`, checked against clang's (`layout.h`) at build time:
//! a bindgen that places a field elsewhere fails the build of `ssi.ko`
//! instead of reading the wrong word at run time.

use core::mem::{offset_of, size_of};
use kernel::bindings as b;

/// `layout.h` (generated, `Kbuild`).
#[path = "../rust/layout_generated.rs"]
#[rustfmt::skip]
mod c;

/// Fails the build unless bindgen's `$rust` equals clang's `$c`.
macro_rules! same {
    ($rust:expr, $c:ident) => {
        const _: () = assert!(
            $rust == c::$c as usize,
            concat!("bindgen's layout differs from clang's: ", stringify!($c))
        );
    };
}

same!(
    size_of::<b::task_struct>(),
    ssi_layout_SSI_LAYOUT_TASK_STRUCT
);
same!(
    offset_of!(b::task_struct, __state),
    ssi_layout_SSI_LAYOUT_TASK_STATE
);
same!(
    offset_of!(b::task_struct, flags),
    ssi_layout_SSI_LAYOUT_TASK_FLAGS
);
same!(
    offset_of!(b::task_struct, se),
    ssi_layout_SSI_LAYOUT_TASK_SE
);
same!(
    offset_of!(b::task_struct, pid),
    ssi_layout_SSI_LAYOUT_TASK_PID
);
same!(
    offset_of!(b::task_struct, group_leader),
    ssi_layout_SSI_LAYOUT_TASK_GROUP_LEADER
);
same!(
    offset_of!(b::task_struct, signal),
    ssi_layout_SSI_LAYOUT_TASK_SIGNAL
);
same!(size_of::<b::file>(), ssi_layout_SSI_LAYOUT_FILE);
same!(offset_of!(b::file, f_op), ssi_layout_SSI_LAYOUT_FILE_F_OP);
same!(
    offset_of!(b::file, f_flags),
    ssi_layout_SSI_LAYOUT_FILE_F_FLAGS
);
same!(
    offset_of!(b::file, f_mode),
    ssi_layout_SSI_LAYOUT_FILE_F_MODE
);
same!(offset_of!(b::file, f_pos), ssi_layout_SSI_LAYOUT_FILE_F_POS);
same!(
    offset_of!(b::file, f_path),
    ssi_layout_SSI_LAYOUT_FILE_F_PATH
);
same!(
    offset_of!(b::file, f_inode),
    ssi_layout_SSI_LAYOUT_FILE_F_INODE
);
same!(size_of::<b::inode>(), ssi_layout_SSI_LAYOUT_INODE);
same!(
    offset_of!(b::inode, i_mode),
    ssi_layout_SSI_LAYOUT_INODE_I_MODE
);
same!(
    offset_of!(b::inode, i_size),
    ssi_layout_SSI_LAYOUT_INODE_I_SIZE
);
same!(
    offset_of!(b::class, devnode),
    ssi_layout_SSI_LAYOUT_CLASS_DEVNODE
);
same!(offset_of!(b::socket, ops), ssi_layout_SSI_LAYOUT_SOCKET_OPS);
same!(
    offset_of!(b::proto_ops, setsockopt),
    ssi_layout_SSI_LAYOUT_PROTO_OPS_SETSOCKOPT
);
same!(size_of::<b::msghdr>(), ssi_layout_SSI_LAYOUT_MSGHDR);
same!(
    offset_of!(b::msghdr, __bindgen_anon_1),
    ssi_layout_SSI_LAYOUT_MSGHDR_MSG_CONTROL
);
