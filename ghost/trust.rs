// SPDX-License-Identifier: GPL-2.0-only
//! A checkpoint file is untrusted: its user may edit it. Every checkpoint
//! ends with an HMAC-SHA256 of all its bytes under the cluster's ghost key,
//! which only the kernels hold (`/sys/kernel/ssi/ghost/key`, written on
//! every node by the administrator); a restart verifies it over the whole
//! file before it reads anything else. Migration streams go from kernel to
//! kernel over the cluster's transport and carry no MAC.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    alloc::flags::GFP_KERNEL,
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::kernel_ext::{
    errno,
    file::FdFile,
    global::Published,
    hmac::{self, HmacSha256, KEY_LEN, MAC_LEN},
};
use crate::proto::{
    ghost::{HEADER_LEN, SECTION_LEN},
    knob,
};

/// The key and what was done with it.
#[pin_data(PinnedDrop)]
pub(crate) struct Trust {
    #[pin]
    key: Mutex<Option<[u8; KEY_LEN]>>,
    /// Checkpoints written with a MAC.
    signed: AtomicU64,
    /// Checkpoint files whose MAC was right.
    verified: AtomicU64,
    /// Checkpoint files refused: wrong MAC (edited, or another cluster's
    /// key), too short, or open for writing.
    refused: AtomicU64,
    /// Checkpoints and restarts refused for want of a key.
    no_key: AtomicU64,
    /// Keys written / refused (malformed).
    keys_set: AtomicU64,
    keys_refused: AtomicU64,
}

#[pinned_drop]
impl PinnedDrop for Trust {
    fn drop(self: Pin<&mut Self>) {
        if let Some(k) = self.key.lock().as_mut() {
            for b in k.iter_mut() {
                // SAFETY: a byte of the key we own: clears it even though
                // it is never read again.
                unsafe { core::ptr::write_volatile(b, 0) };
            }
        }
    }
}

static TRUST: Published<Trust> = Published::new();

/// Publishes the key store from module load to unload.
pub(crate) struct Running {
    _held: Arc<Trust>,
}

impl Running {
    pub(crate) fn start() -> Result<Self> {
        let t = Arc::pin_init(
            pin_init!(Trust {
                key <- new_mutex!(None),
                signed: AtomicU64::new(0),
                verified: AtomicU64::new(0),
                refused: AtomicU64::new(0),
                no_key: AtomicU64::new(0),
                keys_set: AtomicU64::new(0),
                keys_refused: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )?;
        TRUST.publish(&t);
        Ok(Running { _held: t })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: dropped after the device and the sysfs files (see
        // `Ghost`), which are the only callers.
        unsafe { TRUST.withdraw() };
    }
}

fn get() -> Result<&'static Trust> {
    TRUST.get().ok_or(ENODEV)
}

/// Stores the key written to the knob: 64 hex digits. Anything else is
/// `EINVAL`, counted, and changes nothing.
pub(crate) fn set_key(buf: &[u8]) -> Result {
    let t = get()?;
    match knob::parse_key(buf) {
        Ok(k) => {
            *t.key.lock() = Some(k);
            t.keys_set.fetch_add(1, Ordering::Relaxed);
            pr_info!("ghost key set: checkpoints are signed and checked with it\n");
            Ok(())
        }
        Err(_) => {
            t.keys_refused.fetch_add(1, Ordering::Relaxed);
            Err(EINVAL)
        }
    }
}

/// A MAC keyed with this node's ghost key; `ENOKEY` (counted) if none was
/// written.
pub(crate) fn mac() -> Result<HmacSha256> {
    let t = get()?;
    let key = *t.key.lock();
    let Some(mut key) = key else {
        t.no_key.fetch_add(1, Ordering::Relaxed);
        return Err(errno::enokey());
    };
    let m = HmacSha256::new(&key);
    for b in key.iter_mut() {
        // SAFETY: a byte of a local copy of the key: cleared once used.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
    m
}

/// Counts a checkpoint written with its MAC.
pub(crate) fn signed() {
    if let Ok(t) = get() {
        t.signed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a checkpoint file was refused before anything was read from it.
pub(crate) enum Untrusted {
    /// No key here (`ENOKEY`).
    NoKey,
    /// Its MAC is wrong, it is too short to hold one, or something has it
    /// open for writing; the error says which.
    Refused(Error),
}

/// Checks the MAC of checkpoint file `f`: the HMAC of all its bytes but
/// the last [`MAC_LEN`] must be those bytes. `f` must not be writable
/// meanwhile (the caller holds [`FdFile::deny_write`]). `buf` is scratch.
pub(crate) fn verify(f: &FdFile, buf: &mut [u8]) -> Result<(), Untrusted> {
    let t = get().map_err(Untrusted::Refused)?;
    let refuse = |e: Error| {
        t.refused.fetch_add(1, Ordering::Relaxed);
        Untrusted::Refused(e)
    };
    let mut m = mac().map_err(|e| {
        if e == errno::enokey() {
            Untrusted::NoKey
        } else {
            Untrusted::Refused(e)
        }
    })?;
    let size = f.size();
    let min = (HEADER_LEN + SECTION_LEN + MAC_LEN) as i64;
    if size < min {
        return Err(refuse(errno::ekeyrejected()));
    }
    let covered = size - MAC_LEN as i64;
    let mut pos = 0i64;
    while pos < covered {
        let n = (covered - pos).min(buf.len() as i64) as usize;
        read_exact(f, &mut pos, &mut buf[..n]).map_err(refuse)?;
        m.update(&buf[..n]).map_err(refuse)?;
    }
    let mut want = [0u8; MAC_LEN];
    read_exact(f, &mut pos, &mut want).map_err(refuse)?;
    let got = m.finish().map_err(refuse)?;
    if !hmac::equal(&got, &want) {
        return Err(refuse(errno::ekeyrejected()));
    }
    t.verified.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Reads all of `buf` at `*pos`; a short file is `EKEYREJECTED`.
fn read_exact(f: &FdFile, pos: &mut i64, buf: &mut [u8]) -> Result {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(pos, &mut buf[done..])? {
            0 => return Err(errno::ekeyrejected()),
            n => done += n,
        }
    }
    Ok(())
}

/// Counts a restart refused because something could write its file.
pub(crate) fn count_refused() {
    if let Ok(t) = get() {
        t.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// The rows of `/sys/kernel/ssi/ghost/trust`.
pub(crate) fn rows() -> [(&'static str, u64); 7] {
    let Ok(t) = get() else {
        return [("key", 0); 7];
    };
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    [
        ("key", u64::from(t.key.lock().is_some())),
        ("signed", c(&t.signed)),
        ("verified", c(&t.verified)),
        ("refused", c(&t.refused)),
        ("no_key", c(&t.no_key)),
        ("keys_set", c(&t.keys_set)),
        ("keys_refused", c(&t.keys_refused)),
    ]
}
