//! The `otlp` feature: `authsec_core::otlp::install` exports the `authsec.check` span of a
//! decision over OTLP/HTTP to a collector on loopback (a one-request HTTP server here), when
//! the guard is dropped at the latest. Run with `cargo test -p authsec-core --features otlp
//! --test otlp` (scripts/test.sh does).
#![cfg(feature = "otlp")]

use std::io::{Read, Write};
use std::net::TcpListener;

use authsec_core::{Check, Config, Decision, Request, Runtime};

#[test]
fn decision_spans_reach_an_otlp_collector() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        // Read the head, then the body by Content-Length.
        loop {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while got.len() < end + 4 + len {
                    let n = s.read(&mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                break;
            }
            assert!(n > 0, "collector: connection closed early");
        }
        s.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        )
        .unwrap();
        got
    });
    let guard =
        authsec_core::otlp::install(&format!("http://{addr}/v1/traces"), "authsec-test").unwrap();
    let rt = Runtime::new(
        Config::from_json(
            r#"{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
                "resource_uri": "https://mcp.example.com/mcp"}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let req = Request {
        method: "POST",
        path: "/mcp",
        headers: &[],
        body: b"",
    };
    assert!(matches!(rt.check(&req), Check::Ready(Decision::Respond(_))));
    drop(guard); // flushes the batch
    let got = collector.join().unwrap();
    let head = String::from_utf8_lossy(&got[..got.len().min(400)]).to_string();
    assert!(head.starts_with("POST /v1/traces "), "{head}");
    let has = |needle: &[u8]| got.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"authsec.check"), "the span name is in the export");
    assert!(has(b"authsec-test"), "the service name is in the export");
    assert!(has(b"no_token"), "the span's reason field is in the export");
}
