// SPDX-License-Identifier: GPL-2.0-only
//! The files of `/sys/kernel/ssi/ghost/` (see
//! Documentation/ABI/testing/sysfs-kernel-ssi).

use core::fmt::Write;
use core::sync::atomic::Ordering;
use kernel::{c_str, prelude::*};

use crate::kernel_ext::sysfs::{Attribute, ShowBuf};
use crate::lazy::Pages;
use crate::migrate;
use crate::proto::knob;
use crate::proto::pages::MAX_FETCH;

pub(crate) static ATTRS: [Attribute<Pages>; 7] = [
    Attribute::rw(c_str!("mode"), show_mode, store_mode),
    Attribute::rw(c_str!("readahead"), show_readahead, store_readahead),
    Attribute::ro(c_str!("pages"), show_pages),
    Attribute::wo(c_str!("key"), store_key),
    Attribute::ro(c_str!("trust"), show_trust),
    Attribute::ro(c_str!("migration"), show_migration),
    Attribute::rw(
        c_str!("max_per_user"),
        show_max_per_user,
        store_max_per_user,
    ),
];

/// Largest `max_per_user`: more would let one user hold that many streams
/// (up to 384 MiB each) in this node's memory.
const MAX_PER_USER_LIMIT: u32 = 64;

fn fmt_err(_: core::fmt::Error) -> Error {
    EINVAL
}

fn show_mode(p: &Pages, out: &mut ShowBuf<'_>) -> Result {
    let m = if p.on_demand.load(Ordering::Relaxed) {
        "on-demand"
    } else {
        "eager"
    };
    writeln!(out, "{m}").map_err(fmt_err)
}

/// `eager` or `on-demand`: how `ssi-migrate` moves pages unless told.
fn store_mode(p: &Pages, buf: &[u8]) -> Result {
    let on = match knob::strip_newline(buf) {
        b"eager" => false,
        b"on-demand" => true,
        _ => return Err(EINVAL),
    };
    p.on_demand.store(on, Ordering::Relaxed);
    Ok(())
}

fn show_readahead(p: &Pages, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", p.readahead.load(Ordering::Relaxed)).map_err(fmt_err)
}

/// Pages brought after a faulting one, `0` to `MAX_FETCH - 1`.
fn store_readahead(p: &Pages, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, MAX_FETCH - 1).map_err(|_| EINVAL)?;
    p.readahead.store(v, Ordering::Relaxed);
    Ok(())
}

fn show_pages(p: &Pages, out: &mut ShowBuf<'_>) -> Result {
    let c = &p.counts;
    let (pulling, waiting, lent) = p.census();
    let rows = [
        ("pulling", pulling as u64),
        ("waiting", waiting),
        ("lent", lent as u64),
        ("fetches", c.fetches.load(Ordering::Relaxed)),
        ("fetched", c.fetched.load(Ordering::Relaxed)),
        ("ahead_used", c.ahead_used.load(Ordering::Relaxed)),
        ("prefetched", c.prefetched.load(Ordering::Relaxed)),
        ("served", c.served.load(Ordering::Relaxed)),
        ("retried", c.retried.load(Ordering::Relaxed)),
        ("failed", c.failed.load(Ordering::Relaxed)),
        ("malformed", c.malformed.load(Ordering::Relaxed)),
    ];
    for (k, v) in rows {
        writeln!(out, "{k} {v}").map_err(fmt_err)?;
    }
    Ok(())
}

/// The cluster's ghost key, 64 hex digits; write-only (0200).
fn store_key(_: &Pages, buf: &[u8]) -> Result {
    crate::trust::set_key(buf)
}

fn show_trust(_: &Pages, out: &mut ShowBuf<'_>) -> Result {
    for (k, v) in crate::trust::rows() {
        writeln!(out, "{k} {v}").map_err(fmt_err)?;
    }
    Ok(())
}

/// The migration tables' sizes and counters.
fn show_migration(_: &Pages, out: &mut ShowBuf<'_>) -> Result {
    let m = migrate::migrator().ok_or(ENODEV)?;
    let [incoming, outgoing, stubs, guests] = m.census();
    let c = &m.counts;
    let rows = [
        ("incoming", incoming as u64),
        ("outgoing", outgoing as u64),
        ("stubs", stubs as u64),
        ("guests", guests as u64),
        ("orphaned", c.orphaned.load(Ordering::Relaxed)),
        ("expired", c.expired.load(Ordering::Relaxed)),
        ("foreign", c.foreign.load(Ordering::Relaxed)),
        ("user_busy", c.user_busy.load(Ordering::Relaxed)),
        ("kills_followed", c.kills_followed.load(Ordering::Relaxed)),
        ("news_asked", c.news_asked.load(Ordering::Relaxed)),
        ("refused", c.refused.load(Ordering::Relaxed)),
        ("malformed", c.malformed.load(Ordering::Relaxed)),
    ];
    for (k, v) in rows {
        writeln!(out, "{k} {v}").map_err(fmt_err)?;
    }
    Ok(())
}

fn show_max_per_user(_: &Pages, out: &mut ShowBuf<'_>) -> Result {
    let m = migrate::migrator().ok_or(ENODEV)?;
    writeln!(out, "{}", m.max_per_user.load(Ordering::Relaxed)).map_err(fmt_err)
}

/// Migrations a user without `CAP_SYS_ADMIN` may make from this node at
/// once, `0` (none) to `MAX_PER_USER_LIMIT`.
fn store_max_per_user(_: &Pages, buf: &[u8]) -> Result {
    let m = migrate::migrator().ok_or(ENODEV)?;
    let v = knob::parse_u32(buf, MAX_PER_USER_LIMIT).map_err(|_| EINVAL)?;
    m.max_per_user.store(v, Ordering::Relaxed);
    Ok(())
}
