//! A fault-injecting HTTP/1.1 proxy on loopback, put between etlake and an S3 server (moto) by giving
//! etlake the proxy's address as its endpoint. Each distinct request (method, target and `Range`) meets
//! its faults on its first attempts and goes through afterwards, so a client that retries completes
//! and one that does not fails; which requests fail, and how, is a fixed function of the request, so
//! runs are repeatable. Faults: HTTP 503 `SlowDown` and 500 `InternalError` with S3's XML error body,
//! a connection reset (RST, nothing answered), a response cut off halfway through its body, and a
//! response delayed before its first byte.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One way a request can go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    SlowDown503,
    Internal500,
    Reset,
    Truncated,
    SlowFirstByte,
}

/// Which requests fail: every `every`-th distinct request (by a hash of it) fails its first attempt,
/// and one in `twice` of those its second attempt too; the fault cycles through `kinds`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub every: u64,
    pub twice: u64,
    pub kinds: Vec<Fault>,
    pub slow: Duration,
}

impl Plan {
    /// Every kind of fault, on about half the requests.
    pub fn all_kinds() -> Plan {
        Plan {
            every: 2,
            twice: 3,
            kinds: vec![
                Fault::SlowDown503,
                Fault::Reset,
                Fault::Truncated,
                Fault::Internal500,
                Fault::SlowFirstByte,
            ],
            slow: Duration::from_millis(1500),
        }
    }

    /// Only a delay before each response's first byte (a slow server, no errors).
    pub fn slow(delay: Duration) -> Plan {
        Plan {
            every: 1,
            twice: 0,
            kinds: vec![Fault::SlowFirstByte],
            slow: delay,
        }
    }
}

/// The running proxy; stops accepting when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    /// Faults injected so far, by kind.
    pub injected: Arc<Mutex<HashMap<Fault, usize>>>,
    /// Requests seen (attempts included).
    pub requests: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str, plan: Plan) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let injected: Arc<Mutex<HashMap<Fault, usize>>> = Default::default();
        let requests: Arc<Mutex<usize>> = Default::default();
        let attempts: Arc<Mutex<HashMap<String, u64>>> = Default::default();
        let shared = (
            stop.clone(),
            injected.clone(),
            requests.clone(),
            attempts,
            Arc::new(plan),
        );
        std::thread::spawn(move || {
            let (stop, injected, requests, attempts, plan) = shared;
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let ctx = Conn {
                            upstream: upstream.clone(),
                            injected: injected.clone(),
                            requests: requests.clone(),
                            attempts: attempts.clone(),
                            plan: plan.clone(),
                        };
                        std::thread::spawn(move || ctx.serve(client));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            endpoint,
            injected,
            requests,
            stop,
        }
    }

    /// How many faults of this kind were injected.
    pub fn count(&self, f: Fault) -> usize {
        self.injected.lock().unwrap().get(&f).copied().unwrap_or(0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

struct Conn {
    upstream: String,
    injected: Arc<Mutex<HashMap<Fault, usize>>>,
    requests: Arc<Mutex<usize>>,
    attempts: Arc<Mutex<HashMap<String, u64>>>,
    plan: Arc<Plan>,
}

/// A request as read from the client: its head lines and body.
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let line = line.trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Request {
        line,
        headers,
        body: Vec::new(),
    };
    let len: usize = req
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    req.body = vec![0; len];
    r.read_exact(&mut req.body).ok()?;
    Some(req)
}

fn error_response(status: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Closes with a TCP reset (linger 0), as a server that drops the connection does.
fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}

impl Conn {
    fn fault_for(&self, req: &Request) -> Option<Fault> {
        let id = format!("{} {}", req.line, req.header("range").unwrap_or(""));
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(id.clone()).or_insert(0);
            *n += 1;
            *n
        };
        *self.requests.lock().unwrap() += 1;
        let h = fnv(&id);
        let p = &self.plan;
        let faulty = h.is_multiple_of(p.every.max(1));
        let times = if p.twice > 0 && (h / 7).is_multiple_of(p.twice) {
            2
        } else {
            1
        };
        if !faulty || attempt > times {
            return None;
        }
        // The kinds in turn, so a handful of faults meets every kind.
        let mut counts = self.injected.lock().unwrap();
        let total: usize = counts.values().sum();
        let kind = p.kinds[total % p.kinds.len()];
        *counts.entry(kind).or_insert(0) += 1;
        Some(kind)
    }

    /// Books a fault as another kind (a truncation of a response without a body is a reset).
    fn rebook(&self, from: Fault, to: Fault) {
        let mut counts = self.injected.lock().unwrap();
        *counts.entry(from).or_insert(1) -= 1;
        *counts.entry(to).or_insert(0) += 1;
    }

    fn forward(&self, req: &Request) -> Option<Vec<u8>> {
        let mut up = TcpStream::connect(&self.upstream).ok()?;
        let mut head = format!("{}\r\n", req.line);
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("Connection: close\r\n\r\n");
        up.write_all(head.as_bytes()).ok()?;
        up.write_all(&req.body).ok()?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).ok()?;
        Some(resp)
    }

    fn serve(self, client: TcpStream) {
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut client = client;
        while let Some(req) = read_request(&mut reader) {
            let fault = self.fault_for(&req);
            match fault {
                Some(Fault::SlowDown503) => {
                    let _ = client.write_all(&error_response(
                        "503 Slow Down",
                        "SlowDown",
                        "Please reduce your request rate.",
                    ));
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                Some(Fault::Internal500) => {
                    let _ = client.write_all(&error_response(
                        "500 Internal Server Error",
                        "InternalError",
                        "We encountered an internal error. Please try again.",
                    ));
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                Some(Fault::Reset) => return reset(client),
                _ => {}
            }
            let Some(resp) = self.forward(&req) else {
                return reset(client);
            };
            if fault == Some(Fault::SlowFirstByte) {
                std::thread::sleep(self.plan.slow);
            }
            if fault == Some(Fault::Truncated) {
                let split = resp
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(resp.len(), |p| p + 4);
                let body = resp.len() - split;
                if body == 0 {
                    self.rebook(Fault::Truncated, Fault::Reset);
                    return reset(client);
                }
                // Headers promise the whole body; half of it comes, then the connection closes.
                let _ = client.write_all(&resp[..split + body / 2]);
                let _ = client.flush();
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            if client.write_all(&resp).is_err() {
                return;
            }
            let head = String::from_utf8_lossy(&resp[..resp.len().min(2048)]).to_lowercase();
            if head.contains("\r\nconnection: close") {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}
