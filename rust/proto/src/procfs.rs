// SPDX-License-Identifier: GPL-2.0-only
//! Merging several nodes' `/proc` system files into one cluster-wide file,
//! as unmodified `top`, `free` and `uptime` expect to read it.
//!
//! Each function takes the nodes' texts in node order and writes the merged
//! text. Input is untrusted (it crossed the network): unparsable lines are
//! skipped, sums saturate, and nothing panics.

use core::fmt::{self, Write};

fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
}

fn num(w: &[u8]) -> Option<u64> {
    if w.is_empty() || w.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in w {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// A decimal with two fractional digits ("12.34"), in hundredths.
fn hundredths(w: &[u8]) -> Option<u64> {
    let dot = w.iter().position(|&b| b == b'.')?;
    let (int, frac) = (&w[..dot], &w[dot + 1..]);
    if frac.len() != 2 {
        return None;
    }
    num(int)?.checked_mul(100)?.checked_add(num(frac)?)
}

fn text(w: &[u8]) -> &str {
    core::str::from_utf8(w).unwrap_or("?")
}

/// `Key:   value [kB]` lines: values summed over the nodes, keyed by the
/// first node's lines. Sizes that are not amounts (`Hugepagesize`) are the
/// first node's.
pub fn merge_meminfo(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let Some(first) = nodes.first() else {
        return Ok(());
    };
    for line in lines(first) {
        let mut w = words(line);
        let (Some(key), Some(_)) = (w.next(), w.next()) else {
            continue;
        };
        let kb = w.next() == Some(&b"kB"[..]);
        let mut sum: u64 = 0;
        for node in nodes {
            let v = lines(node)
                .find(|l| words(l).next() == Some(key))
                .and_then(|l| words(l).nth(1))
                .and_then(num)
                .unwrap_or(0);
            sum = if key == b"Hugepagesize:" && sum != 0 {
                sum
            } else {
                sum.saturating_add(v)
            };
        }
        if kb {
            writeln!(out, "{:<16}{:>8} kB", text(key), sum)?;
        } else {
            writeln!(out, "{:<16}{:>8}", text(key), sum)?;
        }
    }
    Ok(())
}

fn sum_columns(nodes: &[&[u8]], key: &[u8], cols: &mut [u64]) -> usize {
    let mut width = 0;
    for node in nodes {
        if let Some(l) = lines(node).find(|l| words(l).next() == Some(key)) {
            for (i, v) in words(l)
                .skip(1)
                .map(|w| num(w).unwrap_or(0))
                .enumerate()
                .take(cols.len())
            {
                cols[i] = cols[i].saturating_add(v);
                width = width.max(i + 1);
            }
        }
    }
    width
}

/// `/proc/stat`: the `cpu` line summed, every node's `cpuN` lines numbered
/// cluster-wide in node order, counters summed, `btime` the earliest.
/// `intr` keeps only its total.
pub fn merge_stat(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let mut cpu = [0u64; 10];
    let n = sum_columns(nodes, b"cpu", &mut cpu);
    write!(out, "cpu ")?;
    for v in &cpu[..n] {
        write!(out, " {v}")?;
    }
    writeln!(out)?;
    let mut index: u64 = 0;
    for node in nodes {
        for l in lines(node) {
            let mut w = words(l);
            let Some(name) = w.next() else { continue };
            if name.len() > 3 && name.starts_with(b"cpu") && num(&name[3..]).is_some() {
                write!(out, "cpu{index}")?;
                for v in w {
                    write!(out, " {}", num(v).unwrap_or(0))?;
                }
                writeln!(out)?;
                index += 1;
            }
        }
    }
    let mut intr = [0u64; 1];
    sum_columns(nodes, b"intr", &mut intr);
    writeln!(out, "intr {}", intr[0])?;
    for key in [
        &b"ctxt"[..],
        b"btime",
        b"processes",
        b"procs_running",
        b"procs_blocked",
    ] {
        let mut v = [0u64; 1];
        if key == b"btime" {
            let min = nodes
                .iter()
                .filter_map(|n| lines(n).find(|l| words(l).next() == Some(key)))
                .filter_map(|l| words(l).nth(1).and_then(num))
                .min()
                .unwrap_or(0);
            writeln!(out, "btime {min}")?;
            continue;
        }
        sum_columns(nodes, key, &mut v);
        writeln!(out, "{} {}", text(key), v[0])?;
    }
    let mut softirq = [0u64; 16];
    let n = sum_columns(nodes, b"softirq", &mut softirq);
    write!(out, "softirq")?;
    for v in &softirq[..n] {
        write!(out, " {v}")?;
    }
    writeln!(out)
}

/// `/proc/loadavg`: loads and task counts summed, the highest last PID.
pub fn merge_loadavg(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let (mut load, mut running, mut total, mut last) = ([0u64; 3], 0u64, 0u64, 0u64);
    for node in nodes {
        let Some(l) = lines(node).next() else {
            continue;
        };
        let w: [Option<&[u8]>; 5] = {
            let mut it = words(l);
            [it.next(), it.next(), it.next(), it.next(), it.next()]
        };
        for i in 0..3 {
            load[i] = load[i].saturating_add(w[i].and_then(hundredths).unwrap_or(0));
        }
        if let Some(rt) = w[3] {
            let mut p = rt.split(|&b| b == b'/');
            running = running.saturating_add(p.next().and_then(num).unwrap_or(0));
            total = total.saturating_add(p.next().and_then(num).unwrap_or(0));
        }
        last = last.max(w[4].and_then(num).unwrap_or(0));
    }
    writeln!(
        out,
        "{}.{:02} {}.{:02} {}.{:02} {}/{} {}",
        load[0] / 100,
        load[0] % 100,
        load[1] / 100,
        load[1] % 100,
        load[2] / 100,
        load[2] % 100,
        running,
        total,
        last
    )
}

/// `/proc/uptime`: the oldest node's uptime, the sum of idle times.
pub fn merge_uptime(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let (mut up, mut idle) = (0u64, 0u64);
    for node in nodes {
        let Some(l) = lines(node).next() else {
            continue;
        };
        let mut w = words(l);
        up = up.max(w.next().and_then(hundredths).unwrap_or(0));
        idle = idle.saturating_add(w.next().and_then(hundredths).unwrap_or(0));
    }
    writeln!(
        out,
        "{}.{:02} {}.{:02}",
        up / 100,
        up % 100,
        idle / 100,
        idle % 100
    )
}

/// `/proc/cpuinfo`: every node's CPUs in node order, `processor` numbered
/// cluster-wide as in `/proc/stat`; other lines as the nodes wrote them.
pub fn merge_cpuinfo(nodes: &[&[u8]], out: &mut impl Write) -> fmt::Result {
    let mut cpu: u64 = 0;
    for node in nodes {
        for line in node.split_inclusive(|&b| b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let mut w = body.splitn(2, |&b| b == b':');
            let key = w.next().unwrap_or_default();
            if key.trim_ascii_end() == b"processor" && w.next().is_some() {
                writeln!(out, "{}: {}", text(key), cpu)?;
                cpu = cpu.saturating_add(1);
            } else {
                writeln!(out, "{}", text(body))?;
            }
        }
    }
    Ok(())
}

/// The owner of a process (effective uid and gid) from its
/// `/proc/<pid>/status`, as `/proc/<pid>` shows it.
pub fn owner(status: &[u8]) -> Option<(u32, u32)> {
    let field = |key: &[u8]| {
        lines(status)
            .find(|l| words(l).next() == Some(key))
            .and_then(|l| words(l).nth(2))
            .and_then(num)
            .and_then(|v| u32::try_from(v).ok())
    };
    Some((field(b"Uid:")?, field(b"Gid:")?))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::String;

    const MEM1: &[u8] = b"MemTotal:         500000 kB\nMemFree:          400000 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n";
    const MEM2: &[u8] = b"MemTotal:         300000 kB\nMemFree:          100000 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n";

    #[test]
    fn meminfo_sums() {
        let mut s = String::new();
        merge_meminfo(&[MEM1, MEM2], &mut s).unwrap();
        assert!(s.contains("MemTotal:         800000 kB\n"), "{s}");
        assert!(s.contains("MemFree:          500000 kB\n"));
        assert!(s.contains("Hugepagesize:       2048 kB\n"));
        assert!(s.contains("HugePages_Total:       0\n"), "{s}");
    }

    #[test]
    fn stat_renumbers_cpus() {
        let a = b"cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 1 1 1 1 1 1 1 0 0 0\ncpu1 0 1 2 3 4 5 6 0 0 0\nintr 100 5 6\nctxt 10\nbtime 1000\nprocesses 5\nprocs_running 1\nprocs_blocked 0\nsoftirq 7 1 2\n";
        let b = b"cpu  10 20 30 40 50 60 70 0 0 0\ncpu0 10 20 30 40 50 60 70 0 0 0\nintr 1 1\nctxt 5\nbtime 900\nprocesses 2\nprocs_running 2\nprocs_blocked 1\nsoftirq 3 1 1\n";
        let mut s = String::new();
        merge_stat(&[a, b], &mut s).unwrap();
        assert!(s.starts_with("cpu  11 22 33 44 55 66 77 0 0 0\n"), "{s}");
        assert!(s.contains("cpu0 1 1 1 1 1 1 1 0 0 0\ncpu1 0 1 2 3 4 5 6 0 0 0\ncpu2 10 20 30"));
        assert!(s.contains("intr 101\n") && s.contains("ctxt 15\n") && s.contains("btime 900\n"));
        assert!(s.contains("procs_running 3\n") && s.contains("softirq 10 2 3\n"));
    }

    #[test]
    fn loadavg_and_uptime() {
        let mut s = String::new();
        merge_loadavg(
            &[b"0.50 1.25 2.00 1/40 300\n", b"1.50 0.75 0.05 2/60 500\n"],
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "2.00 2.00 2.05 3/100 500\n");
        let mut s = String::new();
        merge_uptime(&[b"100.50 150.25\n", b"90.00 170.75\n"], &mut s).unwrap();
        assert_eq!(s, "100.50 321.00\n");
    }

    #[test]
    fn cpuinfo_renumbers() {
        let a = b"processor\t: 0\nvendor_id\t: X\n\nprocessor\t: 1\nvendor_id\t: X\n\n";
        let b = b"processor\t: 0\nflags\t\t: fpu processor\n\n";
        let mut s = String::new();
        merge_cpuinfo(&[a, b], &mut s).unwrap();
        assert_eq!(
            s,
            "processor\t: 0\nvendor_id\t: X\n\nprocessor\t: 1\nvendor_id\t: X\n\nprocessor\t: 2\nflags\t\t: fpu processor\n\n"
        );
    }

    #[test]
    fn owner_is_effective_ids() {
        let st = b"Name:\tsleep\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\n";
        assert_eq!(owner(st), Some((1001, 101)));
        assert_eq!(owner(b"Uid:\t1\n"), None);
    }

    proptest! {
        #[test]
        fn never_panics(a in proptest::collection::vec(any::<u8>(), 0..200),
                        b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut s = String::new();
            let _ = merge_meminfo(&[&a, &b], &mut s);
            let _ = merge_stat(&[&a, &b], &mut s);
            let _ = merge_loadavg(&[&a, &b], &mut s);
            let _ = merge_uptime(&[&a, &b], &mut s);
            let _ = merge_cpuinfo(&[&a, &b], &mut s);
            let _ = owner(&a);
        }
    }
}
