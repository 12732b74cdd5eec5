// SPDX-License-Identifier: GPL-2.0-only
//! SysV message queues, semaphores and shared memory across the cluster
//! (Documentation/ssi/containers.rst, "SysV message queues", "SysV
//! semaphores", "SysV shared memory"): the requests a node sends to the
//! node that holds a queue, a semaphore set or a segment, run there in the
//! caller's credentials. (The pages of a segment move with the coherence
//! protocol, `dsm`.)
//!
//! An id names its node: node `k` gives its queues and its sets the
//! indices `[k * RANGE, (k + 1) * RANGE)` (the low [`IDX_BITS`] bits of an
//! id). Keyed objects live on the key directory, the lowest-numbered member.
//!
//! | op      | request (after the caller)                         | answer                      |
//! |---------|----------------------------------------------------|-----------------------------|
//! | 1 `GET` | `key: i32`, `flags: i32`                           | `id: i32`                   |
//! | 2 `SND` | `id: i32`, `mtype: i64`, `flags: i32`, text        | nothing                     |
//! | 3 `RCV` | `id: i32`, `msgtyp: i64`, `flags: i32`, `size: u32` | `mtype: i64`, text          |
//! | 4 `CTL` | `id: i32`, `cmd: i32`, [`Set`]                     | [`Stat`] for `IPC_STAT`     |
//! | 5 `SEMGET` | `key: i32`, `nsems: i32`, `flags: i32`          | `id: i32`                   |
//! | 6 `SEMOP`  | `id: i32`, 1 to [`MAX_SOPS`] [`Sembuf`]s        | `u8`: 0 done, 1 would wait  |
//! | 7 `SEMCTL` | `id: i32`, `semnum: i32`, `cmd: i32`, `val: i32`, `uid, gid, mode: u32`, values (`SETALL`) | [`SemAnswer`] |
//! | 8 `SHMGET` | `key: i32`, `size: u64`, `flags: i32`           | `id: i32`                   |
//! | 9 `SHMAT`  | `id: i32`, `flags: i32`                         | `size: u64`                 |
//! | 10 `SHMCTL` | `id: i32`, `cmd: i32`, `uid, gid, mode: u32`   | [`ShmStat`] for `IPC_STAT`  |
//!
//! A [`Sembuf`] is `num: u16`, `op: i16`, `flg: i16`; semaphore values
//! are `u16`s, at most [`MAX_SEMS`] of them.
//!
//! The caller ([`Caller`]) is its ids, capability sets, securebits and up
//! to [`MAX_GROUPS`] supplementary groups. The text is 0 to [`MAX_TEXT`]
//! bytes and `size` at most [`MAX_TEXT`]. Errors are the RPC's status.
//! Decoding checks exact lengths.

use super::codec::{Reader, Writer};

/// The message queues' RPC service.
pub const SERVICE: u16 = 303;
/// Most bytes of a message that crosses nodes.
pub const MAX_TEXT: usize = 16384;
/// Most supplementary groups a caller carries.
pub const MAX_GROUPS: usize = 32;
/// Queue indices per node.
pub const RANGE: u32 = 128;
/// Bits of an id that are its index (`ipcmni_seq_shift()` without
/// `ipcmni_extend`).
pub const IDX_BITS: u32 = 15;
/// Longest request: a `SEMCTL` of [`MAX_SEMS`] values (or a `SND` of
/// [`MAX_TEXT`] bytes) by a caller with every group.
pub const MAX_REQUEST: usize = CALLER_MAX + 29 + MAX_TEXT;
/// Head of an `RCV` answer, before the text.
pub const RCV_HEAD: usize = 8;
/// `IPC_STAT`, `IPC_SET`, `IPC_RMID` (include/uapi/linux/ipc.h).
pub const IPC_RMID: i32 = 0;
pub const IPC_SET: i32 = 1;
pub const IPC_STAT: i32 = 2;

/// Most operations of one `SEMOP` (the kernel's `SEMOPM` is 500).
pub const MAX_SOPS: usize = 1024;
/// Most semaphores a `GETALL` or `SETALL` carries across nodes.
pub const MAX_SEMS: usize = MAX_TEXT / 2;
/// Longest `SEMCTL` answer.
pub const MAX_SEM_ANSWER: usize = 4 + SEM_STAT_LEN + 2 * MAX_SEMS;
/// `semctl()` commands (include/uapi/linux/sem.h, ipc.h).
pub const GETPID: i32 = 11;
pub const GETVAL: i32 = 12;
pub const GETALL: i32 = 13;
pub const GETNCNT: i32 = 14;
pub const GETZCNT: i32 = 15;
pub const SETVAL: i32 = 16;
pub const SETALL: i32 = 17;
pub const SEM_STAT: i32 = 18;
pub const SEM_STAT_ANY: i32 = 20;

const CALLER_MAX: usize = 4 * 8 + 5 * 8 + 4 + 1 + 4 * MAX_GROUPS;
const GET: u8 = 1;
const SND: u8 = 2;
const RCV: u8 = 3;
const CTL: u8 = 4;
const SEMGET: u8 = 5;
const SEMOP: u8 = 6;
const SEMCTL: u8 = 7;
const SHMGET: u8 = 8;
const SHMAT: u8 = 9;
const SHMCTL: u8 = 10;
const SEMBUF_LEN: usize = 6;

/// Whether a request is one of the semaphores' (by its op byte).
pub fn is_sem(req: &[u8]) -> bool {
    matches!(req.first(), Some(&(SEMGET | SEMOP | SEMCTL)))
}

/// Whether a request is one of the shared memory's (by its op byte).
pub fn is_shm(req: &[u8]) -> bool {
    matches!(req.first(), Some(&(SHMGET | SHMAT | SHMCTL)))
}

/// Whether `cmd` answers a [`SemStat`].
pub fn is_stat(cmd: i32) -> bool {
    matches!(cmd, IPC_STAT | SEM_STAT | SEM_STAT_ANY)
}

/// One semaphore operation (`struct sembuf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sembuf {
    pub num: u16,
    pub op: i16,
    pub flg: i16,
}

impl Sembuf {
    /// From the 6 bytes of a `struct sembuf` in the host's byte order.
    pub fn from_ne_bytes(b: [u8; SEMBUF_LEN]) -> Self {
        Sembuf {
            num: u16::from_ne_bytes([b[0], b[1]]),
            op: i16::from_ne_bytes([b[2], b[3]]),
            flg: i16::from_ne_bytes([b[4], b[5]]),
        }
    }

    /// Writes it (little-endian) into `out`, of [`Sembuf::LEN`] bytes.
    pub fn put(&self, out: &mut [u8]) -> Option<()> {
        let mut w = Writer::new(out);
        w.u16(self.num)?;
        w.put(&self.op.to_le_bytes())?;
        w.put(&self.flg.to_le_bytes())
    }

    /// Bytes of one operation.
    pub const LEN: usize = SEMBUF_LEN;
}

/// A `SEMOP`'s operations as they travel: 1 to [`MAX_SOPS`], checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sops<'a>(&'a [u8]);

impl<'a> Sops<'a> {
    /// `b` as operations written by [`Sembuf::put`]; `None` if its length
    /// is not a whole number of them, or there are none or too many.
    pub fn new(b: &'a [u8]) -> Option<Self> {
        let n = b.len() / SEMBUF_LEN;
        (b.len() % SEMBUF_LEN == 0 && (1..=MAX_SOPS).contains(&n)).then_some(Sops(b))
    }

    pub fn len(&self) -> usize {
        self.0.len() / SEMBUF_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The operations, in order.
    pub fn iter(&self) -> impl Iterator<Item = Sembuf> + 'a {
        self.0.chunks_exact(SEMBUF_LEN).map(|c| Sembuf {
            num: u16::from_le_bytes([c[0], c[1]]),
            op: i16::from_le_bytes([c[2], c[3]]),
            flg: i16::from_le_bytes([c[4], c[5]]),
        })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Semaphore values as they travel (`u16`, little-endian): at most
/// [`MAX_SEMS`], checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vals<'a>(&'a [u8]);

impl<'a> Vals<'a> {
    /// `b` as values; `None` for an odd length or too many.
    pub fn new(b: &'a [u8]) -> Option<Self> {
        (b.len() % 2 == 0 && b.len() / 2 <= MAX_SEMS).then_some(Vals(b))
    }

    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        self.0
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Writes `vals` into `out` as [`Vals`]; the bytes written.
pub fn put_vals(vals: impl Iterator<Item = u16>, out: &mut [u8]) -> Option<usize> {
    let mut w = Writer::new(out);
    let mut n = 0usize;
    for v in vals {
        n = n.checked_add(1)?;
        if n > MAX_SEMS {
            return None;
        }
        w.u16(v)?;
    }
    Some(w.len())
}

/// A semaphore set's `IPC_SET` operands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SemSet {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// The node whose queue `id` is, if `id` is an id at all.
pub fn home_of(id: i32) -> Option<u8> {
    let idx = u32::try_from(id).ok()? & ((1 << IDX_BITS) - 1);
    u8::try_from(idx / RANGE).ok()
}

/// The indices `[lo, hi)` node `node` gives its queues.
pub fn range(node: u8) -> (i32, i32) {
    let lo = i32::from(node) * RANGE as i32;
    (lo, lo + RANGE as i32)
}

/// Who asks: the credentials the request runs in on the queue's node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    /// Inheritable, permitted, effective, bounding, ambient.
    pub caps: [u64; 5],
    pub securebits: u32,
    pub ngroups: u8,
    pub groups: [u32; MAX_GROUPS],
}

impl Caller {
    fn put(&self, w: &mut Writer<'_>) -> Option<()> {
        for v in self.uid.iter().chain(self.gid.iter()) {
            w.u32(*v)?;
        }
        w.u64s(&self.caps)?;
        w.u32(self.securebits)?;
        w.u8(self.ngroups)?;
        for g in self.groups.get(..usize::from(self.ngroups))? {
            w.u32(*g)?;
        }
        Some(())
    }

    fn get(r: &mut Reader<'_>) -> Option<Self> {
        let mut c = Caller::default();
        for v in c.uid.iter_mut().chain(c.gid.iter_mut()) {
            *v = r.u32()?;
        }
        c.caps = r.u64s()?;
        c.securebits = r.u32()?;
        c.ngroups = r.u8()?;
        for g in c.groups.get_mut(..usize::from(c.ngroups))? {
            *g = r.u32()?;
        }
        Some(c)
    }

    /// The supplementary groups.
    pub fn groups(&self) -> &[u32] {
        &self.groups[..usize::from(self.ngroups).min(MAX_GROUPS)]
    }
}

/// `IPC_SET`'s operands (zero for the other commands).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Set {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub qbytes: u64,
}

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Get {
        key: i32,
        flags: i32,
    },
    Snd {
        id: i32,
        mtype: i64,
        flags: i32,
        text: &'a [u8],
    },
    Rcv {
        id: i32,
        msgtyp: i64,
        flags: i32,
        size: u32,
    },
    Ctl {
        id: i32,
        cmd: i32,
        set: Set,
    },
    SemGet {
        key: i32,
        nsems: i32,
        flags: i32,
    },
    SemOp {
        id: i32,
        sops: Sops<'a>,
    },
    SemCtl {
        id: i32,
        semnum: i32,
        cmd: i32,
        val: i32,
        set: SemSet,
        vals: Vals<'a>,
    },
    ShmGet {
        key: i32,
        size: u64,
        flags: i32,
    },
    ShmAt {
        id: i32,
        flags: i32,
    },
    ShmCtl {
        id: i32,
        cmd: i32,
        set: SemSet,
    },
}

/// A request to the queue's node (or the key directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub caller: Caller,
    pub op: Op<'a>,
}

impl<'a> Request<'a> {
    /// Writes it into `out`; its length, `None` if it does not fit or is
    /// not one a node may send.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        let op = match self.op {
            Op::Get { .. } => GET,
            Op::Snd { .. } => SND,
            Op::Rcv { .. } => RCV,
            Op::Ctl { .. } => CTL,
            Op::SemGet { .. } => SEMGET,
            Op::SemOp { .. } => SEMOP,
            Op::SemCtl { .. } => SEMCTL,
            Op::ShmGet { .. } => SHMGET,
            Op::ShmAt { .. } => SHMAT,
            Op::ShmCtl { .. } => SHMCTL,
        };
        w.u8(op)?;
        self.caller.put(&mut w)?;
        match self.op {
            Op::Get { key, flags } => {
                w.i32(key)?;
                w.i32(flags)?;
            }
            Op::Snd {
                id,
                mtype,
                flags,
                text,
            } => {
                if text.len() > MAX_TEXT {
                    return None;
                }
                w.i32(id)?;
                w.i64(mtype)?;
                w.i32(flags)?;
                w.put(text)?;
            }
            Op::Rcv {
                id,
                msgtyp,
                flags,
                size,
            } => {
                if size as usize > MAX_TEXT {
                    return None;
                }
                w.i32(id)?;
                w.i64(msgtyp)?;
                w.i32(flags)?;
                w.u32(size)?;
            }
            Op::Ctl { id, cmd, set } => {
                w.i32(id)?;
                w.i32(cmd)?;
                w.u32(set.uid)?;
                w.u32(set.gid)?;
                w.u32(set.mode)?;
                w.u64(set.qbytes)?;
            }
            Op::SemGet { key, nsems, flags } => {
                w.i32(key)?;
                w.i32(nsems)?;
                w.i32(flags)?;
            }
            Op::SemOp { id, sops } => {
                Sops::new(sops.bytes())?;
                w.i32(id)?;
                w.put(sops.bytes())?;
            }
            Op::SemCtl {
                id,
                semnum,
                cmd,
                val,
                set,
                vals,
            } => {
                Vals::new(vals.bytes())?;
                for v in [id, semnum, cmd, val] {
                    w.i32(v)?;
                }
                for v in [set.uid, set.gid, set.mode] {
                    w.u32(v)?;
                }
                w.put(vals.bytes())?;
            }
            Op::ShmGet { key, size, flags } => {
                w.i32(key)?;
                w.u64(size)?;
                w.i32(flags)?;
            }
            Op::ShmAt { id, flags } => {
                w.i32(id)?;
                w.i32(flags)?;
            }
            Op::ShmCtl { id, cmd, set } => {
                w.i32(id)?;
                w.i32(cmd)?;
                for v in [set.uid, set.gid, set.mode] {
                    w.u32(v)?;
                }
            }
        }
        Some(w.len())
    }

    /// Parses a request; `None` if it is malformed.
    pub fn decode(b: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let op = r.u8()?;
        let caller = Caller::get(&mut r)?;
        let op = match op {
            GET => Op::Get {
                key: r.i32()?,
                flags: r.i32()?,
            },
            SND => {
                let (id, mtype, flags) = (r.i32()?, r.i64()?, r.i32()?);
                let text = r.rest();
                if text.len() > MAX_TEXT {
                    return None;
                }
                Op::Snd {
                    id,
                    mtype,
                    flags,
                    text,
                }
            }
            RCV => {
                let (id, msgtyp, flags, size) = (r.i32()?, r.i64()?, r.i32()?, r.u32()?);
                if size as usize > MAX_TEXT {
                    return None;
                }
                Op::Rcv {
                    id,
                    msgtyp,
                    flags,
                    size,
                }
            }
            CTL => Op::Ctl {
                id: r.i32()?,
                cmd: r.i32()?,
                set: Set {
                    uid: r.u32()?,
                    gid: r.u32()?,
                    mode: r.u32()?,
                    qbytes: r.u64()?,
                },
            },
            SEMGET => Op::SemGet {
                key: r.i32()?,
                nsems: r.i32()?,
                flags: r.i32()?,
            },
            SEMOP => Op::SemOp {
                id: r.i32()?,
                sops: Sops::new(r.rest())?,
            },
            SEMCTL => Op::SemCtl {
                id: r.i32()?,
                semnum: r.i32()?,
                cmd: r.i32()?,
                val: r.i32()?,
                set: SemSet {
                    uid: r.u32()?,
                    gid: r.u32()?,
                    mode: r.u32()?,
                },
                vals: Vals::new(r.rest())?,
            },
            SHMGET => Op::ShmGet {
                key: r.i32()?,
                size: r.u64()?,
                flags: r.i32()?,
            },
            SHMAT => Op::ShmAt {
                id: r.i32()?,
                flags: r.i32()?,
            },
            SHMCTL => Op::ShmCtl {
                id: r.i32()?,
                cmd: r.i32()?,
                set: SemSet {
                    uid: r.u32()?,
                    gid: r.u32()?,
                    mode: r.u32()?,
                },
            },
            _ => return None,
        };
        r.end()?;
        Some(Request { caller, op })
    }
}

/// `IPC_STAT`'s answer: `struct msqid64_ds` as the queue's node has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u32,
    pub stime: i64,
    pub rtime: i64,
    pub ctime: i64,
    pub cbytes: u64,
    pub qnum: u64,
    pub qbytes: u64,
    pub lspid: i32,
    pub lrpid: i32,
}

/// Length of an encoded [`Stat`].
pub const STAT_LEN: usize = 4 * 7 + 8 * 6 + 4 * 2;

impl Stat {
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        w.i32(self.key)?;
        for v in [
            self.uid, self.gid, self.cuid, self.cgid, self.mode, self.seq,
        ] {
            w.u32(v)?;
        }
        for v in [self.stime, self.rtime, self.ctime] {
            w.i64(v)?;
        }
        w.u64s(&[self.cbytes, self.qnum, self.qbytes])?;
        w.i32(self.lspid)?;
        w.i32(self.lrpid)?;
        Some(w.len())
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let s = Stat {
            key: r.i32()?,
            uid: r.u32()?,
            gid: r.u32()?,
            cuid: r.u32()?,
            cgid: r.u32()?,
            mode: r.u32()?,
            seq: r.u32()?,
            stime: r.i64()?,
            rtime: r.i64()?,
            ctime: r.i64()?,
            cbytes: r.u64()?,
            qnum: r.u64()?,
            qbytes: r.u64()?,
            lspid: r.i32()?,
            lrpid: r.i32()?,
        };
        r.end()?;
        Some(s)
    }
}

/// A set's state for `IPC_STAT` and `SEM_STAT` (`struct semid64_ds`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SemStat {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u32,
    pub otime: i64,
    pub ctime: i64,
    pub nsems: u64,
}

/// Length of an encoded [`SemStat`].
pub const SEM_STAT_LEN: usize = 4 * 7 + 8 * 3;

impl SemStat {
    fn put(&self, w: &mut Writer<'_>) -> Option<()> {
        w.i32(self.key)?;
        for v in [
            self.uid, self.gid, self.cuid, self.cgid, self.mode, self.seq,
        ] {
            w.u32(v)?;
        }
        w.i64(self.otime)?;
        w.i64(self.ctime)?;
        w.u64(self.nsems)
    }

    fn get(r: &mut Reader<'_>) -> Option<Self> {
        Some(SemStat {
            key: r.i32()?,
            uid: r.u32()?,
            gid: r.u32()?,
            cuid: r.u32()?,
            cgid: r.u32()?,
            mode: r.u32()?,
            seq: r.u32()?,
            otime: r.i64()?,
            ctime: r.i64()?,
            nsems: r.u64()?,
        })
    }
}

/// A segment's state for `IPC_STAT` (`struct shmid64_ds`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShmStat {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u32,
    pub cpid: i32,
    pub lpid: i32,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
    pub segsz: u64,
    pub nattch: u64,
}

/// Length of an encoded [`ShmStat`].
pub const SHM_STAT_LEN: usize = 4 * 9 + 8 * 5;

impl ShmStat {
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        w.i32(self.key)?;
        for v in [
            self.uid, self.gid, self.cuid, self.cgid, self.mode, self.seq,
        ] {
            w.u32(v)?;
        }
        w.i32(self.cpid)?;
        w.i32(self.lpid)?;
        for v in [self.atime, self.dtime, self.ctime] {
            w.i64(v)?;
        }
        w.u64s(&[self.segsz, self.nattch])?;
        Some(w.len())
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let s = ShmStat {
            key: r.i32()?,
            uid: r.u32()?,
            gid: r.u32()?,
            cuid: r.u32()?,
            cgid: r.u32()?,
            mode: r.u32()?,
            seq: r.u32()?,
            cpid: r.i32()?,
            lpid: r.i32()?,
            atime: r.i64()?,
            dtime: r.i64()?,
            ctime: r.i64()?,
            segsz: r.u64()?,
            nattch: r.u64()?,
        };
        r.end()?;
        Some(s)
    }
}

/// A `SEMCTL` answer: the command's result (`GETVAL`'s value, `SEM_STAT`'s
/// id, else 0), then the set's state for the `*_STAT` commands or the
/// values for `GETALL`, nothing for the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SemAnswer<'a> {
    pub ret: i32,
    pub stat: Option<SemStat>,
    pub vals: Vals<'a>,
}

impl<'a> SemAnswer<'a> {
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        w.i32(self.ret)?;
        if let Some(s) = &self.stat {
            s.put(&mut w)?;
        }
        w.put(self.vals.bytes())?;
        Some(w.len())
    }

    /// The answer to command `cmd`; `None` if it is not one.
    pub fn decode(cmd: i32, b: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let ret = r.i32()?;
        let stat = if is_stat(cmd) {
            Some(SemStat::get(&mut r)?)
        } else {
            None
        };
        let vals = if cmd == GETALL {
            Vals::new(r.rest())?
        } else {
            Vals::default()
        };
        r.end()?;
        Some(SemAnswer { ret, stat, vals })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(n: u8) -> Caller {
        let mut c = Caller {
            uid: [1000, 1000, 1000, 1000],
            gid: [100, 100, 100, 100],
            caps: [0, 0, 0, u64::MAX, 0],
            securebits: 0,
            ngroups: n,
            groups: [0; MAX_GROUPS],
        };
        for (i, g) in c.groups.iter_mut().take(usize::from(n)).enumerate() {
            *g = 500 + i as u32;
        }
        c
    }

    fn round(r: Request<'_>) {
        let mut b = [0u8; MAX_REQUEST];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(Request::decode(&b[..n]), Some(r));
        // A cut request is refused (a `SND` is one whole with less text).
        let head = match r.op {
            Op::Snd { text, .. } => n - text.len(),
            Op::SemOp { sops, .. } => n - sops.bytes().len(),
            Op::SemCtl { vals, .. } => n - vals.bytes().len(),
            _ => n,
        };
        for k in 0..head {
            assert_eq!(Request::decode(&b[..k]), None, "prefix {k} of {n}");
        }
        if !matches!(r.op, Op::Snd { .. }) {
            assert_eq!(Request::decode(&b[..n + 1]), None);
        }
    }

    #[test]
    fn requests_round_trip() {
        let text = [7u8; 100];
        round(Request {
            caller: caller(0),
            op: Op::Get {
                key: 42,
                flags: 0o1666,
            },
        });
        round(Request {
            caller: caller(3),
            op: Op::Snd {
                id: 129,
                mtype: 5,
                flags: 0,
                text: &text,
            },
        });
        round(Request {
            caller: caller(32),
            op: Op::Snd {
                id: 1,
                mtype: 1,
                flags: 0,
                text: &[],
            },
        });
        round(Request {
            caller: caller(1),
            op: Op::Rcv {
                id: 256,
                msgtyp: -3,
                flags: 0o10000,
                size: 8192,
            },
        });
        round(Request {
            caller: caller(2),
            op: Op::Ctl {
                id: 300,
                cmd: IPC_SET,
                set: Set {
                    uid: 1,
                    gid: 2,
                    mode: 0o600,
                    qbytes: 16384,
                },
            },
        });
    }

    #[test]
    fn bad_requests_are_refused() {
        let mut b = [0u8; MAX_REQUEST + 8];
        // Too many groups.
        let mut c = caller(0);
        c.ngroups = MAX_GROUPS as u8 + 1;
        assert_eq!(
            Request {
                caller: c,
                op: Op::Get { key: 1, flags: 0 }
            }
            .encode(&mut b),
            None
        );
        let n = Request {
            caller: caller(0),
            op: Op::Get { key: 1, flags: 0 },
        }
        .encode(&mut b)
        .unwrap();
        b[1 + 4 * 8 + 5 * 8 + 4] = MAX_GROUPS as u8 + 1;
        assert_eq!(Request::decode(&b[..n]), None);
        // Unknown op.
        b[0] = 9;
        assert_eq!(Request::decode(&b[..n]), None);
        // Text or size over the limit.
        let big = [0u8; MAX_TEXT + 1];
        let r = Request {
            caller: caller(0),
            op: Op::Snd {
                id: 1,
                mtype: 1,
                flags: 0,
                text: &big,
            },
        };
        assert_eq!(r.encode(&mut b), None);
        let r = Request {
            caller: caller(0),
            op: Op::Rcv {
                id: 1,
                msgtyp: 0,
                flags: 0,
                size: MAX_TEXT as u32 + 1,
            },
        };
        assert_eq!(r.encode(&mut b), None);
        let ok = Request {
            caller: caller(0),
            op: Op::Rcv {
                id: 1,
                msgtyp: 0,
                flags: 0,
                size: 1,
            },
        };
        let n = ok.encode(&mut b).unwrap();
        b[n - 4..n].copy_from_slice(&(MAX_TEXT as u32 + 1).to_le_bytes());
        assert_eq!(Request::decode(&b[..n]), None);
    }

    #[test]
    fn stat_round_trips() {
        let s = Stat {
            key: 7,
            uid: 1,
            gid: 2,
            cuid: 3,
            cgid: 4,
            mode: 0o644,
            seq: 9,
            stime: 10,
            rtime: 11,
            ctime: 12,
            cbytes: 13,
            qnum: 14,
            qbytes: 15,
            lspid: 16,
            lrpid: 17,
        };
        let mut b = [0u8; STAT_LEN];
        assert_eq!(s.encode(&mut b), Some(STAT_LEN));
        assert_eq!(Stat::decode(&b), Some(s));
        assert_eq!(Stat::decode(&b[..STAT_LEN - 1]), None);
    }

    fn sops(ops: &[Sembuf], out: &mut [u8]) -> usize {
        for (i, s) in ops.iter().enumerate() {
            s.put(&mut out[i * Sembuf::LEN..]).unwrap();
        }
        ops.len() * Sembuf::LEN
    }

    #[test]
    fn sem_requests_round_trip() {
        round(Request {
            caller: caller(2),
            op: Op::SemGet {
                key: 0x5520,
                nsems: 2,
                flags: 0o1600,
            },
        });
        let ops = [
            Sembuf {
                num: 0,
                op: -1,
                flg: 0,
            },
            Sembuf {
                num: 1,
                op: 2,
                flg: 0o4000,
            },
        ];
        let mut b = [0u8; 64];
        let n = sops(&ops, &mut b);
        let s = Sops::new(&b[..n]).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.iter().eq(ops.iter().copied()));
        round(Request {
            caller: caller(0),
            op: Op::SemOp { id: 257, sops: s },
        });
        let vals = [1u8, 0, 2, 0, 0xff, 0x7f];
        let v = Vals::new(&vals).unwrap();
        assert!(v.iter().eq([1u16, 2, 0x7fff]));
        round(Request {
            caller: caller(1),
            op: Op::SemCtl {
                id: 300,
                semnum: 0,
                cmd: SETALL,
                val: 0,
                set: SemSet::default(),
                vals: v,
            },
        });
        round(Request {
            caller: caller(1),
            op: Op::SemCtl {
                id: 300,
                semnum: 1,
                cmd: IPC_SET,
                val: 5,
                set: SemSet {
                    uid: 1000,
                    gid: 1000,
                    mode: 0o600,
                },
                vals: Vals::default(),
            },
        });
    }

    #[test]
    fn bad_sem_requests_are_refused() {
        let mut b = [0u8; MAX_REQUEST + 16];
        // No operation, part of one, too many.
        assert_eq!(Sops::new(&[]), None);
        assert_eq!(Sops::new(&[0u8; 5]), None);
        assert_eq!(Sops::new(&[0u8; 7]), None);
        assert!(Sops::new(&[0u8; MAX_SOPS * Sembuf::LEN]).is_some());
        assert_eq!(Sops::new(&[0u8; (MAX_SOPS + 1) * Sembuf::LEN]), None);
        // Odd or too many values.
        assert_eq!(Vals::new(&[0u8; 3]), None);
        assert_eq!(Vals::new(&[0u8; 2 * MAX_SEMS + 2]), None);
        assert_eq!(
            put_vals(core::iter::repeat(1).take(MAX_SEMS + 1), &mut b),
            None
        );
        // A SEMOP whose operations were cut.
        let ok = [0u8; 2 * Sembuf::LEN];
        let n = Request {
            caller: caller(0),
            op: Op::SemOp {
                id: 1,
                sops: Sops::new(&ok).unwrap(),
            },
        }
        .encode(&mut b)
        .unwrap();
        for k in n - 2 * Sembuf::LEN..n {
            if k != n - Sembuf::LEN {
                assert_eq!(Request::decode(&b[..k]), None, "cut at {k}");
            }
        }
        // A SEMCTL with an odd number of value bytes.
        let n = Request {
            caller: caller(0),
            op: Op::SemCtl {
                id: 1,
                semnum: 0,
                cmd: SETALL,
                val: 0,
                set: SemSet::default(),
                vals: Vals::new(&[1, 0]).unwrap(),
            },
        }
        .encode(&mut b)
        .unwrap();
        assert_eq!(Request::decode(&b[..n - 1]), None);
        assert!(is_sem(&b[..n]));
        b[0] = GET;
        assert!(!is_sem(&b[..n]));
    }

    #[test]
    fn sem_answers_round_trip() {
        let st = SemStat {
            key: 0x5520,
            uid: 1000,
            gid: 1000,
            cuid: 1000,
            cgid: 1000,
            mode: 0o600,
            seq: 3,
            otime: 4,
            ctime: 5,
            nsems: 2,
        };
        let mut b = [0u8; MAX_SEM_ANSWER];
        for cmd in [IPC_STAT, SEM_STAT, SEM_STAT_ANY] {
            let a = SemAnswer {
                ret: 7,
                stat: Some(st),
                vals: Vals::default(),
            };
            let n = a.encode(&mut b).unwrap();
            assert_eq!(n, 4 + SEM_STAT_LEN);
            assert_eq!(SemAnswer::decode(cmd, &b[..n]), Some(a));
            assert_eq!(SemAnswer::decode(cmd, &b[..n - 1]), None);
            assert_eq!(SemAnswer::decode(cmd, &b[..n + 1]), None);
            assert_eq!(SemAnswer::decode(GETVAL, &b[..n]), None);
        }
        let mut v = [0u8; 6];
        assert_eq!(put_vals([3u16, 4, 5].into_iter(), &mut v), Some(6));
        let a = SemAnswer {
            ret: 0,
            stat: None,
            vals: Vals::new(&v).unwrap(),
        };
        let n = a.encode(&mut b).unwrap();
        assert_eq!(SemAnswer::decode(GETALL, &b[..n]), Some(a));
        assert_eq!(SemAnswer::decode(GETALL, &b[..n - 1]), None);
        let a = SemAnswer {
            ret: 9,
            stat: None,
            vals: Vals::default(),
        };
        let n = a.encode(&mut b).unwrap();
        assert_eq!(SemAnswer::decode(GETVAL, &b[..n]), Some(a));
        assert_eq!(SemAnswer::decode(GETVAL, &b[..n + 1]), None);
        assert_eq!(SemAnswer::decode(GETVAL, &b[..3]), None);
    }

    #[test]
    fn ids_name_their_node() {
        for k in [0u8, 1, 2, 4, 200, 255] {
            let (lo, hi) = range(k);
            assert_eq!(home_of(lo), Some(k));
            assert_eq!(home_of(hi - 1), Some(k));
            // With a sequence number above the index.
            assert_eq!(home_of((5 << IDX_BITS) + lo), Some(k));
        }
        assert_eq!(home_of(-1), None);
    }

    #[test]
    fn shm_requests_round_trip() {
        for op in [
            Op::ShmGet {
                key: 77,
                size: 4096,
                flags: 0o1666,
            },
            Op::ShmAt {
                id: 131072,
                flags: 0o10000,
            },
            Op::ShmCtl {
                id: 129,
                cmd: IPC_SET,
                set: SemSet {
                    uid: 1000,
                    gid: 1000,
                    mode: 0o600,
                },
            },
        ] {
            round(Request {
                caller: caller(3),
                op,
            });
        }
        let mut b = [0u8; MAX_REQUEST];
        let n = Request {
            caller: caller(0),
            op: Op::ShmAt { id: 1, flags: 0 },
        }
        .encode(&mut b)
        .unwrap();
        assert!(is_shm(&b[..n]) && !is_sem(&b[..n]));
        // An unknown op byte is refused.
        b[0] = 11;
        assert_eq!(Request::decode(&b[..n]), None);
    }

    #[test]
    fn shm_stat_round_trips() {
        let s = ShmStat {
            key: -5,
            uid: 1,
            gid: 2,
            cuid: 3,
            cgid: 4,
            mode: 0o640,
            seq: 6,
            cpid: 7,
            lpid: 8,
            atime: 9,
            dtime: 10,
            ctime: 11,
            segsz: 4096,
            nattch: 2,
        };
        let mut b = [0u8; SHM_STAT_LEN + 1];
        assert_eq!(s.encode(&mut b), Some(SHM_STAT_LEN));
        assert_eq!(ShmStat::decode(&b[..SHM_STAT_LEN]), Some(s));
        assert_eq!(ShmStat::decode(&b[..SHM_STAT_LEN - 1]), None);
        assert_eq!(ShmStat::decode(&b), None);
    }
}
