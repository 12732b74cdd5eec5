// SPDX-License-Identifier: GPL-2.0-only
//! Guest agent of `tools/cluster exec`.
//!
//! Reads frames from the virtio-serial port named `ssi.ctl`, runs each
//! requested argv with separate stdin/stdout/stderr pipes, and sends back
//! output and the exit status. Frame: kind (u8), session (u32 LE),
//! length (u32 LE), payload.
//!
//! host -> guest: `P` ping, `O` open (argv, each NUL-terminated), `I` stdin
//! bytes, `E` stdin end, `K` kill the session's process group.
//! guest -> host: `H` hello (answer to ping), `1` stdout, `2` stderr,
//! `X` exit status (i32 LE; 128+N for signal N), `F` spawn failure text.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const MAX_PAYLOAD: usize = 1 << 20;
const PORT_NAME: &str = "ssi.ctl";

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

type Port = Arc<Mutex<File>>;

fn send(port: &Port, kind: u8, session: u32, payload: &[u8]) {
    let mut frame = Vec::with_capacity(9 + payload.len());
    frame.push(kind);
    frame.extend_from_slice(&session.to_le_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(payload);
    let mut port = port.lock().unwrap_or_else(|e| e.into_inner());
    // The host may be gone (cluster going down): nothing to do then.
    let _ = port.write_all(&frame);
}

fn find_port() -> io::Result<String> {
    for entry in fs::read_dir("/sys/class/virtio-ports")? {
        let entry = entry?;
        let name = fs::read_to_string(entry.path().join("name")).unwrap_or_default();
        if name.trim() == PORT_NAME {
            return Ok(format!("/dev/{}", entry.file_name().to_string_lossy()));
        }
    }
    Err(io::Error::new(io::ErrorKind::NotFound, "no ssi.ctl port"))
}

struct Session {
    stdin: Option<mpsc::Sender<Option<Vec<u8>>>>,
    pid: i32,
}

fn pump(port: Port, session: u32, kind: u8, mut from: impl Read, done: mpsc::Sender<()>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => send(&port, kind, session, &buf[..n]),
        }
    }
    let _ = done.send(());
}

fn open(port: &Port, sessions: &Arc<Mutex<HashMap<u32, Session>>>, id: u32, payload: &[u8]) {
    // Each argument is NUL-terminated: the last split piece is empty.
    let mut pieces: Vec<&[u8]> = payload.split(|&b| b == 0).collect();
    pieces.pop();
    let argv: Vec<std::ffi::OsString> = pieces
        .into_iter()
        .map(|a| <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(a).to_os_string())
        .collect();
    let Some((prog, args)) = argv.split_first() else {
        send(port, b'F', id, b"empty command");
        return;
    };
    let spawned = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            send(
                port,
                b'F',
                id,
                format!("{}: {e}", prog.to_string_lossy()).as_bytes(),
            );
            return;
        }
    };
    let pid = child.id() as i32;
    let (done_tx, done_rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        let (p, d) = (port.clone(), done_tx.clone());
        thread::spawn(move || pump(p, id, b'1', out, d));
    }
    if let Some(err) = child.stderr.take() {
        let (p, d) = (port.clone(), done_tx.clone());
        thread::spawn(move || pump(p, id, b'2', err, d));
    }
    drop(done_tx);
    let (in_tx, in_rx) = mpsc::channel::<Option<Vec<u8>>>();
    if let Some(mut stdin) = child.stdin.take() {
        thread::spawn(move || {
            while let Ok(Some(data)) = in_rx.recv() {
                if stdin.write_all(&data).is_err() {
                    break;
                }
            }
        });
    }
    sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(
        id,
        Session {
            stdin: Some(in_tx),
            pid,
        },
    );
    let (p, s) = (port.clone(), sessions.clone());
    thread::spawn(move || {
        let status = child.wait();
        // Give the pipes a moment to drain; a daemon that keeps them open
        // must not hold the exit status back.
        for _ in 0..2 {
            if done_rx.recv_timeout(Duration::from_secs(1)).is_err() {
                break;
            }
        }
        let code = match status {
            Ok(st) => st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
            Err(_) => 255,
        };
        s.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        send(&p, b'X', id, &code.to_le_bytes());
    });
}

fn main() -> io::Result<()> {
    let path = loop {
        match find_port() {
            Ok(p) => break p,
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    };
    // A virtio port can be open only once: share one descriptor.
    let mut rx = OpenOptions::new().read(true).write(true).open(&path)?;
    let port: Port = Arc::new(Mutex::new(rx.try_clone()?));
    let sessions: Arc<Mutex<HashMap<u32, Session>>> = Arc::default();
    let mut header = [0u8; 9];
    loop {
        if let Err(e) = rx.read_exact(&mut header) {
            // The port reads EOF while no host is connected: wait and retry.
            if e.kind() == io::ErrorKind::UnexpectedEof {
                thread::sleep(Duration::from_millis(50));
                continue;
            }
            return Err(e);
        }
        let kind = header[0];
        let id = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
        let len = u32::from_le_bytes([header[5], header[6], header[7], header[8]]) as usize;
        if len > MAX_PAYLOAD {
            eprintln!("ssi-agent: oversized frame ({len} bytes), resynchronising");
            continue;
        }
        let mut payload = vec![0u8; len];
        rx.read_exact(&mut payload)?;
        match kind {
            b'P' => send(&port, b'H', id, &payload),
            b'O' => open(&port, &sessions, id, &payload),
            b'I' | b'E' | b'K' => {
                let mut map = sessions.lock().unwrap_or_else(|e| e.into_inner());
                let Some(s) = map.get_mut(&id) else { continue };
                match kind {
                    b'I' => {
                        if let Some(tx) = &s.stdin {
                            let _ = tx.send(Some(payload));
                        }
                    }
                    b'E' => s.stdin = None,
                    _ => {
                        // SAFETY: sends SIGKILL to the session's own
                        // process group (the child was made its leader).
                        unsafe { kill(-s.pid, 9) };
                    }
                }
            }
            _ => eprintln!("ssi-agent: unknown frame kind {kind}"),
        }
    }
}
