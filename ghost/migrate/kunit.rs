// SPDX-License-Identifier: GPL-2.0-only
//! KUnit: only the node a migration involves may speak of it (an arrival
//! keeps the migrations its `BEGIN` counted), and an arrival whose origin
//! left the view is dropped. Runs at load on a migrator of its own (not
//! the module's), with made-up nodes and PIDs.

use super::*;
use crate::kernel_ext::kunit::Test;
use crate::kunit_expect;

/// A PID no node allocates (node ranges end at `256 << 14`).
const PID: u32 = (256 << 14) + 1;
/// Nodes: where the stub's process runs, its guest's home and origin, the
/// destination of an outgoing migration, the origin of an arrival, and an
/// outsider. None is a member (the core drops non-members; the migrator
/// must not rely on that).
const AT: u8 = 201;
const G_HOME: u8 = 203;
const G_ORIGIN: u8 = 204;
const DST: u8 = 205;
const ORIGIN: u8 = 206;
const OTHER: u8 = 207;

const MIG_IN: u64 = 0xfe00_0000_0000_0001;
const MIG_GUEST: u64 = 0xfe00_0000_0000_0002;
const MIG_OUT: u64 = 0xfe00_0000_0000_0003;

fn tables(m: &Migrator) -> Result {
    let mut s = m.state.lock();
    s.stubs.push(
        Stub {
            pid: PID,
            at: AT,
            exit: None,
            back: None,
            early_exit: None,
            prev: 0,
            moves: Moves::default(),
        },
        GFP_KERNEL,
    )?;
    s.guests.push(
        Guest {
            pid: PID + 1,
            home: G_HOME,
            origin: G_ORIGIN,
            mig: MIG_GUEST,
            ppid: 0,
            running: true,
            silent: false,
        },
        GFP_KERNEL,
    )?;
    s.outgoing.push(
        Outgoing {
            mig: MIG_OUT,
            dst: DST,
            uid: None,
            result: None,
        },
        GFP_KERNEL,
    )?;
    Ok(())
}

fn senders_checked(t: &Test) {
    let Ok(m) = Arc::pin_init(Migrator::new(), GFP_KERNEL) else {
        return kunit_expect!(t, false);
    };
    kunit_expect!(t, tables(&m).is_ok());
    let begin = Msg::Begin {
        mig: MIG_IN,
        pid: PID + 2,
        home: ORIGIN,
        hops: 5,
    };
    kunit_expect!(t, m.handle(ORIGIN, begin).is_ok());
    let data = Msg::Data {
        mig: MIG_IN,
        bytes: b"abc",
    };
    let foreign = [
        (OTHER, data),
        (OTHER, Msg::Go { mig: MIG_IN }),
        (OTHER, Msg::Abort { mig: MIG_IN }),
        (OTHER, Msg::Abort { mig: MIG_GUEST }),
        (
            OTHER,
            Msg::Result {
                mig: MIG_OUT,
                errno: 0,
                reason: 0,
                detail: 0,
            },
        ),
        (
            OTHER,
            Msg::Exit {
                pid: PID,
                status: 0,
            },
        ),
        (
            OTHER,
            Msg::Moved {
                pid: PID,
                node: OTHER,
            },
        ),
        (
            OTHER,
            Msg::Signal {
                pid: PID + 1,
                sig: 9,
            },
        ),
        (
            OTHER,
            Msg::Begin {
                mig: MIG_IN + 10,
                pid: PID,
                home: OTHER,
                hops: 0,
            },
        ),
    ];
    for (src, msg) in foreign {
        kunit_expect!(t, m.handle(src, msg) == Err(EPERM));
    }
    kunit_expect!(
        t,
        m.counts.foreign.load(Ordering::Relaxed) == foreign.len() as u64
    );
    {
        // Nothing changed.
        let s = m.state.lock();
        let i = s.incoming.iter().find(|i| i.mig == MIG_IN);
        kunit_expect!(
            t,
            i.is_some_and(|i| !i.go
                && i.hops == 5
                && i.stream.as_ref().is_some_and(|c| c.len() == 0))
        );
        kunit_expect!(t, s.incoming.len() == 1 && s.queue.is_empty());
        kunit_expect!(t, s.guests.iter().all(|g| !g.silent));
        kunit_expect!(t, s.outgoing.iter().all(|o| o.result.is_none()));
        kunit_expect!(
            t,
            s.stubs
                .iter()
                .all(|st| st.at == AT && st.exit.is_none() && st.back.is_none())
        );
    }
    // The nodes involved are heard.
    kunit_expect!(t, m.handle(ORIGIN, data).is_ok());
    let result = Msg::Result {
        mig: MIG_OUT,
        errno: 0,
        reason: 0,
        detail: 0,
    };
    kunit_expect!(t, m.handle(DST, result).is_ok());
    kunit_expect!(
        t,
        m.handle(
            AT,
            Msg::Exit {
                pid: PID,
                status: 3
            }
        )
        .is_ok()
    );
    {
        let s = m.state.lock();
        kunit_expect!(
            t,
            s.incoming
                .iter()
                .any(|i| i.stream.as_ref().is_some_and(|c| c.len() == 3))
        );
        kunit_expect!(t, s.outgoing.iter().all(|o| o.result.is_some()));
        kunit_expect!(t, s.stubs.iter().all(|st| st.exit == Some(3)));
    }
    // Its origin is not a member: the arrival is dropped, counted.
    m.expire();
    kunit_expect!(t, m.census()[0] == 0);
    kunit_expect!(t, m.counts.orphaned.load(Ordering::Relaxed) == 1);
}

crate::kunit_suite!(name: "ssi_ghost_migration", cases: [senders_checked]);
