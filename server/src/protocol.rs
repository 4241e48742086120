//! The DynamoDB JSON 1.0 protocol: from an HTTP request's parts to an engine request, and from
//! an engine answer to an HTTP response. No sockets here: [`Service::handle`] is a plain
//! function, so tests can drive it directly and the simulator can host it.

use crate::auth;
use crate::durability::Durability;
use dynasim_engine::api::*;
use dynasim_engine::error::{Error, ErrorKind};
use dynasim_engine::global::regions::Regions;
use dynasim_engine::limits::REQUEST_BODY_BYTES_MAX;
use dynasim_engine::{Config, Engine};
use serde::de::DeserializeOwned;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The operations of DynamoDB's current API that dynasim does not implement yet. They answer
/// a clear error rather than "unknown operation"; `docs/compatibility.md` lists them.
pub const NOT_IMPLEMENTED: [&str; 32] = [
    "BatchExecuteStatement",
    "CreateBackup",
    "CreateGlobalTable",
    "DeleteBackup",
    "DeleteResourcePolicy",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "DescribeImport",
    "DescribeKinesisStreamingDestination",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ExecuteStatement",
    "ExecuteTransaction",
    "ExportTableToPointInTime",
    "GetResourcePolicy",
    "ImportTable",
    "ListBackups",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "PutResourcePolicy",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "SearchVectors",
    "UpdateContinuousBackups",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
    "UpdateKinesisStreamingDestination",
    "UpdateTableReplicaAutoScaling",
];

pub use crate::message::{HttpRequest, HttpResponse};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
/// The Streams API's target prefix (dynamodb-facts §2.1).
const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// Responses larger than this are compressed when the client accepts it (obs: 4 KB).
const COMPRESS_ABOVE_BYTES: usize = 4096;

/// Where the service reads time from: the real clock (simulated under madsim).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The regions' engines behind one lock (`global::regions`: each region's catalog, made when
/// a request's credential scope first names it, and the global tables between them), plus
/// what the wire needs around them.
pub struct Service {
    regions: Mutex<Regions>,
    /// With `--data-dir`: the log every change goes to before its answer.
    durability: Option<Durability>,
    request_count: AtomicU64,
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    crate::json::decode(body)
}

fn decode_request(operation: &str, body: &[u8]) -> Result<Request, Error> {
    Ok(match operation {
        "CreateTable" => Request::CreateTable(decode(body)?),
        "DescribeTable" => Request::DescribeTable(decode(body)?),
        "ListTables" => Request::ListTables(decode(body)?),
        "UpdateTable" => Request::UpdateTable(decode(body)?),
        "DeleteTable" => Request::DeleteTable(decode(body)?),
        "DescribeLimits" => {
            decode::<Empty>(body)?;
            Request::DescribeLimits
        }
        "DescribeEndpoints" => {
            decode::<Empty>(body)?;
            Request::DescribeEndpoints
        }
        "TagResource" => Request::TagResource(decode(body)?),
        "UntagResource" => Request::UntagResource(decode(body)?),
        "ListTagsOfResource" => Request::ListTagsOfResource(decode(body)?),
        "PutItem" => Request::PutItem(decode(body)?),
        "GetItem" => Request::GetItem(decode(body)?),
        "UpdateItem" => Request::UpdateItem(decode(body)?),
        "DeleteItem" => Request::DeleteItem(decode(body)?),
        "BatchGetItem" => Request::BatchGetItem(decode(body)?),
        "BatchWriteItem" => Request::BatchWriteItem(decode(body)?),
        "TransactWriteItems" => Request::TransactWriteItems(decode(body)?),
        "TransactGetItems" => Request::TransactGetItems(decode(body)?),
        "Query" => Request::Query(decode(body)?),
        "Scan" => Request::Scan(decode(body)?),
        "UpdateContributorInsights" => Request::UpdateContributorInsights(decode(body)?),
        "DescribeContributorInsights" => Request::DescribeContributorInsights(decode(body)?),
        "ListContributorInsights" => Request::ListContributorInsights(decode(body)?),
        "UpdateTimeToLive" => Request::UpdateTimeToLive(decode(body)?),
        "DescribeTimeToLive" => Request::DescribeTimeToLive(decode(body)?),
        "DescribeTableReplicaAutoScaling" => {
            Request::DescribeTableReplicaAutoScaling(decode(body)?)
        }
        other if NOT_IMPLEMENTED.contains(&other) => {
            return Err(Error::operation_not_implemented(other));
        }
        _ => return Err(Error::unknown_operation()),
    })
}

/// Decompresses a request body sent with `Content-Encoding`, refusing more than the body limit.
/// gzip bodies may hold several members, read as one body (RFC 1952 §2.2). An empty body,
/// one that does not decode, and an unknown encoding answer InternalServerError, as the
/// service does (`docs/compatibility.md`).
fn decompress(encoding: &str, body: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let limit = REQUEST_BODY_BYTES_MAX as u64 + 1;
    let result = match encoding {
        "identity" | "" => return Ok(body.to_vec()),
        "gzip" | "x-gzip" | "deflate" if body.is_empty() => {
            return Err(Error::content_encoding_invalid(encoding));
        }
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out),
        "deflate" => {
            // HTTP's "deflate" is zlib-wrapped; some clients send raw deflate. Accept both.
            let zlib = flate2::read::ZlibDecoder::new(body)
                .take(limit)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(body)
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        other => {
            return Err(Error::content_encoding_unsupported(other));
        }
    };
    result.map_err(|_| Error::content_encoding_invalid(encoding))?;
    if out.len() > REQUEST_BODY_BYTES_MAX {
        return Err(Error::request_too_large());
    }
    Ok(out)
}

/// The JSON body of an error answer.
pub fn error_body(error: &Error) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("__type".into(), error.kind.type_name().into());
    if !error.message.is_empty() {
        body.insert("message".into(), error.message.clone().into());
    }
    if let Some(item) = &error.item {
        body.insert(
            "Item".into(),
            serde_json::to_value(item).expect("items serialize"),
        );
    }
    if error.kind == ErrorKind::TransactionCanceled {
        let reasons: Vec<serde_json::Value> = error
            .cancellation_reasons
            .iter()
            .map(cancellation_reason)
            .collect();
        body.insert("CancellationReasons".into(), reasons.into());
    }
    if !error.throttling_reasons.is_empty() {
        // The service model spells the member in lower camel case on ThrottlingException.
        let member = if error.kind == ErrorKind::Throttling {
            "throttlingReasons"
        } else {
            "ThrottlingReasons"
        };
        let reasons: Vec<serde_json::Value> = error
            .throttling_reasons
            .iter()
            .map(|r| serde_json::json!({"reason": r.reason, "resource": r.resource}))
            .collect();
        body.insert(member.into(), reasons.into());
    }
    serde_json::to_vec(&body).expect("maps serialize")
}

/// One `{Code, Message?, Item?}` of a TransactionCanceledException.
fn cancellation_reason(reason: &dynasim_engine::error::CancellationReason) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("Code".into(), reason.code.clone().into());
    if let Some(message) = &reason.message {
        out.insert("Message".into(), message.clone().into());
    }
    if let Some(item) = &reason.item {
        out.insert(
            "Item".into(),
            serde_json::to_value(item).expect("items serialize"),
        );
    }
    out.into()
}

impl Service {
    pub fn new(config: Config) -> Service {
        Service::with_engine(Engine::new(config))
    }

    /// A service around an engine built elsewhere (with a realism profile, say).
    /// The engine answers its `Config::region`; other regions get engines made like it.
    pub fn with_engine(engine: Engine) -> Service {
        Service {
            regions: Mutex::new(Regions::new(engine)),
            durability: None,
            request_count: AtomicU64::new(0),
        }
    }

    /// A service whose engine was recovered by `log` (`Durable::open`): every change is
    /// appended to the log, and every answer waits until what it shows is durable.
    /// Only the engine's region is served (replication is not persisted yet).
    pub fn with_log(engine: Engine, log: dynasim_engine::storage::durable::Durable) -> Service {
        let mut regions = Regions::new(engine);
        regions.set_durable();
        Service {
            regions: Mutex::new(regions),
            durability: Some(Durability::new(log)),
            request_count: AtomicU64::new(0),
        }
    }

    /// The address DescribeEndpoints reports (known once the listener is bound).
    pub fn set_endpoint_address(&self, address: String) {
        self.lock().set_endpoint_address(address);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Regions> {
        match self.regions.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn try_lock(&self) -> Option<std::sync::MutexGuard<'_, Regions>> {
        match self.regions.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// At shutdown: snapshots the engine, so that the next start replays no log.
    pub fn close(&self) {
        if let Some(durability) = &self.durability {
            durability.snapshot(self.lock().default_engine());
        }
    }

    /// Runs `f` with the default region's engine locked (for tests).
    pub fn with_engine_locked<T>(&self, f: impl FnOnce(&Engine) -> T) -> T {
        f(self.lock().default_engine())
    }

    /// Runs `f` with every region locked (for `/metrics` and tests).
    pub fn with_regions_locked<T>(&self, f: impl FnOnce(&Regions) -> T) -> T {
        f(&self.lock())
    }

    /// Does the engine's time-driven work due by `now_ms` and returns when more is next due
    /// (the engine's `handle_timeout`, then `poll_timeout`).
    pub fn handle_timeout(&self, now_ms: u64) -> Option<u64> {
        self.handle_timeout_locked(&mut self.lock(), now_ms)
    }

    /// [`handle_timeout`](Self::handle_timeout) if the engine's lock is free now (`None` when
    /// a request on the blocking pool holds it: the runtime's thread does not wait for it).
    pub fn try_handle_timeout(&self, now_ms: u64) -> Option<Option<u64>> {
        let mut regions = self.try_lock()?;
        Some(self.handle_timeout_locked(&mut regions, now_ms))
    }

    fn handle_timeout_locked(&self, regions: &mut Regions, now_ms: u64) -> Option<u64> {
        regions.handle_timeout(now_ms);
        if let Some(durability) = &self.durability {
            // Time-driven changes answer nobody; the next sync makes them durable.
            durability.append(regions.default_engine_mut());
        }
        regions.poll_timeout()
    }

    fn request_id(&self) -> String {
        request_id(self.request_count.fetch_add(1, Ordering::Relaxed))
    }

    /// Executes one engine request, turning a panic into an InternalServerError so that one
    /// bad request cannot take the server down.
    /// (In the default region; [`execute_in`](Self::execute_in) names one.)
    pub fn execute(&self, request: Request, now_ms: u64) -> Result<Response, Error> {
        let region = self.lock().default_region().to_string();
        self.execute_in((region, request), now_ms)
    }

    /// [`execute`](Self::execute) in the region the request is scoped to.
    pub fn execute_in(&self, scoped: Scoped, now_ms: u64) -> Result<Response, Error> {
        let region = scoped.0.clone();
        let executed = self.execute_logged(scoped, now_ms);
        let (result, wait) = self.settle_pending_blocking(&region, executed, now_ms);
        self.settle_blocking(result, wait)
    }

    /// A result once the log position it waits for is durable (synced on this thread).
    fn settle_blocking<T>(&self, result: Result<T, Error>, wait: Option<u64>) -> Result<T, Error> {
        match (&self.durability, wait) {
            (Some(durability), Some(lsn)) if !durability.wait_blocking(lsn) => {
                Err(storage_failed())
            }
            _ => result,
        }
    }

    /// [`execute`](Self::execute) without waiting: the result, and the log position that
    /// must be durable before it is given to the client.
    fn execute_logged(&self, scoped: Scoped, now_ms: u64) -> Executed {
        if self.failed() {
            return (Err(storage_failed()), None);
        }
        self.execute_locked(&mut self.lock(), scoped, now_ms)
    }

    /// [`execute_logged`](Self::execute_logged) if the engine's lock is free now; the request
    /// back if another thread holds it.
    fn try_execute_logged(&self, scoped: Scoped, now_ms: u64) -> Result<Executed, Box<Scoped>> {
        if self.failed() {
            return Ok((Err(storage_failed()), None));
        }
        let Some(mut regions) = self.try_lock() else {
            return Err(Box::new(scoped));
        };
        Ok(self.execute_locked(&mut regions, scoped, now_ms))
    }

    fn failed(&self) -> bool {
        self.durability
            .as_ref()
            .is_some_and(|d| d.failure().is_some())
    }

    /// Executes `request` on the locked engine: the only part of answering that holds it.
    fn execute_locked(&self, regions: &mut Regions, scoped: Scoped, now_ms: u64) -> Executed {
        let (region, request) = scoped;
        let table = request.table_name().map(str::to_string);
        let started = std::time::Instant::now();
        let executed = AssertUnwindSafe(|| regions.execute(&region, request, now_ms));
        let result = match std::panic::catch_unwind(executed) {
            Ok(result) => result,
            Err(_) => Err(Error::internal()),
        };
        let latency_us = started.elapsed().as_micros() as u64;
        if let Some(engine) = regions.engine_if_made(&region) {
            engine.record_request(
                table.as_deref(),
                result.as_ref().err().map(|e| e.kind),
                latency_us,
                now_ms,
            );
        }
        match &self.durability {
            None => (result, None),
            Some(durability) => match durability.append(regions.default_engine_mut()) {
                Some(lsn) => (result, Some(lsn)),
                None => (Err(storage_failed()), None),
            },
        }
    }

    /// Answers one HTTP request (syncing the log on this thread when there is one).
    pub fn handle(&self, request: &HttpRequest, now_ms: u64) -> HttpResponse {
        let (response, wait) = self.handle_logged(request, now_ms);
        match self.settle_blocking(Ok(response), wait) {
            Ok(response) => response,
            Err(error) => http_response(request, Err(error), &self.request_id()),
        }
    }

    /// Answers one HTTP request without holding up the runtime's thread: a large body is
    /// decoded, and a request whose answer can be large is executed and rendered, on the
    /// blocking pool; a small one runs here unless another thread holds the engine, and
    /// then waits for it there. The log is waited for asynchronously, so requests that
    /// arrive meanwhile share the next sync.
    pub async fn handle_async(self: &Arc<Self>, request: HttpRequest, now_ms: u64) -> HttpResponse {
        let (request, (response, wait)) = if request.body.len() > OFFLOAD_BODY_BYTES_MIN {
            let service = self.clone();
            let answered = off_runtime(move || {
                let answer = service.handle_logged(&request, now_ms);
                (request, answer)
            });
            match answered.await {
                Some(answered) => answered,
                None => return internal_error_response(&self.request_id()),
            }
        } else {
            self.handle_small(request, now_ms).await
        };
        match (&self.durability, wait) {
            (Some(durability), Some(lsn)) if !durability.wait(lsn).await => {
                http_response(&request, Err(storage_failed()), &self.request_id())
            }
            _ => response,
        }
    }

    /// [`handle_async`](Self::handle_async) for a body small enough to decode here.
    async fn handle_small(
        self: &Arc<Self>,
        request: HttpRequest,
        now_ms: u64,
    ) -> (HttpRequest, (HttpResponse, Option<u64>)) {
        let request_id = self.request_id();
        let decoded = match self.decode_step(&request, &request_id, now_ms) {
            Ok(decoded) => decoded,
            Err(response) => return (request, (response, None)),
        };
        let region = decoded.0.clone();
        let decoded = if answer_may_be_large(&decoded.1) {
            decoded
        } else {
            match self.try_execute_logged(decoded, now_ms) {
                Ok(executed) => {
                    let (answer, wait) = self.settle_pending(&region, executed, now_ms).await;
                    let response = render(&request, answer, &request_id);
                    return (request, (response, wait));
                }
                Err(decoded) => *decoded,
            }
        };
        let service = self.clone();
        let answered = off_runtime(move || {
            let executed = service.execute_logged(decoded, now_ms);
            let (answer, wait) = service.settle_pending_blocking(&region, executed, now_ms);
            let response = render(&request, answer, &request_id);
            (request, (response, wait))
        });
        match answered.await {
            Some(answered) => answered,
            None => {
                let response = internal_error_response(&self.request_id());
                (HttpRequest::default(), (response, None))
            }
        }
    }

    fn handle_logged(&self, request: &HttpRequest, now_ms: u64) -> (HttpResponse, Option<u64>) {
        let request_id = self.request_id();
        let decoded = match self.decode_step(request, &request_id, now_ms) {
            Ok(decoded) => decoded,
            Err(response) => return (response, None),
        };
        let region = decoded.0.clone();
        let executed = self.execute_logged(decoded, now_ms);
        let (answer, wait) = self.settle_pending_blocking(&region, executed, now_ms);
        (render(request, answer, &request_id), wait)
    }

    /// A transaction waiting out the profile's commit delay (`Response::Pending`): its answer
    /// once the delay has passed, asked of the engine at the commit's due time (the timer may
    /// have committed it already). Any other answer as it is.
    async fn settle_pending(&self, region: &str, executed: Executed, now_ms: u64) -> Executed {
        let (Ok(Response::Pending(pending)), _) = &executed else {
            return executed;
        };
        let pending = *pending;
        let wait = pending.due_ms.saturating_sub(now_ms);
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        self.finish_pending(region, pending)
    }

    /// [`settle_pending`](Self::settle_pending) on a blocking-pool thread (in the simulator,
    /// which runs such work inline, without the wait: the timer cannot run meanwhile).
    fn settle_pending_blocking(&self, region: &str, executed: Executed, now_ms: u64) -> Executed {
        let (Ok(Response::Pending(pending)), _) = &executed else {
            return executed;
        };
        let pending = *pending;
        #[cfg(not(madsim))]
        std::thread::sleep(std::time::Duration::from_millis(
            pending.due_ms.saturating_sub(now_ms),
        ));
        #[cfg(madsim)]
        let _ = now_ms;
        self.finish_pending(region, pending)
    }

    fn finish_pending(
        &self,
        region: &str,
        pending: dynasim_engine::api::PendingTransaction,
    ) -> Executed {
        let mut regions = self.lock();
        let result = regions.finish_transaction(region, pending.tx, pending.due_ms);
        match &self.durability {
            None => (result, None),
            Some(durability) => match durability.append(regions.default_engine_mut()) {
                Some(lsn) => (result, Some(lsn)),
                None => (Err(storage_failed()), None),
            },
        }
    }

    /// Everything before execution: the health and metrics pages (answered here), and the
    /// decoded engine request or the error that answers it.
    fn decode_step(
        &self,
        request: &HttpRequest,
        request_id: &str,
        now_ms: u64,
    ) -> Result<Scoped, HttpResponse> {
        let page = |text: String, content_type: &str| {
            Err(finish(200, text.into_bytes(), content_type, request_id, ""))
        };
        if request.refused.is_none() && request.method == "OPTIONS" {
            return Err(preflight(request, request_id));
        }
        if request.refused.is_none() && request.method == "GET" {
            match request.path.as_str() {
                "/metrics" => {
                    let region = crate::metrics::region_asked(request.query.as_deref());
                    let text = self.with_regions_locked(|r| crate::metrics::render(r, region));
                    return page(text, "text/plain; version=0.0.4");
                }
                "/metrics/series" => {
                    let region = crate::metrics::region_asked(request.query.as_deref());
                    let text = self.with_regions_locked(|r| crate::metrics::series(r, region));
                    return page(text, "application/json");
                }
                "/" => return page(health_text(request), "text/plain"),
                _ => {}
            }
        }
        decode_http_scoped(request, now_ms)
            .map_err(|error| http_response(request, Err(error), request_id))
    }
}

/// What executing a request gives: the answer, and the log position it waits for.
type Executed = (Result<Response, Error>, Option<u64>);

/// A request and the region of its credential scope.
pub type Scoped = (String, Request);

/// Bodies larger than this are decoded on the blocking pool: serde_json reads about
/// 100–300 MB/s, so this is well under a millisecond of the runtime thread's time.
const OFFLOAD_BODY_BYTES_MIN: usize = 64 * 1024;

/// Query and Scan pages and GetRecords without a small Limit: their answer (up to a 1 MB page,
/// or 16 MB for BatchGetItem) takes milliseconds to read and render, so they run on the
/// blocking pool.
fn answer_may_be_large(request: &Request) -> bool {
    const SMALL_LIMIT: i64 = 100;
    match request {
        Request::Query(input) | Request::Scan(input) => {
            input.limit.is_none_or(|limit| limit > SMALL_LIMIT)
        }
        Request::GetRecords(input) => input.limit.is_none_or(|limit| limit > SMALL_LIMIT),
        Request::BatchGetItem(_) => true,
        _ => false,
    }
}

/// The JSON answer to an executed request.
fn render(
    request: &HttpRequest,
    answer: Result<Response, Error>,
    request_id: &str,
) -> HttpResponse {
    let body = answer.map(|response| match response {
        Response::NoBody => Vec::new(),
        response => serde_json::to_vec(&response).expect("responses serialize"),
    });
    http_response(request, body, request_id)
}

fn internal_error_response(request_id: &str) -> HttpResponse {
    let body = error_body(&Error::internal());
    finish(500, body, CONTENT_TYPE, request_id, "")
}

/// Runs `work` on the runtime's blocking pool; `None` if it panicked or the runtime is
/// shutting down.
#[cfg(not(madsim))]
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

/// The simulator forbids blocking threads and runs one task at a time anyway: `work` runs here.
#[cfg(madsim)]
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    Some(work())
}

/// The answer once the data directory has failed (see `durability`).
fn storage_failed() -> Error {
    Error::new(
        ErrorKind::InternalServerError,
        "The server could not make the change durable: its data directory failed. Restart it.",
    )
}

/// The HTTP response for an answer (a JSON body) or an error, compressed when the request
/// accepts it.
pub fn http_response(
    request: &HttpRequest,
    body: Result<Vec<u8>, Error>,
    request_id: &str,
) -> HttpResponse {
    let accept = request.header_list("accept-encoding");
    let (status, body) = match body {
        Ok(body) => (200, body),
        Err(error) => {
            let status = if error.kind == ErrorKind::UnknownOperation && request.method != "POST" {
                404
            } else if error == Error::request_too_large() {
                413
            } else {
                error.kind.http_status()
            };
            (status, error_body(&error))
        }
    };
    finish(status, body, CONTENT_TYPE, request_id, &accept)
}

/// Checks an HTTP request's method, path, content type, target and signature shape, and
/// decodes its body into an engine request: everything the service does before executing.
pub fn decode_http(request: &HttpRequest, now_ms: u64) -> Result<Request, Error> {
    decode_http_scoped(request, now_ms).map(|(_, request)| request)
}

/// [`decode_http`], with the region of the request's credential scope.
pub fn decode_http_scoped(request: &HttpRequest, now_ms: u64) -> Result<(String, Request), Error> {
    if let Some(refused) = &request.refused {
        return Err(refused.clone());
    }
    {
        if request.method != "POST" || request.path != "/" {
            return Err(Error::unknown_operation());
        }
        let content_type = request.header("content-type").unwrap_or("");
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            media_type.as_str(),
            "application/x-amz-json-1.0" | "application/json"
        ) {
            return Err(Error::unknown_operation());
        }
        let target = request.header("x-amz-target").unwrap_or("");
        let (operation, streams) = match (
            target.strip_prefix(TARGET_PREFIX),
            target.strip_prefix(STREAMS_TARGET_PREFIX),
        ) {
            (Some(operation), _) => (operation, false),
            (None, Some(operation)) => (operation, true),
            (None, None) => return Err(Error::unknown_operation()),
        };
        let region = auth::check_shape(request, now_ms)?;
        let body = match request.header("content-encoding") {
            Some(encoding) => decompress(&encoding.trim().to_ascii_lowercase(), &request.body)?,
            None => request.body.clone(),
        };
        if body.len() > REQUEST_BODY_BYTES_MAX {
            return Err(Error::request_too_large());
        }
        let decoded = if streams {
            decode_streams_request(operation, &body)
        } else {
            decode_request(operation, &body)
        };
        decoded.map(|request| (region, request))
    }
}

/// The DynamoDB Streams API's operations (`DynamoDBStreams_20120810.*`).
fn decode_streams_request(operation: &str, body: &[u8]) -> Result<Request, Error> {
    Ok(match operation {
        "ListStreams" => Request::ListStreams(decode(body)?),
        "DescribeStream" => Request::DescribeStream(decode(body)?),
        "GetShardIterator" => Request::GetShardIterator(decode(body)?),
        "GetRecords" => Request::GetRecords(decode(body)?),
        _ => return Err(Error::unknown_operation()),
    })
}

/// The `n`-th opaque request id, in AWS's shape: 52 upper-case letters and digits.
pub fn request_id(n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state = 0;
    (0..52)
        .map(|i: u64| {
            // Twelve base-36 digits use up one 64-bit draw; take a fresh one for each run.
            if i.is_multiple_of(12) {
                state = mix(n.wrapping_mul(8).wrapping_add(i / 12));
            }
            let c = ALPHABET[(state % 36) as usize] as char;
            state /= 36;
            c
        })
        .collect()
}

fn mix(n: u64) -> u64 {
    // A fixed mixing function (splitmix64): ids are unique per process and reproducible.
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn finish(
    status: u16,
    body: Vec<u8>,
    content_type: &str,
    request_id: &str,
    accept: &str,
) -> HttpResponse {
    let mut headers = vec![
        ("x-amzn-requestid", request_id.to_string()),
        ("content-type", content_type.to_string()),
    ];
    headers.extend(common_headers());
    let body = match accepted_encoding(accept) {
        Some(encoding) if body.len() > COMPRESS_ABOVE_BYTES => {
            headers.push(("content-encoding", encoding.into()));
            compress(encoding, &body)
        }
        _ => body,
    };
    // AWS computes the checksum over the bytes it sends (compressed, when compressed).
    headers.push(("x-amz-crc32", crc32fast::hash(&body).to_string()));
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// The `Server` header and the CORS headers every answer carries (`docs/compatibility.md`).
fn common_headers() -> [(&'static str, String); 3] {
    [
        ("server", "Server".into()),
        ("access-control-allow-origin", "*".into()),
        (
            "access-control-expose-headers",
            "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,x-amz-crc32,Date".into(),
        ),
    ]
}

/// The encoding to answer in from an `Accept-Encoding` list: gzip (or its alias x-gzip)
/// first, then deflate; a coding with `q=0` is refused (RFC 9110 §12.5.3).
fn accepted_encoding(accept: &str) -> Option<&'static str> {
    let mut gzip = false;
    let mut deflate = false;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q == 0.0)
        });
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip |= !refused,
            "deflate" => deflate |= !refused,
            _ => {}
        }
    }
    if gzip {
        Some("gzip")
    } else if deflate {
        Some("deflate")
    } else {
        None
    }
}

fn compress(encoding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    if encoding == "gzip" {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(body).expect("writing to memory");
        encoder.finish().expect("writing to memory")
    } else {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(body).expect("writing to memory");
        encoder.finish().expect("writing to memory")
    }
}

/// The health check's text: `healthy: ` and the host the client addressed (its `Host`
/// header), as the service answers (Alternator's test_health.py, run against DynamoDB).
fn health_text(request: &HttpRequest) -> String {
    let host = request.header("host").map(str::trim).unwrap_or("dynasim");
    format!("healthy: {host} ")
}

/// The answer to a CORS preflight (`OPTIONS`): 200 with no body, the requested method and
/// headers allowed, cached for two days (dynalite's record of the service's answer).
fn preflight(request: &HttpRequest, request_id: &str) -> HttpResponse {
    let mut response = finish(200, Vec::new(), CONTENT_TYPE, request_id, "");
    response.headers.retain(|(name, _)| *name != "content-type");
    for (asked, allowed) in [
        (
            "access-control-request-headers",
            "access-control-allow-headers",
        ),
        (
            "access-control-request-method",
            "access-control-allow-methods",
        ),
    ] {
        if let Some(value) = request.header(asked) {
            response.headers.push((allowed, value.to_string()));
        }
    }
    response
        .headers
        .push(("access-control-max-age", "172800".into()));
    response
}
