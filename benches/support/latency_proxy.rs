//! A latency proxy for `make bench`'s remote-server row: listens on loopback only and forwards
//! each connection to the local cluster's Unix socket, delivering every chunk the server sends
//! `delay` after it arrived (so each round trip costs `delay` more, and pipelined traffic
//! stays pipelined, as on a real network). Bounded: at most `MAX_CONNECTIONS` connections at
//! once, and it serves only while the [`LatencyProxy`] lives.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const MAX_CONNECTIONS: usize = 16;

pub struct LatencyProxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl LatencyProxy {
    /// Starts forwarding `127.0.0.1:<port>` to the Unix socket `socket`.
    pub fn start(socket: PathBuf, delay: Duration) -> std::io::Result<LatencyProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let stopping = stop.clone();
        thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                            continue; // dropped: the client sees the connection close
                        }
                        let Ok(server) = UnixStream::connect(&socket) else {
                            continue;
                        };
                        open.fetch_add(1, Ordering::Relaxed);
                        let open = open.clone();
                        thread::spawn(move || {
                            serve(client, server, delay);
                            open.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(LatencyProxy { port, stop })
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Client to server at once; server to client each chunk `delay` after it arrived.
fn serve(client: TcpStream, server: UnixStream, delay: Duration) {
    client.set_nodelay(true).ok();
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (send, receive) = mpsc::channel::<(Instant, Vec<u8>)>();
    let mut server_in = server;
    let reader = thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = server_in.read(&mut buffer) {
            if n == 0 || send.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    let mut client_out = client;
    for (arrived, chunk) in receive {
        let due = arrived + delay;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        if client_out.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = client_out.shutdown(Shutdown::Both);
    let _ = reader.join();
    let _ = upstream.join();
}
