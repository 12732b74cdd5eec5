// SPDX-License-Identifier: GPL-2.0-only
//! What `ssi-checkpoint`, `ssi-restart` and `ssi-migrate` share: raw system calls (no
//! libc crate), the ioctls of `/dev/ssi/ghost`, and the refusal messages.
//! The ioctls' numbers, argument blocks and reasons are the module's own
//! (`rust/proto/src/ghost_ioctl.rs`); the ABI is documented in
//! Documentation/ssi/ghost.rst.

use std::io;

pub const DEVICE: &str = "/dev/ssi/ghost";

pub use ssi_proto::ghost_ioctl::{
    DumpArg, GetFdArg, MigrateArg, Reason, RestoreArg, DUMP_STOP, FD_DETAIL, IOC_DUMP, IOC_GETFD,
    IOC_MAY_MIGRATE, IOC_MIGRATE, IOC_RESTORE_MIGRATED, IOC_RESTORE_SELF,
};

pub const SYS_CLOSE: usize = 3;
pub const SYS_GETEUID: usize = 107;
pub const SYS_MMAP: usize = 9;
pub const SYS_RT_SIGPROCMASK: usize = 14;
pub const SYS_IOCTL: usize = 16;
pub const SYS_DUP2: usize = 33;
pub const SYS_WAIT4: usize = 61;
pub const SYS_EXIT_GROUP: usize = 231;
pub const SYS_CLONE3: usize = 435;

/// A raw system call; returns the kernel's value (negative errno on error).
///
/// # Safety
///
/// The arguments must be valid for system call `n`.
pub unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 system call convention; the caller vouches for
    // the arguments.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

pub fn check(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// `RLIMIT_*` names, in resource order.
const RLIMIT_NAMES: [&str; 16] = [
    "CPU",
    "FSIZE",
    "DATA",
    "STACK",
    "CORE",
    "RSS",
    "NPROC",
    "NOFILE",
    "MEMLOCK",
    "AS",
    "LOCKS",
    "SIGPENDING",
    "MSGQUEUE",
    "NICE",
    "RTPRIO",
    "RTTIME",
];

/// Why the kernel refused (the `reason` and `detail` of the ioctls).
pub fn reason_text(reason: Reason, detail: u64) -> String {
    use Reason::*;
    match reason {
        Threads => format!("it has {detail} threads; only sequential processes can be checkpointed"),
        Pipe => format!(
            "it holds a pipe (fd {detail}) that cannot be carried: a checkpoint, both of its ends leaving their node, or no ssi_dynstreams"
        ),
        Socket => format!(
            "it holds a socket (fd {detail}): only a connected UNIX stream socket migrates"
        ),
        OtherFile => format!(
            "fd {detail} is neither a regular file nor a character device (eventfd, epoll, directory...)"
        ),
        SharedMapping => format!("it has a shared writable mapping at {detail:#x}"),
        SharedMemory => format!(
            "it uses shared memory that cannot be carried at {detail:#x}: memfd or shared \
             anonymous memory, a SysV segment in a checkpoint, one not shared across the \
             cluster (made before ssi_containers loaded, over 16 MiB), or one not mapped whole \
             as shmat() mapped it"
        ),
        KernelThread => "it is a kernel thread".into(),
        Stopped => "it is stopped or traced; continue it first".into(),
        OwnProcess => "a process cannot checkpoint itself".into(),
        DeviceMapping => format!("it maps device memory at {detail:#x}"),
        BadStream => format!("the checkpoint file is malformed or truncated (at byte {detail})"),
        OtherPid => format!("the checkpoint is of PID {detail}, not of the restoring process"),
        MissingFile if detail & FD_DETAIL != 0 => format!(
            "open file fd {} cannot be reopened on this node (its path is missing here, its \
             node is gone, or its user may not open it)",
            detail & 0xffff_ffff
        ),
        MissingFile => format!("a file mapped at {detail:#x} is missing on this node"),
        Fpu => "its FPU state does not fit this CPU".into(),
        Migrated => {
            format!("it runs on node {detail} (this node keeps its stub); migrate it from there")
        }
        NoMigrate => "its migration is forbidden (ssi-migrate --forbid; root can --allow it)".into(),
        MissingDir => format!(
            "its {} directory is missing on this node (or has no path: removed)",
            if detail == 1 { "root" } else { "working" }
        ),
        Rlimit => format!(
            "this node refuses its resource limit {detail} ({}){}",
            RLIMIT_NAMES.get(detail as usize).copied().unwrap_or("?"),
            if detail == 7 {
                ", or it has an fd at or above its hard limit of open files"
            } else {
                ""
            }
        ),
        Untrusted => match detail {
            1 => "the checkpoint file is open for writing somewhere; close it first".into(),
            2 => "this node has no ghost key: write the cluster's key to /sys/kernel/ssi/ghost/key".into(),
            _ => "the checkpoint file is not trusted: its MAC is wrong (it was changed since it \
                  was written, or written by a cluster with another key)"
                .into(),
        },
        Seccomp => format!(
            "it runs under seccomp ({}), which cannot be carried",
            if detail == 1 { "strict mode" } else { "a filter" }
        ),
        UserNamespace => {
            "it is in a user namespace other than the initial one, which cannot be carried".into()
        }
        Groups => format!("it has {detail} supplementary groups; at most 1024 can be carried"),
        Changed => "it ran execve() or changed its credentials after the permission check".into(),
        SemUndo => "it has SysV semaphore undo adjustments (SEM_UNDO), which would be applied on \
                    the node it leaves"
            .into(),
        None => String::new(),
    }
}

/// Calls `ioctl(fd, cmd, arg)` on an argument block of the size `cmd`
/// encodes.
pub fn ioctl<const N: usize>(fd: i32, cmd: u32, arg: &mut [u8; N]) -> isize {
    // SAFETY: `arg` is valid for the N bytes the command reads and writes.
    unsafe {
        syscall(
            SYS_IOCTL,
            [
                fd as usize,
                cmd as usize,
                arg.as_mut_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    }
}

/// Sets the signal mask to `mask`; returns the previous one.
pub fn set_signal_mask(mask: u64) -> io::Result<u64> {
    let mut old: u64 = 0;
    // SAFETY: both sets are 8 bytes and valid for the call.
    let r = unsafe {
        syscall(
            SYS_RT_SIGPROCMASK,
            [
                2,
                &mask as *const u64 as usize,
                &mut old as *mut u64 as usize,
                8,
                0,
                0,
            ],
        )
    };
    check(r).map(|_| old)
}

/// Blocks every signal (SIGKILL and SIGSTOP excepted); returns the
/// previous mask.
pub fn block_all_signals() -> io::Result<u64> {
    set_signal_mask(!0)
}
