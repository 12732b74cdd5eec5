// SPDX-License-Identifier: GPL-2.0-only
//! `/proc/<pid>/ssi`: where a process of the cluster runs, its home node
//! and its migrations, one `key value` line each, always in this order:
//!
//! ```text
//! node 3
//! home 1
//! migrations 2
//! last_from 2
//! last_time 1796634000
//! ```
//!
//! `node` runs it; `home` keeps its stub, parent and PID range (where it
//! was born); `migrations` counts its moves (by `ssi-migrate`, the
//! scheduler or placement at `execve`); `last_from` is the node its last
//! move came from and `last_time` when it arrived (seconds since the
//! epoch, on the clock of the node it arrived at); both 0 if it never
//! moved. The node that runs the process writes the text; every other
//! node shows it as received, so all show the same.

use core::fmt::{self, Write};

/// The figures of `/proc/<pid>/ssi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcSsi {
    pub node: u8,
    pub home: u8,
    pub migrations: u32,
    pub last_from: u8,
    pub last_time: u64,
}

/// The keys, in order.
const KEYS: [&str; 5] = ["node", "home", "migrations", "last_from", "last_time"];

/// The longest text: five keys, their values, spaces and newlines.
pub const MAX_LEN: usize = 4 + 4 + 10 + 9 + 9 + 3 + 3 + 10 + 3 + 20 + 10;

impl ProcSsi {
    /// Whether the figures agree with each other: nodes are 1 to 255, a
    /// process that never moved runs at home and has no last move, one
    /// that moved came from another node than the one it runs on.
    pub fn consistent(&self) -> bool {
        if self.node == 0 || self.home == 0 {
            return false;
        }
        if self.migrations == 0 {
            return self.node == self.home && self.last_from == 0 && self.last_time == 0;
        }
        self.last_from != 0 && self.last_from != self.node
    }

    /// Writes the text.
    pub fn write(&self, w: &mut impl Write) -> fmt::Result {
        let values = [
            u64::from(self.node),
            u64::from(self.home),
            u64::from(self.migrations),
            u64::from(self.last_from),
            self.last_time,
        ];
        for (k, v) in KEYS.iter().zip(values) {
            writeln!(w, "{k} {v}")?;
        }
        Ok(())
    }

    /// Parses a text [`Self::write`] wrote, consistent; `None` for
    /// anything else (another order, a missing or extra line, a number
    /// out of range or with leading zeros, stray bytes).
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() > MAX_LEN {
            return None;
        }
        let mut lines = b.strip_suffix(b"\n")?.split(|&c| c == b'\n');
        let mut v = [0u64; KEYS.len()];
        for (k, out) in KEYS.iter().zip(v.iter_mut()) {
            let line = lines.next()?;
            let value = line.strip_prefix(k.as_bytes())?.strip_prefix(b" ")?;
            *out = decimal(value)?;
        }
        if lines.next().is_some() {
            return None;
        }
        let node = |x: u64| u8::try_from(x).ok();
        let p = ProcSsi {
            node: node(v[0])?,
            home: node(v[1])?,
            migrations: u32::try_from(v[2]).ok()?,
            last_from: node(v[3])?,
            last_time: v[4],
        };
        p.consistent().then_some(p)
    }
}

/// A decimal number without sign or leading zeros.
fn decimal(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    b.iter().try_fold(0u64, |v, &c| {
        if !c.is_ascii_digit() {
            return None;
        }
        v.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::procfs::SliceWriter;
    use proptest::prelude::*;
    use std::string::String;

    fn text(p: &ProcSsi) -> String {
        let mut s = String::new();
        p.write(&mut s).unwrap();
        s
    }

    const MOVED: ProcSsi = ProcSsi {
        node: 3,
        home: 1,
        migrations: 2,
        last_from: 2,
        last_time: 1_796_634_000,
    };

    #[test]
    fn format_is_documented() {
        assert_eq!(
            text(&MOVED),
            "node 3\nhome 1\nmigrations 2\nlast_from 2\nlast_time 1796634000\n"
        );
        let home = ProcSsi {
            node: 1,
            home: 1,
            migrations: 0,
            last_from: 0,
            last_time: 0,
        };
        assert_eq!(
            text(&home),
            "node 1\nhome 1\nmigrations 0\nlast_from 0\nlast_time 0\n"
        );
        assert_eq!(ProcSsi::parse(text(&home).as_bytes()), Some(home));
    }

    #[test]
    fn longest_fits() {
        let p = ProcSsi {
            node: 255,
            home: 254,
            migrations: u32::MAX,
            last_from: 253,
            last_time: u64::MAX,
        };
        let mut buf = [0u8; MAX_LEN];
        let mut w = SliceWriter::new(&mut buf);
        p.write(&mut w).unwrap();
        assert_eq!(w.written().len(), MAX_LEN);
        assert_eq!(ProcSsi::parse(w.written()), Some(p));
    }

    #[test]
    fn rejects_malformed_and_inconsistent() {
        let bad: [&str; 12] = [
            "",
            "node 3\nhome 1\nmigrations 2\nlast_from 2\nlast_time 5",
            "node 3\nhome 1\nmigrations 2\nlast_from 2\nlast_time 5\n\n",
            "home 1\nnode 3\nmigrations 2\nlast_from 2\nlast_time 5\n",
            "node 3\nhome 1\nmigrations 2\nlast_from 2\n",
            "node 03\nhome 1\nmigrations 2\nlast_from 2\nlast_time 5\n",
            "node 256\nhome 1\nmigrations 2\nlast_from 2\nlast_time 5\n",
            "node  3\nhome 1\nmigrations 2\nlast_from 2\nlast_time 5\n",
            // Never moved, yet away from home, or with a last move.
            "node 3\nhome 1\nmigrations 0\nlast_from 0\nlast_time 0\n",
            "node 1\nhome 1\nmigrations 0\nlast_from 2\nlast_time 0\n",
            // Moved, but from nowhere or from where it runs.
            "node 3\nhome 1\nmigrations 1\nlast_from 0\nlast_time 5\n",
            "node 3\nhome 1\nmigrations 1\nlast_from 3\nlast_time 5\n",
        ];
        for b in bad {
            assert_eq!(ProcSsi::parse(b.as_bytes()), None, "{b:?}");
        }
        assert_eq!(ProcSsi::parse(text(&MOVED).as_bytes()), Some(MOVED));
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = ProcSsi::parse(&b);
        }

        #[test]
        fn roundtrip(node in 1u8.., home in 1u8.., migrations in 1u32.., from in 1u8..,
                     time in any::<u64>()) {
            let p = ProcSsi { node, home, migrations, last_from: from, last_time: time };
            let parsed = ProcSsi::parse(text(&p).as_bytes());
            prop_assert_eq!(parsed, p.consistent().then_some(p));
        }
    }
}
