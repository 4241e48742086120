//! HTTP/1.1 around [`Service`]: hyper's connection-level API on tokio (through madsim-tokio,
//! so the same code runs under the simulator), with a timer built on `tokio::time`.

use crate::protocol::{CONTENT_TYPE, HttpRequest, HttpResponse, Service, error_body, now_ms};
use bytes::Bytes;
use dynasim_engine::error::Error;
use dynasim_engine::limits::REQUEST_BODY_BYTES_MAX;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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

async fn respond<H, F>(
    handler: Arc<H>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible>
where
    H: Fn(HttpRequest) -> F,
    F: Future<Output = HttpResponse>,
{
    let (parts, body) = request.into_parts();
    let declared_too_large = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|length| length > REQUEST_BODY_BYTES_MAX);
    let body = if declared_too_large {
        None
    } else {
        Limited::new(body, REQUEST_BODY_BYTES_MAX)
            .collect()
            .await
            .ok()
            .map(|c| c.to_bytes())
    };
    let response = match body {
        Some(body) => {
            let request = HttpRequest {
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
                body: body.to_vec(),
            };
            handler(request).await
        }
        None => crate::protocol::HttpResponse {
            status: 413,
            headers: vec![("content-type", CONTENT_TYPE.to_string())],
            body: error_body(&Error::request_too_large()),
        },
    };
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
    shutdown: impl Future<Output = ()>,
) {
    let timers = tokio::spawn(drive_timers(service.clone()));
    let handler = move |request: HttpRequest| {
        let service = service.clone();
        async move { service.handle_async(&request, now_ms()).await }
    };
    serve_with(listener, Arc::new(handler), shutdown).await;
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
        let next = service.handle_timeout(now);
        let sleep_ms = next.map_or(TIMER_SLEEP_MS_MAX, |at| {
            at.saturating_sub(now).clamp(1, TIMER_SLEEP_MS_MAX)
        });
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    }
}

/// [`serve`] with any asynchronous handler of decoded requests (the simulator's request
/// routers answer after a round trip to a partition's leader).
pub async fn serve_with<H, F>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(HttpRequest) -> F + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    tokio::pin!(shutdown);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let connection = http1::Builder::new()
                .timer(Timer)
                .keep_alive(true)
                .serve_connection(
                    io,
                    service_fn(move |request| respond(handler.clone(), request)),
                );
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
