// SPDX-License-Identifier: MIT
//
// The hyper peer of the http_hello workload (tools/bench.sh drives it
// with wrk, BENCH.md):
//
//   hyper-peer http_hello PORT [WORKERS]
//   hyper-peer version
//
// The server a hyper 0.14 user writes: a tokio multi-thread runtime
// (WORKERS worker threads; default: the CPUs), hyper's Server bound to
// 127.0.0.1:PORT, HTTP/1.1 only, keep-alive (hyper's default), TCP_NODELAY
// on each connection, and a service that answers every request with
// "Hello, World!" (13 bytes, text/plain; hyper adds Content-Length and
// Date). It prints "listening on PORT" once bound and runs until it is
// killed (SIGTERM's default action).

#[path = "../../tokio/src/server_args.rs"]
mod server_args;

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server};

async fn hello(_req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let mut res = Response::new(Body::from("Hello, World!"));
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(res)
}

fn http_hello(args: &[String]) -> i32 {
    let (port, rt) = match server_args::port_and_runtime("hyper-peer", "http_hello", args) {
        Ok(v) => v,
        Err(rc) => return rc,
    };
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let builder = match Server::try_bind(&addr) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("hyper-peer: bind {}: {}", addr, e);
                return 1;
            }
        };
        let make = make_service_fn(|_conn| async { Ok::<_, Infallible>(service_fn(hello)) });
        let server = builder.http1_only(true).tcp_nodelay(true).serve(make);
        println!("listening on {}", port);
        if let Err(e) = server.await {
            eprintln!("hyper-peer: server: {}", e);
            return 1;
        }
        0
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(|a| a.as_str()) {
        Some("http_hello") => std::process::exit(http_hello(&args[1..])),
        Some("version") if args.len() == 1 => {
            println!(
                "hyper {}, tokio {}, {}",
                env!("HYPER_VERSION"),
                env!("TOKIO_VERSION"),
                env!("RUSTC_VERSION")
            );
        }
        _ => {
            eprintln!("usage: hyper-peer http_hello PORT [WORKERS] | hyper-peer version");
            std::process::exit(2);
        }
    }
}
