// SPDX-License-Identifier: GPL-2.0-only
//! Migration on demand: the pages a process left on the node it came from,
//! and the messages of the ghost module's page service that bring them.
//!
//! A page is named by its linear page index (its address at the time of
//! the migration, divided by the page size; `mremap()` keeps it).
//!
//! | op        | kind    | operands                                | answer            |
//! |-----------|---------|-----------------------------------------|-------------------|
//! | 1 `FETCH` | request | `mig: u64`, `index: u64`, `count: u32`  | `count` pages     |
//! | 2 `DONE`  | one-way | `mig: u64`: every page arrived, or the process ended |  |
//!
//! `count` is 1 to [`MAX_FETCH`]; decoding checks exact lengths.

use super::codec::{Reader, Writer};

/// Page size.
pub const PAGE: usize = 4096;
/// Most pages one `FETCH` brings (the answer fits one RPC payload).
pub const MAX_FETCH: u32 = 15;
/// Longest encoded message.
pub const MAX_MSG: usize = 21;

const FETCH: u8 = 1;
const DONE: u8 = 2;

/// A message of the page service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Fetch { mig: u64, index: u64, count: u32 },
    Done { mig: u64 },
}

/// Highest page index of a 47-bit user address space.
const MAX_INDEX: u64 = (1 << 47) / PAGE as u64;

impl Msg {
    /// Decodes a message; `None` for anything malformed.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let msg = match r.u8()? {
            FETCH => {
                let mig = r.u64()?;
                let index = r.u64()?;
                let count = r.u32()?;
                let end = index.checked_add(u64::from(count))?;
                if count == 0 || count > MAX_FETCH || end > MAX_INDEX {
                    return None;
                }
                Msg::Fetch { mig, index, count }
            }
            DONE => Msg::Done { mig: r.u64()? },
            _ => return None,
        };
        r.end()?;
        Some(msg)
    }

    /// Encodes the message into `out`; returns its length.
    pub fn encode(&self, out: &mut [u8; MAX_MSG]) -> usize {
        let mut w = Writer::new(out);
        // MAX_MSG holds the longest message: the writes cannot fail.
        let _ = self.encode_into(&mut w);
        w.len()
    }

    fn encode_into(&self, w: &mut Writer<'_>) -> Option<()> {
        match *self {
            Msg::Fetch { mig, index, count } => {
                w.u8(FETCH)?;
                w.u64(mig)?;
                w.u64(index)?;
                w.u32(count)
            }
            Msg::Done { mig } => {
                w.u8(DONE)?;
                w.u64(mig)
            }
        }
    }
}

/// Up to 64 pages still elsewhere: bit `i` stands for page `first + i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub first: u64,
    pub bits: u64,
}

impl Run {
    /// The run of `count` (1 to 64) pages from address `addr`.
    pub fn of(addr: u64, count: u32) -> Option<Self> {
        let bits = match count {
            1..=63 => (1u64 << count) - 1,
            64 => u64::MAX,
            _ => return None,
        };
        Some(Run {
            first: addr / PAGE as u64,
            bits,
        })
    }
}

/// Where page `index` is pending in `runs` (sorted by `first`, their
/// pages disjoint): the run and the bit.
fn find(runs: &[Run], index: u64) -> Option<(usize, u32)> {
    // The runs that may hold it start in (index - 64, index].
    let mut k = runs.partition_point(|r| r.first <= index);
    while k > 0 {
        k -= 1;
        let r = &runs[k];
        let off = index - r.first;
        if off >= 64 {
            return None;
        }
        if r.bits & (1 << off) != 0 {
            return Some((k, off as u32));
        }
    }
    None
}

/// Whether page `index` is still elsewhere.
pub fn pending(runs: &[Run], index: u64) -> bool {
    find(runs, index).is_some()
}

/// Marks page `index` arrived (or discarded); whether it was pending.
pub fn take(runs: &mut [Run], index: u64) -> bool {
    match find(runs, index) {
        Some((k, bit)) => {
            runs[k].bits &= !(1 << bit);
            true
        }
        None => false,
    }
}

/// How many pages from `index` on, at most `max`, are pending one after
/// the other (0 if `index` is not).
pub fn batch(runs: &[Run], index: u64, max: u32) -> u32 {
    let mut n = 0;
    while n < max
        && index
            .checked_add(u64::from(n))
            .is_some_and(|i| pending(runs, i))
    {
        n += 1;
    }
    n
}

/// The first pending page at or after `from`.
pub fn next_pending(runs: &[Run], from: u64) -> Option<u64> {
    // Runs starting more than 64 pages before `from` end before it.
    let k = runs.partition_point(|r| r.first.saturating_add(64) <= from);
    runs[k..]
        .iter()
        .filter_map(|r| {
            let skip = from.saturating_sub(r.first);
            let bits = if skip >= 64 {
                0
            } else {
                r.bits >> skip << skip
            };
            (bits != 0).then(|| r.first + u64::from(bits.trailing_zeros()))
        })
        .min()
}

/// Marks pages `[first, end)` discarded; returns how many were pending.
pub fn take_range(runs: &mut [Run], first: u64, end: u64) -> u64 {
    let mut n = 0;
    for r in runs.iter_mut() {
        let (lo, hi) = (r.first, r.first.saturating_add(64));
        if hi <= first || lo >= end {
            continue;
        }
        let from = first.saturating_sub(lo);
        let to = end.min(hi) - lo;
        let width = to - from;
        let mask = if width == 64 {
            u64::MAX
        } else {
            ((1u64 << width) - 1) << from
        };
        n += u64::from((r.bits & mask).count_ones());
        r.bits &= !mask;
    }
    n
}

/// Pages still pending.
pub fn count(runs: &[Run]) -> u64 {
    runs.iter().map(|r| u64::from(r.bits.count_ones())).sum()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::vec::Vec;

    #[test]
    fn messages_round_trip_and_refuse_bad_input() {
        let mut b = [0u8; MAX_MSG];
        for m in [
            Msg::Fetch {
                mig: 7,
                index: 0x600,
                count: MAX_FETCH,
            },
            Msg::Done { mig: u64::MAX },
        ] {
            let n = m.encode(&mut b);
            assert_eq!(Msg::decode(&b[..n]), Some(m));
            assert_eq!(Msg::decode(&b[..n - 1]), None);
        }
        for count in [0, MAX_FETCH + 1] {
            let n = Msg::Fetch {
                mig: 1,
                index: 1,
                count,
            }
            .encode(&mut b);
            assert_eq!(Msg::decode(&b[..n]), None);
        }
        let n = Msg::Fetch {
            mig: 1,
            index: MAX_INDEX,
            count: 1,
        }
        .encode(&mut b);
        assert_eq!(Msg::decode(&b[..n]), None);
        assert_eq!(Msg::decode(&[]), None);
        assert_eq!(Msg::decode(&[3; 9]), None);
    }

    /// Runs as a ghost stream gives them: increasing, disjoint.
    fn runs_strategy() -> impl Strategy<Value = Vec<Run>> {
        proptest::collection::vec((0u64..100, 1u32..=64), 0..12).prop_map(|v| {
            let mut at = 0;
            v.into_iter()
                .map(|(gap, count)| {
                    at += gap;
                    let r = Run::of(at * PAGE as u64, count).unwrap();
                    at += u64::from(count);
                    r
                })
                .collect()
        })
    }

    fn model(runs: &[Run]) -> BTreeSet<u64> {
        let mut s = BTreeSet::new();
        for r in runs {
            for i in 0..64 {
                if r.bits & (1 << i) != 0 {
                    s.insert(r.first + i);
                }
            }
        }
        s
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Msg::decode(&b);
        }

        /// take, take_range, batch and count agree with a set.
        #[test]
        fn runs_behave_as_a_set(
            mut runs in runs_strategy(),
            ops in proptest::collection::vec((any::<bool>(), 0u64..2000, 1u64..100), 0..40),
        ) {
            let mut set = model(&runs);
            prop_assert_eq!(count(&runs), set.len() as u64);
            for (range, i, len) in ops {
                let want: u32 = (0..MAX_FETCH)
                    .take_while(|k| set.contains(&(i + u64::from(*k))))
                    .count() as u32;
                prop_assert_eq!(batch(&runs, i, MAX_FETCH), want);
                if range {
                    let gone = set.range(i..i + len).count() as u64;
                    prop_assert_eq!(take_range(&mut runs, i, i + len), gone);
                    set.retain(|&x| x < i || x >= i + len);
                } else {
                    prop_assert_eq!(take(&mut runs, i), set.remove(&i));
                }
                prop_assert_eq!(pending(&runs, i), set.contains(&i));
                prop_assert_eq!(next_pending(&runs, i), set.range(i..).next().copied());
                prop_assert_eq!(count(&runs), set.len() as u64);
            }
            prop_assert_eq!(model(&runs), set);
        }
    }
}
