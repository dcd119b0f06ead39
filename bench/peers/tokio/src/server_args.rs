// SPDX-License-Identifier: MIT
//
// The PORT [WORKERS] arguments of a peer's server and the tokio
// multi-thread runtime they ask for (WORKERS worker threads; default: the
// CPUs). Shared by the tokio peer's echo server and the hyper peer (which
// includes this file by path: both are the code a tokio user writes).

/// The port and a runtime for `peer server PORT [WORKERS]`, or the exit
/// code after saying why on stderr.
pub fn port_and_runtime(
    peer: &str,
    server: &str,
    args: &[String],
) -> Result<(u16, tokio::runtime::Runtime), i32> {
    if args.is_empty() || args.len() > 2 {
        eprintln!("usage: {} {} PORT [WORKERS]", peer, server);
        return Err(2);
    }
    let port: u16 = match args[0].parse() {
        Ok(p) if p > 0 => p,
        _ => {
            eprintln!("{}: bad port {:?}", peer, args[0]);
            return Err(2);
        }
    };
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = args.get(1) {
        match w.parse::<usize>() {
            Ok(n) if n >= 1 => {
                b.worker_threads(n);
            }
            _ => {
                eprintln!("{}: bad worker count {:?}", peer, w);
                return Err(2);
            }
        }
    }
    match b.enable_all().build() {
        Ok(rt) => Ok((port, rt)),
        Err(e) => {
            eprintln!("{}: {}: runtime: {}", peer, server, e);
            Err(1)
        }
    }
}
