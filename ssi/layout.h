/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The layout clang gives the kernel structures whose fields the modules
 * read through kernel::bindings, as constants: ssi/layout.rs checks
 * bindgen's Rust structures against them when ssi.ko is built. bindgen
 * 0.73.0 pads before a cache-line aligned member wrongly (struct
 * task_struct comes out 128 bytes too long, every field after `se` 64
 * bytes off) and the kernel's own Rust code reads such fields too.
 */
#ifndef SSI_RS_LAYOUT_H
#define SSI_RS_LAYOUT_H

#include <linux/device/class.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/sched.h>
#include <linux/socket.h>
#include <linux/stddef.h>

enum ssi_layout {
	SSI_LAYOUT_TASK_STRUCT = sizeof(struct task_struct),
	SSI_LAYOUT_TASK_STATE = offsetof(struct task_struct, __state),
	SSI_LAYOUT_TASK_FLAGS = offsetof(struct task_struct, flags),
	SSI_LAYOUT_TASK_SE = offsetof(struct task_struct, se),
	SSI_LAYOUT_TASK_PID = offsetof(struct task_struct, pid),
	SSI_LAYOUT_TASK_GROUP_LEADER = offsetof(struct task_struct, group_leader),
	SSI_LAYOUT_TASK_SIGNAL = offsetof(struct task_struct, signal),
	SSI_LAYOUT_FILE = sizeof(struct file),
	SSI_LAYOUT_FILE_F_OP = offsetof(struct file, f_op),
	SSI_LAYOUT_FILE_F_FLAGS = offsetof(struct file, f_flags),
	SSI_LAYOUT_FILE_F_MODE = offsetof(struct file, f_mode),
	SSI_LAYOUT_FILE_F_POS = offsetof(struct file, f_pos),
	SSI_LAYOUT_FILE_F_PATH = offsetof(struct file, f_path),
	SSI_LAYOUT_FILE_F_INODE = offsetof(struct file, f_inode),
	SSI_LAYOUT_INODE = sizeof(struct inode),
	SSI_LAYOUT_INODE_I_MODE = offsetof(struct inode, i_mode),
	SSI_LAYOUT_INODE_I_SIZE = offsetof(struct inode, i_size),
	SSI_LAYOUT_CLASS_DEVNODE = offsetof(struct class, devnode),
	SSI_LAYOUT_SOCKET_OPS = offsetof(struct socket, ops),
	SSI_LAYOUT_PROTO_OPS_SETSOCKOPT = offsetof(struct proto_ops, setsockopt),
	SSI_LAYOUT_MSGHDR = sizeof(struct msghdr),
	SSI_LAYOUT_MSGHDR_MSG_CONTROL = offsetof(struct msghdr, msg_control),
};

#endif /* SSI_RS_LAYOUT_H */
