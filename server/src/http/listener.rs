//! Accepting connections with limits, so that clients who open sockets and send nothing, or
//! send half a request, cannot use up the process: a cap on open connections, a deadline for
//! a request's headers (also between requests on a kept-alive connection), and a graceful
//! stop that gives in-flight requests a bounded grace period.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most; further clients wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and to start its next request on a
    /// kept-alive connection.
    pub header_timeout: Duration,
    /// How long in-flight requests may run after the stop signal.
    pub grace: Duration,
}

/// Serves `app` on `listener` until `stop` turns true. Handlers see the peer's address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
            _ = stopped(&mut stop) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut()
                    .insert(ConnectInfo::<std::net::SocketAddr>(peer));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?limits.grace, "requests still running after the grace period were cut");
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Raises the soft limit on open files to the hard limit, so the connection cap, not the
/// process's file table, is what bounds connections.
pub fn raise_open_files_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start(
        limits: Limits,
    ) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let app = Router::new().route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, app, limits, stopped));
        (addr, stop, task)
    }

    fn limits(max_connections: usize) -> Limits {
        Limits {
            max_connections,
            header_timeout: Duration::from_millis(300),
            grace: Duration::from_secs(1),
        }
    }

    /// Reads until the server closes the socket; `None` if it is still open after `wait`.
    async fn closed_within(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        tokio::time::timeout(wait, s.read_to_end(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(buf)
    }

    async fn get_peer(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let out = closed_within(&mut s, Duration::from_secs(5)).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[cfg(unix)]
    #[test]
    fn the_open_files_soft_limit_is_raised_to_the_hard_limit() {
        raise_open_files_limit();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address() {
        let (addr, _stop, _task) = start(limits(8)).await;
        let resp = get_peer(addr).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(resp.ends_with("127.0.0.1"), "{resp}");
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_after_the_header_timeout() {
        let (addr, _stop, _task) = start(limits(8)).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert!(
            closed_within(&mut silent, Duration::from_secs(5))
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn half_sent_headers_are_cut_off() {
        let (addr, _stop, _task) = start(limits(8)).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        assert!(
            closed_within(&mut slow, Duration::from_secs(5))
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn connections_over_the_cap_wait_until_one_closes() {
        let (addr, _stop, _task) = start(limits(2)).await;
        // Two silent sockets take both slots (until the header timeout frees them).
        let _a = TcpStream::connect(addr).await.unwrap();
        let _b = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let resp = get_peer(addr).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        // Served only once a slot was freed by the timeout, not before.
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "served over the cap"
        );
    }

    #[tokio::test]
    async fn stop_ends_the_server_within_the_grace_period() {
        let (addr, stop, task) = start(limits(8)).await;
        let _idle = TcpStream::connect(addr).await.unwrap();
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(3), task)
            .await
            .expect("the server outlived its grace period")
            .unwrap();
    }
}
