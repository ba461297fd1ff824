//! Serves a router on 127.0.0.1:0 over HTTP/1.1 and h2c, like axum::serve, but with HTTP/2
//! settings close to Google's and a count of accepted connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// FCM and most push services allow 100 concurrent streams per HTTP/2 connection; a client
/// that relies on more must open more connections, here as there.
const MAX_CONCURRENT_STREAMS: u32 = 100;

pub(crate) struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds first, so that a fake can know its own address before it builds its router.
    pub(crate) async fn bind() -> TcpListener {
        TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("testkit: bind 127.0.0.1:0")
    }

    pub(crate) fn serve(listener: TcpListener, router: Router) -> Server {
        let addr = listener.local_addr().expect("testkit: local_addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            // Connection tasks live in the set so that aborting the accept loop ends them too.
            let mut conns = JoinSet::new();
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(_) => {
                        // Out of file descriptors under load: back off instead of spinning.
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        continue;
                    }
                };
                while conns.try_join_next().is_some() {}
                counter.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                conns.spawn(async move {
                    let mut builder = Builder::new(TokioExecutor::new());
                    builder
                        .http2()
                        .max_concurrent_streams(MAX_CONCURRENT_STREAMS);
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server {
            addr,
            connections,
            task,
        }
    }

    pub(crate) fn base_url(&self) -> String {
        base_url(&self.addr)
    }

    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn base_url(addr: &SocketAddr) -> String {
    format!("http://{addr}")
}
