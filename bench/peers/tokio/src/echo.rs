// SPDX-License-Identifier: MIT
//
// The tokio echo server of the network workloads (tcp_echo, connect_rate,
// idle_connections; tools/bench.sh drives it with bench/loadgen):
//
//   tokio-peer echo_server PORT [WORKERS]
//
// The server a tokio user writes: a multi-thread runtime (WORKERS worker
// threads; default: the CPUs), TcpListener on 127.0.0.1:PORT, a task per
// connection that reads into a 4 KiB buffer and write_all()s it back.
// TCP_NODELAY is set on each connection, as Go and asyncio do by default,
// so no server waits on Nagle. It runs until it is killed (SIGTERM's
// default action).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_conn(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if s.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

pub fn echo_server(args: &[String]) -> i32 {
    let (port, rt) = match crate::server_args::port_and_runtime("tokio-peer", "echo_server", args) {
        Ok(v) => v,
        Err(rc) => return rc,
    };
    rt.block_on(async move {
        let ln = match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tokio-peer: echo_server: bind 127.0.0.1:{}: {}", port, e);
                return 1;
            }
        };
        loop {
            match ln.accept().await {
                Ok((s, _)) => {
                    tokio::spawn(echo_conn(s));
                }
                Err(e) => {
                    // EMFILE and the like: back off briefly, as hyper does.
                    eprintln!("tokio-peer: echo_server: accept: {}", e);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        }
    })
}
