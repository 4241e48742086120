//! HTTP/1.1 around [`Service`]: hyper's connection-level API on tokio (through madsim-tokio,
//! so the same code runs under the simulator), with a timer built on `tokio::time`.

use crate::protocol::{HttpRequest, HttpResponse, Service, now_ms};
use bytes::Bytes;
use dynasim_engine::error::Error;
use dynasim_engine::limits::{
    REQUEST_BODY_BYTES_MAX, REQUEST_HEADER_BYTES_MAX, REQUEST_HEADER_COUNT_MAX,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// hyper's timer on `tokio::time`, which madsim simulates (hyper-util's `TokioTimer` needs the
/// real tokio runtime).
#[derive(Clone, Debug, Default)]
pub struct Timer;

struct Sleep(Pin<Box<tokio::time::Sleep>>);

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for Sleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep(Box::pin(tokio::time::sleep(duration))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let duration = deadline.saturating_duration_since(Instant::now());
        self.sleep(duration)
    }
}

/// The endpoint's own limits, beside DynamoDB's in `dynasim_engine::limits`: what one client
/// may hold of the server. `serve` gets them from the binary (the connection cap depends on
/// the process's descriptor limit).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections served at once; past it the listener stops accepting (new clients wait in
    /// the kernel's backlog), so the process never runs out of descriptors.
    pub connection_count_max: usize,
    /// How long a request body may take to arrive after its headers.
    pub body_read_ms_max: u64,
    /// Request body bytes buffered at once over all connections; past it a new body is
    /// answered 503 ServiceUnavailable (which clients retry) instead of buffered.
    pub buffered_body_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connection_count_max: 1024,
            body_read_ms_max: 30_000,
            buffered_body_bytes_max: 256 * 1024 * 1024,
        }
    }
}

/// Headers hyper parses per request. Past [`REQUEST_HEADER_COUNT_MAX`] the service answers a
/// JSON error; past this, hyper answers a bare 431 itself (its parser has a fixed array).
const HEADER_COUNT_PARSED_MAX: usize = 1024;
const _: () = assert!(HEADER_COUNT_PARSED_MAX > REQUEST_HEADER_COUNT_MAX);

/// The accept loop's pause after an error such as running out of descriptors: doubled on each
/// error in a row, from the first to the last.
const ACCEPT_BACKOFF_MS_MIN: u64 = 5;
const ACCEPT_BACKOFF_MS_MAX: u64 = 1000;

/// Request body bytes buffered by every connection together, against
/// [`Limits::buffered_body_bytes_max`].
struct BodyBudget {
    reserved_bytes: AtomicUsize,
    bytes_max: usize,
}

/// One body's share of the [`BodyBudget`], given back when dropped.
struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Reservation {
    /// Raises this body's share to `bytes`, or refuses when the budget cannot cover it.
    fn grow_to(&mut self, bytes: usize) -> Result<(), Error> {
        let more = bytes.saturating_sub(self.bytes);
        let before = self.budget.reserved_bytes.fetch_add(more, Ordering::AcqRel);
        if before + more > self.budget.bytes_max {
            self.budget.reserved_bytes.fetch_sub(more, Ordering::AcqRel);
            return Err(Error::request_buffers_full());
        }
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget
            .reserved_bytes
            .fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Reads a body into one buffer (sized from Content-Length when there is one, so that a body
/// sent a byte at a time costs its bytes and not one read buffer per frame), within the body
/// limit, the deadline and the budget.
async fn read_body(
    mut body: Incoming,
    declared_bytes: Option<usize>,
    budget: &Arc<BodyBudget>,
    read_ms_max: u64,
) -> Result<(Vec<u8>, Reservation), Error> {
    if declared_bytes.is_some_and(|length| length > REQUEST_BODY_BYTES_MAX) {
        return Err(Error::request_too_large());
    }
    let mut reservation = Reservation {
        budget: budget.clone(),
        bytes: 0,
    };
    let mut bytes = Vec::new();
    if let Some(length) = declared_bytes {
        reservation.grow_to(length)?;
        bytes.reserve_exact(length);
    }
    let collect = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::request_body_unreadable(hyper_error_text(&e)))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let length = bytes.len() + data.len();
            if length > REQUEST_BODY_BYTES_MAX {
                return Err(Error::request_too_large());
            }
            if length > bytes.capacity() {
                // A chunked body: grow by doubling, within the budget.
                let capacity = length.max(bytes.capacity() * 2).min(REQUEST_BODY_BYTES_MAX);
                reservation.grow_to(capacity)?;
                bytes.reserve_exact(capacity - bytes.len());
            }
            bytes.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout(Duration::from_millis(read_ms_max), collect).await {
        Ok(Ok(())) => Ok((bytes, reservation)),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(Error::request_body_too_slow(read_ms_max)),
    }
}

/// hyper's error with its cause ("error reading a body from connection: invalid chunk size").
fn hyper_error_text(error: &hyper::Error) -> String {
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

/// More headers, or more bytes of them, than the service reads.
fn headers_refused(headers: &hyper::HeaderMap) -> Option<Error> {
    let count = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (count > REQUEST_HEADER_COUNT_MAX || bytes > REQUEST_HEADER_BYTES_MAX)
        .then(|| Error::request_headers_too_large(count, bytes))
}

async fn respond<H, F>(
    handler: Arc<H>,
    budget: Arc<BodyBudget>,
    body_read_ms_max: u64,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible>
where
    H: Fn(HttpRequest) -> F,
    F: Future<Output = HttpResponse>,
{
    let (parts, body) = request.into_parts();
    let mut request = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
        refused: headers_refused(&parts.headers),
    };
    // Held until the answer is built: the body is buffered until then.
    let mut _reservation = None;
    if request.refused.is_none() {
        let declared_bytes = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        match read_body(body, declared_bytes, &budget, body_read_ms_max).await {
            Ok((bytes, reservation)) => {
                request.body = bytes;
                _reservation = Some(reservation);
            }
            Err(error) => request.refused = Some(error),
        }
    }
    let response = handler(request).await;
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(*name, value);
    }
    Ok(builder
        .body(Full::new(Bytes::from(response.body)))
        .expect("static header names are valid"))
}

/// Serves connections from `listener` until `shutdown` completes, then stops accepting and
/// lets open connections finish their current request.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let timers = tokio::spawn(drive_timers(service.clone()));
    let handler = move |request: HttpRequest| {
        let service = service.clone();
        async move { service.handle_async(request, now_ms()).await }
    };
    serve_with(listener, Arc::new(handler), limits, shutdown).await;
    timers.abort();
}

/// The longest the timer sleeps: time-driven work (a lagging follower or GSI catching up, a
/// deleted table going away) happens within this long of when it is due, even when a request
/// made it due sooner than the timer expected. Requests do that work lazily anyway, so their
/// answers never depend on it.
const TIMER_SLEEP_MS_MAX: u64 = 100;

/// Drives the engine's `poll_timeout`/`handle_timeout` from the clock, until aborted.
async fn drive_timers(service: Arc<Service>) {
    loop {
        let now = now_ms();
        // Busy engine (a large request on the blocking pool): try again in a millisecond.
        let sleep_ms = match service.try_handle_timeout(now) {
            None => 1,
            Some(next) => next.map_or(TIMER_SLEEP_MS_MAX, |at| {
                at.saturating_sub(now).clamp(1, TIMER_SLEEP_MS_MAX)
            }),
        };
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    }
}

/// [`serve`] with any asynchronous handler of decoded requests (the simulator's request
/// routers answer after a round trip to a partition's leader).
pub async fn serve_with<H, F>(
    listener: TcpListener,
    handler: Arc<H>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(HttpRequest) -> F + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    tokio::pin!(shutdown);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.connection_count_max));
    let budget = Arc::new(BodyBudget {
        reserved_bytes: AtomicUsize::new(0),
        bytes_max: limits.buffered_body_bytes_max,
    });
    let mut backoff_ms = ACCEPT_BACKOFF_MS_MIN;
    loop {
        // A free connection slot first: at the cap, new clients wait in the backlog.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) if connection_error(&error) => continue,
            Err(_) => {
                // Out of descriptors or memory: accepting again at once would fail again
                // (and spin); wait for connections to close.
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(backoff_ms)) => {}
                    () = &mut shutdown => break,
                }
                backoff_ms = (backoff_ms * 2).min(ACCEPT_BACKOFF_MS_MAX);
                continue;
            }
        };
        backoff_ms = ACCEPT_BACKOFF_MS_MIN;
        let connection = serve_connection(
            stream,
            handler.clone(),
            budget.clone(),
            limits.body_read_ms_max,
        );
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = closing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    let _ = closing_tx.send(true);
    // Give open connections a moment to finish the request they are answering.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Errors of one connection that closed before it was accepted: the next accept is fine.
fn connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionRefused
            | ErrorKind::Interrupted
    )
}

/// One connection's HTTP/1.1 state machine over `handler`.
fn serve_connection<H, F>(
    stream: tokio::net::TcpStream,
    handler: Arc<H>,
    budget: Arc<BodyBudget>,
    body_read_ms_max: u64,
) -> http1::Connection<
    hyper_util::rt::TokioIo<tokio::net::TcpStream>,
    impl hyper::service::Service<
        hyper::Request<Incoming>,
        Response = hyper::Response<Full<Bytes>>,
        Error = std::convert::Infallible,
        Future = impl Future + Send,
    > + use<H, F>,
>
where
    H: Fn(HttpRequest) -> F + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let io = hyper_util::rt::TokioIo::new(stream);
    http1::Builder::new()
        .timer(Timer)
        .keep_alive(true)
        .max_headers(HEADER_COUNT_PARSED_MAX)
        .serve_connection(
            io,
            service_fn(move |request| {
                respond(handler.clone(), budget.clone(), body_read_ms_max, request)
            }),
        )
}
