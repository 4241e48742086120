//! The physical floor for an HTTP endpoint on this stack: hyper's http1 connection API on
//! (madsim-)tokio answering every request with a fixed GetItem-sized body, doing no work.
//! `docs/performance.md` compares `dynasim serve` against it in the same benchmark run.
//!
//!     cargo run --release --example floor -- 127.0.0.1:18030

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::convert::Infallible;

const BODY: &str = r#"{"Item":{"pk":{"S":"p000500"},"sk":{"S":"s00050"},"data":{"S":"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"},"n":{"N":"50"}}}"#;

fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18030".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&address).await.expect("bind");
        println!("floor server on http://{address}");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        let response = hyper::Response::builder()
                            .header("content-type", "application/x-amz-json-1.0")
                            .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                            .expect("static response");
                        Ok::<_, Infallible>(response)
                    },
                );
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = http1::Builder::new()
                    .timer(dynasim_server::http::Timer)
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
}
