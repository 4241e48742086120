//! The real HTTP path under the simulator: `dynasim serve`'s hyper server on one simulated
//! node, a hyper client on another, talking over madsim's network.
#![cfg(madsim)]

use bytes::Bytes;
use dynasim_engine::Config;
use dynasim_server::Service;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00";

async fn call(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    operation: &str,
    body: &str,
) -> (u16, String) {
    let request = hyper::Request::post("/")
        .header("host", "dynamodb")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header("x-amz-date", "20261124T120000Z")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let checksum: u32 = response.headers()["x-amz-crc32"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(checksum, crc32fast::hash(&body));
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[madsim::test]
async fn serves_dynamodb_over_the_simulated_network() {
    let handle = madsim::runtime::Handle::current();
    let server_address: SocketAddr = "10.0.0.1:8000".parse().unwrap();
    let server = handle
        .create_node()
        .name("server")
        .ip(server_address.ip())
        .build();
    server.spawn(async move {
        let listener = tokio::net::TcpListener::bind(server_address).await.unwrap();
        let service = Arc::new(Service::new(Config::default()));
        dynasim_server::http::serve(
            listener,
            service,
            dynasim_server::http::Limits::default(),
            std::future::pending(),
        )
        .await;
    });
    let client = handle
        .create_node()
        .name("client")
        .ip("10.0.0.2".parse().unwrap())
        .build();
    let outcome = client.spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stream = tokio::net::TcpStream::connect(server_address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let (status, body) = call(&mut sender, "CreateTable", r#"{"TableName":"sim","KeySchema":[{"AttributeName":"k","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#).await;
        assert_eq!(status, 200, "{body}");
        for i in 0..20 {
            let (status, body) = call(&mut sender, "UpdateItem", &format!(r#"{{"TableName":"sim","Key":{{"k":{{"S":"counter"}}}},"UpdateExpression":"ADD n :one","ExpressionAttributeValues":{{":one":{{"N":"{i}"}}}}}}"#)).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = call(&mut sender, "GetItem", r#"{"TableName":"sim","Key":{"k":{"S":"counter"}},"ConsistentRead":true}"#).await;
        assert_eq!(status, 200);
        let (status, error) = call(&mut sender, "GetItem", r#"{"TableName":"missing","Key":{"k":{"S":"x"}}}"#).await;
        assert_eq!(status, 400);
        assert!(error.contains("ResourceNotFoundException"));
        body
    });
    let body = outcome.await.unwrap();
    // 0 + 1 + … + 19 = 190
    assert_eq!(body, r#"{"Item":{"k":{"S":"counter"},"n":{"N":"190"}}}"#);
}
