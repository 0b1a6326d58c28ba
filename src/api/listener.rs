//! Serving the API's connections, with bounds. A client that connects and never finishes a
//! header would otherwise hold its connection (and a file descriptor) forever, and enough of
//! them take the daemon's last descriptor: then nobody gets an answer.
//!
//! - hyper closes a connection whose request header is not complete within
//!   `header_read_timeout`, which also bounds how long an idle keep-alive connection stays.
//! - At most `max_connections` are open. A new connection at the cap closes the oldest idle
//!   one: one that has no request in flight (it is still sending its header, or waits
//!   between requests). Connections with a request in flight (a streaming `logs -f`, an
//!   attached `up`) and upgraded ones (`exec`, `run`) are never closed for this; when every
//!   connection is such, the new one gets a 503 and is closed.

use axum::Router;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, watch};

/// The bounds on the API's connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// One open connection.
struct Slot {
    /// Requests being answered (the handler runs or the answer's body is being sent).
    inflight: AtomicU32,
    /// Switched to another protocol (exec, run): busy until the stream is dropped.
    upgraded: AtomicBool,
    /// Chosen to be closed; no longer counted.
    closing: AtomicBool,
    /// When it last became idle (or was accepted).
    idle_since: Mutex<Instant>,
    close: Notify,
}

impl Slot {
    fn is_idle(&self) -> bool {
        self.inflight.load(Ordering::SeqCst) == 0 && !self.upgraded.load(Ordering::SeqCst)
    }
}

#[derive(Default)]
struct Table {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next: AtomicU64,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes room for one more connection under `max`: true when there is room (possibly
    /// after asking the oldest idle connection to close), false when all are busy.
    fn make_room(&self, max: usize) -> bool {
        let slots = self.lock();
        let open = slots
            .values()
            .filter(|s| !s.closing.load(Ordering::SeqCst))
            .count();
        if open < max {
            return true;
        }
        let oldest = slots
            .values()
            .filter(|s| !s.closing.load(Ordering::SeqCst) && s.is_idle())
            .min_by_key(|s| *s.idle_since.lock().unwrap_or_else(|p| p.into_inner()));
        match oldest {
            Some(s) => {
                s.closing.store(true, Ordering::SeqCst);
                s.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn add(self: &Arc<Self>) -> (Arc<Slot>, SlotGuard) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            inflight: AtomicU32::new(0),
            upgraded: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            close: Notify::new(),
        });
        self.lock().insert(id, slot.clone());
        (
            slot,
            SlotGuard {
                table: self.clone(),
                id,
            },
        )
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Removes its connection from the table when the socket is dropped, which for an
/// upgraded connection is when its stream ends, long after hyper is done with it.
struct SlotGuard {
    table: Arc<Table>,
    id: u64,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.table.lock().remove(&self.id);
    }
}

/// The socket, tied to its slot in the table.
struct Tracked {
    io: TokioIo<UnixStream>,
    _slot: SlotGuard,
}

impl hyper::rt::Read for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// A request in flight on a connection; dropped when its answer has been sent.
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: Arc<Slot>) -> Busy {
        slot.inflight.fetch_add(1, Ordering::SeqCst);
        Busy(slot)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An answer's body that keeps its connection busy until it is sent (or dropped).
struct Guarded {
    inner: axum::body::Body,
    _busy: Busy,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then gives open requests up to
/// `grace` to finish.
pub async fn serve(
    listener: UnixListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let table = Arc::new(Table::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors (or memory): retrying at once would spin.
                    eprintln!("rstack: accepting an API connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if !table.make_room(limits.max_connections) {
            refuse(stream, limits.max_connections);
            continue;
        }
        let (slot, guard) = table.add();
        tokio::spawn(connection(
            Tracked {
                io: TokioIo::new(stream),
                _slot: guard,
            },
            slot,
            app.clone(),
            http.clone(),
            stop_rx.clone(),
        ));
    }
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + grace;
    while table.len() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Serves one connection until it ends, is chosen to make room, or the daemon stops.
async fn connection(
    io: Tracked,
    slot: Arc<Slot>,
    app: Router,
    http: Arc<hyper::server::conn::http1::Builder>,
    mut stop: watch::Receiver<bool>,
) {
    let svc_slot = slot.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = Busy::new(svc_slot.clone());
        let slot = svc_slot.clone();
        let app = hyper_util::service::TowerToHyperService::new(app.clone());
        async move {
            let resp = hyper::service::Service::call(&app, req).await?;
            if resp.status() == hyper::StatusCode::SWITCHING_PROTOCOLS {
                slot.upgraded.store(true, Ordering::SeqCst);
            }
            Ok::<_, std::convert::Infallible>(resp.map(|inner| Guarded { inner, _busy: busy }))
        }
    });
    let conn = http.serve_connection(io, svc).with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = slot.close.notified() => {
                // Chosen while idle; should a request have begun since, it is served.
                if slot.is_idle() {
                    return;
                }
                slot.closing.store(false, Ordering::SeqCst);
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers a connection there is no room for with a 503, without waiting for its request.
fn refuse(stream: UnixStream, max: usize) {
    let body = format!(
        "{{\"message\":\"the daemon has {max} connections open, all busy (max_connections in its config): try again later\"}}"
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // Best effort, never blocking: a fresh socket's send buffer takes this much.
    let _ = stream.try_write(answer.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_made_by_closing_the_oldest_idle_connection() {
        let table = Arc::new(Table::default());
        let (a, _ga) = table.add();
        std::thread::sleep(Duration::from_millis(2));
        let (b, _gb) = table.add();
        let (c, _gc) = table.add();
        let _busy = Busy::new(a.clone());
        c.upgraded.store(true, Ordering::SeqCst);
        assert!(table.make_room(4));
        assert!(!b.closing.load(Ordering::SeqCst));
        // At the cap: `a` is busy and `c` upgraded, so `b` goes.
        assert!(table.make_room(3));
        assert!(b.closing.load(Ordering::SeqCst));
        // `b` no longer counts; with the cap at 2 nothing idle is left.
        assert!(!table.make_room(2));
        assert!(!a.closing.load(Ordering::SeqCst) && !c.closing.load(Ordering::SeqCst));
    }

    #[test]
    fn a_slot_leaves_the_table_with_its_socket() {
        let table = Arc::new(Table::default());
        let (_s, guard) = table.add();
        assert_eq!(table.len(), 1);
        drop(guard);
        assert_eq!(table.len(), 0);
    }
}
