//! A flaky HTTP/1.1 proxy on loopback, for the retry tests.
//!
//! It reads each request's head and body (Content-Length or chunked) so that
//! it knows where requests begin on a kept-alive connection, and passes the
//! responses back raw. The first attempt of a request may meet a fault; a
//! retry of the same request (same method, path and digest or part number)
//! never does, so a tool that retries always gets through and a tool that
//! does not fails. The faults go round in a fixed cycle over new requests:
//! none, dropped, 503, slow, response lost after the server acted, body cut
//! off half-way.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Passed on untouched.
    Pass,
    /// The connection is closed before the request reaches the server.
    Drop,
    /// `503 Service Unavailable`, without asking the server.
    Unavailable,
    /// Passed on after a delay.
    Slow,
    /// Passed on whole, but the server's answer never comes back.
    LostResponse,
    /// Half the body reaches the server, then the connection closes.
    CutBody,
}

const CYCLE: [Fault; 6] = [
    Fault::Pass,
    Fault::Drop,
    Fault::Unavailable,
    Fault::Slow,
    Fault::LostResponse,
    Fault::CutBody,
];

/// How long a slow request waits before it is passed on.
const SLOW: Duration = Duration::from_millis(1500);

/// What the proxy did, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub requests: usize,
    pub dropped: usize,
    pub unavailable: usize,
    pub slow: usize,
    pub lost: usize,
    pub cut: usize,
}

impl Counts {
    /// Faults injected, slow requests not counted.
    pub fn failed(&self) -> usize {
        self.dropped + self.unavailable + self.lost + self.cut
    }
}

struct Shared {
    upstream: String,
    seen: Mutex<HashSet<String>>,
    counts: Mutex<Counts>,
}

/// The proxy: it runs until the test process ends.
pub struct FlakyProxy {
    /// `127.0.0.1:PORT` to point the tool at.
    pub addr: String,
    shared: Arc<Shared>,
}

impl FlakyProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`HOST:PORT`).
    pub fn start(upstream: &str) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            seen: Mutex::new(HashSet::new()),
            counts: Mutex::new(Counts::default()),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        FlakyProxy { addr, shared }
    }

    /// What was done so far.
    pub fn counts(&self) -> Counts {
        *self.shared.counts.lock().unwrap()
    }
}

impl Shared {
    fn fault_for(&self, method: &str, target: &str) -> Fault {
        let mut counts = self.counts.lock().unwrap();
        counts.requests += 1;
        let mut seen = self.seen.lock().unwrap();
        if !seen.insert(identity(method, target)) {
            return Fault::Pass; // a retry
        }
        let fault = CYCLE[seen.len() % CYCLE.len()];
        match fault {
            Fault::Pass => {}
            Fault::Drop => counts.dropped += 1,
            Fault::Unavailable => counts.unavailable += 1,
            Fault::Slow => counts.slow += 1,
            Fault::LostResponse => counts.lost += 1,
            Fault::CutBody => counts.cut += 1,
        }
        fault
    }
}

/// What makes a retry the same request: the method, the path (a registry's
/// upload session id left out: each attempt opens a new one) and the query
/// parameters that name content.
fn identity(method: &str, target: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    const UPLOADS: &str = "/blobs/uploads/";
    let path = match path.find(UPLOADS) {
        Some(i) => &path[..i + UPLOADS.len()],
        None => path,
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| p.starts_with("digest=") || p.starts_with("partNumber="))
        .collect();
    format!("{method} {path}?{}", kept.join("&"))
}

enum BodyKind {
    Length(u64),
    Chunked,
}

fn serve(client: TcpStream, sh: &Shared) {
    let Ok(upstream) = TcpStream::connect(&sh.upstream) else {
        return;
    };
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let discard = Arc::new(AtomicBool::new(false));
    let pipe = {
        let (mut from, mut to) = (upstream.try_clone().unwrap(), client.try_clone().unwrap());
        let discard = discard.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if !discard.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Both);
        })
    };
    let close = || {
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
    };
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut up = upstream.try_clone().unwrap();
    while let Some(head) = read_head(&mut reader) {
        let text = String::from_utf8_lossy(&head).to_string();
        let mut line = text.split(' ');
        let (method, target) = (line.next().unwrap_or(""), line.next().unwrap_or(""));
        let body = body_kind(&text);
        let fault = sh.fault_for(method, target);
        let passed = match fault {
            Fault::Drop => false,
            Fault::Unavailable => {
                let _ = (&client).write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                false
            }
            Fault::Pass | Fault::Slow => {
                if fault == Fault::Slow {
                    std::thread::sleep(SLOW);
                }
                up.write_all(&head).is_ok() && forward(&mut reader, &mut up, &body, false)
            }
            Fault::LostResponse => {
                discard.store(true, Ordering::SeqCst);
                let _ = up.write_all(&head).is_ok() && forward(&mut reader, &mut up, &body, false);
                // Give the server time to act on it, then hang up.
                std::thread::sleep(Duration::from_millis(500));
                false
            }
            Fault::CutBody => {
                // A bodiless request cut after its head: no answer either.
                discard.store(true, Ordering::SeqCst);
                let _ = up.write_all(&head).is_ok() && forward(&mut reader, &mut up, &body, true);
                false
            }
        };
        if !passed {
            break;
        }
    }
    close();
    let _ = pipe.join();
}

/// The request line and headers, up to and with the empty line.
fn read_head(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        match r.read_until(b'\n', &mut head) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if &head[start..] == b"\r\n" {
            return (start > 0).then_some(head);
        }
    }
}

fn body_kind(head: &str) -> BodyKind {
    for h in head.lines().skip(1) {
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            return BodyKind::Chunked;
        }
        if name == "content-length" {
            return BodyKind::Length(value.parse().unwrap_or(0));
        }
    }
    BodyKind::Length(0)
}

/// Passes the body on; with `cut`, only its first half (a chunked body: its
/// first chunk). Returns whether the whole body went through.
fn forward(r: &mut BufReader<TcpStream>, w: &mut TcpStream, body: &BodyKind, cut: bool) -> bool {
    match body {
        BodyKind::Length(n) => {
            let n = if cut { n / 2 } else { *n };
            std::io::copy(&mut r.by_ref().take(n), w).is_ok_and(|c| c == n) && !cut
        }
        BodyKind::Chunked => loop {
            let mut size_line = Vec::new();
            if r.read_until(b'\n', &mut size_line).is_err() || w.write_all(&size_line).is_err() {
                return false;
            }
            let text = String::from_utf8_lossy(&size_line);
            let hex = text.trim().split(';').next().unwrap_or("");
            let Ok(size) = u64::from_str_radix(hex, 16) else {
                return false;
            };
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l).is_err() || w.write_all(&l).is_err() {
                        return false;
                    }
                    if l == b"\r\n" || l.is_empty() {
                        return !cut;
                    }
                }
            }
            let data = size + 2; // the chunk and its CRLF
            if std::io::copy(&mut r.by_ref().take(data), w).ok() != Some(data) || cut {
                return false;
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::identity;

    #[test]
    fn a_retry_has_the_same_identity_and_other_requests_do_not() {
        let a = identity(
            "PUT",
            "/v2/hello/blobs/uploads/0b1c?_state=x&digest=sha256:ab",
        );
        let b = identity(
            "PUT",
            "/v2/hello/blobs/uploads/9f3e?_state=y&digest=sha256:ab",
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            identity("PUT", "/v2/hello/blobs/uploads/0b1c?digest=sha256:cd")
        );
        assert_ne!(identity("HEAD", "/b/k"), identity("PUT", "/b/k"));
        assert_ne!(
            identity("PUT", "/b/k?partNumber=1&uploadId=u"),
            identity("PUT", "/b/k?partNumber=2&uploadId=u")
        );
    }
}
