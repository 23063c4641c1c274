//! A TCP proxy in front of a server the tests share and cannot stop (PostgreSQL): cutting it
//! is that server going away for the processes behind it, resetting it a restart that drops
//! every connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    forwards: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Forwards loopback connections on a port of its own to `upstream` (host:port).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let up = Arc::new(AtomicBool::new(true));
        let forwards: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (open, spawned) = (up.clone(), forwards.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // Down: the connection is closed at once, as a refused one would be.
                if !open.load(Ordering::Acquire) {
                    continue;
                }
                let upstream = upstream.clone();
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut live = spawned.lock().unwrap_or_else(PoisonError::into_inner);
                live.retain(|f| !f.is_finished());
                live.push(forward);
            }
        });
        Self {
            port,
            up,
            forwards,
            accept,
        }
    }

    /// A PostgreSQL URL (`postgres://user@host:port/database`) with this proxy's address.
    pub async fn in_front_of(url: &str) -> (Self, String) {
        let (head, rest) = url.split_once('@').expect("credentials in the url");
        let (host_port, database) = rest.split_once('/').expect("a database in the url");
        let proxy = Self::start(host_port.to_owned()).await;
        let via = format!("{head}@127.0.0.1:{}/{database}", proxy.port);
        (proxy, via)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every forwarded connection mid-stream; new ones are forwarded.
    pub fn reset(&self) {
        let mut live = self.forwards.lock().unwrap_or_else(PoisonError::into_inner);
        for f in live.drain(..) {
            f.abort();
        }
    }

    /// Drops every connection and closes new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::Release);
        self.reset();
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.reset();
    }
}
