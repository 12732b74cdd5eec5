// SPDX-License-Identifier: GPL-2.0-only
//! User-space TCP baseline for `make bench`.
//!
//!   tcpbench serve PORT
//!   tcpbench pingpong HOST:PORT COUNT SIZE   -> "p50_us N p99_us N total_us N"
//!   tcpbench stream HOST:PORT COUNT SIZE     -> "bytes N total_us N"
//!   tcpbench time RUNS CMD [ARG...]          -> "lines N p50_us N min_us N"
//!     (runs CMD RUNS times, its output counted and discarded)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn serve(port: u16) -> std::io::Result<()> {
    let l = TcpListener::bind(("0.0.0.0", port))?;
    for conn in l.incoming() {
        let mut c = conn?;
        c.set_nodelay(true)?;
        std::thread::spawn(move || {
            // First byte: 'p' echoes messages, 's' sinks and acks at the end.
            let mut mode = [0u8; 1];
            let mut size = [0u8; 4];
            if c.read_exact(&mut mode).is_err() || c.read_exact(&mut size).is_err() {
                return;
            }
            let mut buf = vec![0u8; u32::from_le_bytes(size) as usize];
            if mode[0] == b'p' {
                while c.read_exact(&mut buf).is_ok() {
                    if c.write_all(&buf).is_err() {
                        return;
                    }
                }
            } else {
                let mut total: u64 = 0;
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n as u64,
                    }
                }
                let _ = c.write_all(&total.to_le_bytes());
            }
        });
    }
    Ok(())
}

fn connect(addr: &str, mode: u8, size: u32) -> std::io::Result<TcpStream> {
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    c.write_all(&[mode])?;
    c.write_all(&size.to_le_bytes())?;
    Ok(c)
}

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    match arg(1) {
        "time" => {
            let runs: usize = arg(2).parse().unwrap_or(5).max(1);
            let mut us = Vec::with_capacity(runs);
            let mut lines = 0;
            for _ in 0..runs {
                let t = Instant::now();
                let out = std::process::Command::new(arg(3))
                    .args(&a[4.min(a.len())..])
                    .output()?;
                us.push(t.elapsed().as_micros() as u64);
                lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
            }
            us.sort_unstable();
            println!("lines {} p50_us {} min_us {}", lines, us[runs / 2], us[0]);
            Ok(())
        }
        "serve" => serve(arg(2).parse().unwrap_or(7777)),
        "pingpong" => {
            let (count, size): (usize, u32) =
                (arg(3).parse().unwrap_or(1000), arg(4).parse().unwrap_or(64));
            let mut c = connect(arg(2), b'p', size)?;
            let mut buf = vec![7u8; size as usize];
            let mut lat = Vec::with_capacity(count);
            let start = Instant::now();
            for _ in 0..count {
                let t = Instant::now();
                c.write_all(&buf)?;
                c.read_exact(&mut buf)?;
                lat.push(t.elapsed().as_micros() as u64);
            }
            let total = start.elapsed().as_micros();
            lat.sort_unstable();
            let pct = |p: usize| lat[(lat.len() - 1) * p / 100];
            println!("p50_us {} p99_us {} total_us {}", pct(50), pct(99), total);
            Ok(())
        }
        "stream" => {
            let (count, size): (usize, u32) = (
                arg(3).parse().unwrap_or(1000),
                arg(4).parse().unwrap_or(65536),
            );
            let mut c = connect(arg(2), b's', size)?;
            let buf = vec![7u8; size as usize];
            let start = Instant::now();
            for _ in 0..count {
                c.write_all(&buf)?;
            }
            c.shutdown(std::net::Shutdown::Write)?;
            let mut ack = [0u8; 8];
            c.read_exact(&mut ack)?;
            let total = start.elapsed().as_micros();
            println!("bytes {} total_us {}", u64::from_le_bytes(ack), total);
            Ok(())
        }
        _ => {
            eprintln!("usage: tcpbench serve PORT | pingpong HOST:PORT COUNT SIZE | stream HOST:PORT COUNT SIZE");
            std::process::exit(2)
        }
    }
}
