// SPDX-License-Identifier: GPL-2.0-only
//! Registers and the per-thread kernel state.

use super::*;

/// Indices of `struct user_regs_struct` (x86_64) in [`Regs`].
pub mod reg {
    pub const R15: usize = 0;
    pub const BP: usize = 4;
    pub const R10: usize = 7;
    pub const AX: usize = 10;
    pub const CX: usize = 11;
    pub const DX: usize = 12;
    pub const SI: usize = 13;
    pub const DI: usize = 14;
    pub const ORIG_AX: usize = 15;
    pub const IP: usize = 16;
    pub const CS: usize = 17;
    pub const FLAGS: usize = 18;
    pub const SP: usize = 19;
    pub const SS: usize = 20;
    pub const FS_BASE: usize = 21;
    pub const GS_BASE: usize = 22;
}

const ERESTARTSYS: i64 = 512;

const ERESTARTNOINTR: i64 = 513;

const ERESTARTNOHAND: i64 = 514;

const ERESTART_RESTARTBLOCK: i64 = 516;

const EINTR: i64 = 4;

/// x86-64 numbers of `semop` and `semtimedop`, which end with `EINTR` when
/// anything wakes them to user mode, the freeze of a migration too.
pub const SYS_SEMOP: u64 = 65;

pub const SYS_SEMTIMEDOP: u64 = 220;

/// x86-64 numbers of the syscalls that return `-ERESTART_RESTARTBLOCK`
/// and can be done again without their restart block.
const SYS_POLL: u64 = 7;
const SYS_NANOSLEEP: u64 = 35;
const SYS_FUTEX: u64 = 202;
const SYS_CLOCK_NANOSLEEP: u64 = 230;
/// `clock_nanosleep()`'s flag and the one clock that is the same on
/// every node.
const TIMER_ABSTIME: u64 = 1;
const CLOCK_REALTIME: u64 = 0;

/// General registers, `struct user_regs_struct` of x86_64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regs(pub [u64; REGS]);

impl Regs {
    pub const LEN: usize = REGS * 8;

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| w.u64s(&self.0))
    }

    /// Instruction and stack pointers and the fs and gs bases must be user
    /// addresses.
    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let r: [u64; REGS] = codec::Reader::new(b).u64s().ok_or(Error::Truncated)?;
        if [reg::IP, reg::SP, reg::FS_BASE, reg::GS_BASE]
            .iter()
            .any(|&i| r[i] >= USER_END)
        {
            return Err(Error::BadValue);
        }
        Ok(Regs(r))
    }

    /// Applies the system call restart rules to a task frozen by a
    /// signal-like interruption before they ran (`get_signal()` comes
    /// before the restart fix-up of `arch_do_signal_or_restart()`): a
    /// syscall that asked to be restarted is re-executed (ax = its number,
    /// ip back over the 2-byte `syscall`). One that needs its kernel
    /// restart block ([`Regs::restart_without_block`]) returns -EINTR if a
    /// signal is to be handled (`signal_waiting`), as it would here; else
    /// it is done again without the block, or returns -EINTR where that
    /// cannot be done.
    pub fn fix_syscall_restart(&mut self, signal_waiting: bool) {
        let r = &mut self.0;
        if (r[reg::ORIG_AX] as i64) < 0 {
            return;
        }
        match -(r[reg::AX] as i64) {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
                r[reg::AX] = r[reg::ORIG_AX];
                r[reg::IP] = r[reg::IP].wrapping_sub(2);
            }
            ERESTART_RESTARTBLOCK => {
                if signal_waiting || !self.restart_without_block() {
                    self.0[reg::AX] = (-EINTR) as u64;
                }
            }
            _ => {}
        }
    }

    /// Re-executes a syscall that returned `-ERESTART_RESTARTBLOCK`
    /// without its restart block (kernel memory, not carried): a relative
    /// `nanosleep()` or `clock_nanosleep()` sleeps what remained (the
    /// kernel wrote it to `rem`; the whole request again if `rem` is
    /// null), an absolute `CLOCK_REALTIME` one as asked (the same on
    /// every node), `poll()` and `futex()` wait their whole timeout again
    /// (a wait that may end early anyway). Whether it did: an absolute
    /// sleep on another clock (each node's own) and `restart_syscall()`
    /// (the original arguments are gone) cannot be.
    fn restart_without_block(&mut self) -> bool {
        let r = &mut self.0;
        match r[reg::ORIG_AX] {
            SYS_NANOSLEEP => {
                if r[reg::SI] != 0 {
                    r[reg::DI] = r[reg::SI];
                }
            }
            SYS_CLOCK_NANOSLEEP if r[reg::SI] & TIMER_ABSTIME != 0 => {
                if r[reg::DI] != CLOCK_REALTIME {
                    return false;
                }
            }
            SYS_CLOCK_NANOSLEEP => {
                if r[reg::R10] != 0 {
                    r[reg::DX] = r[reg::R10];
                }
            }
            SYS_POLL | SYS_FUTEX => {}
            _ => return false,
        }
        r[reg::AX] = r[reg::ORIG_AX];
        r[reg::IP] = r[reg::IP].wrapping_sub(2);
        true
    }

    /// A `semop()` or `semtimedop()` that the freeze itself ended with
    /// `EINTR` is done again where the process is restored, as if it had
    /// waited on: a process blocked on a semaphore moves while it waits.
    /// With a signal to handle (`signal_waiting`: pending, not blocked)
    /// the `EINTR` is the signal's and stays. A `semtimedop()` waits its
    /// whole timeout again.
    pub fn restart_sem_wait(&mut self, signal_waiting: bool) {
        let r = &mut self.0;
        let nr = r[reg::ORIG_AX];
        let sem = nr == SYS_SEMOP || nr == SYS_SEMTIMEDOP;
        if sem && !signal_waiting && -(r[reg::AX] as i64) == EINTR {
            r[reg::AX] = nr;
            r[reg::IP] = r[reg::IP].wrapping_sub(2);
        }
    }
}

/// `sas_ss_flags` bits a task may hold (`SS_AUTODISARM`, `SS_ONSTACK`,
/// `SS_DISABLE`).
pub const SS_FLAGS: u64 = (1 << 31) | 1 | 2;

/// Per-thread kernel state that points into user memory, the personality,
/// and the place of the vDSO (zero when the process had none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadState {
    pub rseq: u64,
    pub rseq_len: u64,
    pub rseq_sig: u64,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    pub sas_ss_sp: u64,
    pub sas_ss_size: u64,
    pub sas_ss_flags: u64,
    pub personality: u64,
    /// Start of `[vvar]`, start and end of `[vdso]`.
    pub vvar: u64,
    pub vdso: u64,
    pub vdso_end: u64,
}

impl ThreadState {
    pub const LEN: usize = 12 * 8;

    fn fields(&self) -> [u64; 12] {
        [
            self.rseq,
            self.rseq_len,
            self.rseq_sig,
            self.clear_child_tid,
            self.robust_list,
            self.sas_ss_sp,
            self.sas_ss_size,
            self.sas_ss_flags,
            self.personality,
            self.vvar,
            self.vdso,
            self.vdso_end,
        ]
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| w.u64s(&self.fields()))
    }

    /// Checks what `rseq(2)`, `set_robust_list(2)` and `sigaltstack(2)`
    /// would: user addresses, rseq 32-byte aligned with a length of at
    /// least 32, known flags; the vDSO after its vvar area, page-aligned.
    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(Error::BadLength);
        }
        let [rseq, rseq_len, rseq_sig, clear_child_tid, robust_list, sas_ss_sp, sas_ss_size, sas_ss_flags, personality, vvar, vdso, vdso_end] =
            codec::Reader::new(b).u64s().ok_or(Error::Truncated)?;
        let t = ThreadState {
            rseq,
            rseq_len,
            rseq_sig,
            clear_child_tid,
            robust_list,
            sas_ss_sp,
            sas_ss_size,
            sas_ss_flags,
            personality,
            vvar,
            vdso,
            vdso_end,
        };
        let user = [t.rseq, t.clear_child_tid, t.robust_list, t.sas_ss_sp];
        let rseq_ok = t.rseq == 0 || (t.rseq % 32 == 0 && (32..=PAGE as u64).contains(&t.rseq_len));
        let page = PAGE as u64;
        let vdso_ok = (t.vvar == 0 && t.vdso == 0 && t.vdso_end == 0)
            || (t.vvar >= USER_MIN
                && t.vvar < t.vdso
                && t.vdso < t.vdso_end
                && t.vdso_end <= USER_END
                && [t.vvar, t.vdso, t.vdso_end].iter().all(|a| a % page == 0));
        if user.iter().any(|&a| a >= USER_END)
            || !rseq_ok
            || t.rseq_sig > u64::from(u32::MAX)
            || t.sas_ss_size > USER_END
            || t.sas_ss_flags & !SS_FLAGS != 0
            || t.personality > u64::from(u32::MAX)
            || !vdso_ok
        {
            return Err(Error::BadValue);
        }
        Ok(t)
    }
}
