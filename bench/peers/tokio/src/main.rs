// SPDX-License-Identifier: MIT
//
// The tokio peer of weft's throughput suite (BENCH.md): the same workloads
// on tokio's multi-thread runtime, written as a tokio user would (spawn,
// JoinHandle, oneshot / mpsc channels, tokio::time::sleep, yield_now),
// measured the same way as bench/harness.c (a monotonic clock around the
// workload only, repeated until at least --min-time seconds of work, peak
// RSS from getrusage, a self-check per workload) and written as the same
// JSON lines (runtime "tokio").
//
//   tokio-peer list
//   tokio-peer echo_server PORT [WORKERS]   (the network workloads' server, echo.rs)
//   tokio-peer version
//   tokio-peer WORKLOAD [--variant V] [--runs N] [--run-base N] [--json FILE]
//              [--json-stdout] [--min-time S] [--quick] [--no-fork]
//
// Variants: "workers=N" is a multi-thread runtime with N worker threads
// (N = the CPUs by default, and 1). ping_pong: "future" sends each
// message as a fresh tokio::sync::oneshot (as weft's futures), "queue"
// uses an mpsc channel of capacity 1 each way. Each run is a process of
// its own (the program re-executes itself with --no-fork), as weft_bench
// forks. Every workload's main body runs inside a spawned task (a worker
// thread), as weft's main task does, not in block_on's thread; threadsafe's
// callers are foreign std threads on purpose.
// The runtime has timers only (enable_time), except for spawn_wait, whose
// tokio::process needs the I/O driver too (its SIGCHLD stream).
//
// Built offline from Debian's crates: see .cargo/config.toml.

mod echo;
mod server_args;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot, watch, Notify};

// ---- the harness -------------------------------------------------------------

#[derive(Clone)]
struct Opts {
    runs: u32,
    run_base: u32,
    json: Option<String>,
    json_stdout: bool,
    min_seconds: f64,
    quick: bool,
    in_process: bool,
}

/// What one iteration reports: operations and measured seconds, or why
/// its self-check failed.
type Iter = Result<(f64, f64), String>;

#[derive(Default)]
struct Report {
    figure: Option<f64>,
    metrics: Vec<(&'static str, f64)>,
}

/// A workload variant: its iteration and its report, built per run.
struct Variant {
    workload: &'static str,
    variant: String,
    unit: &'static str,
    lower_is_better: bool,
    workers: usize,
    per_iter: f64,
    /// The runtime also needs tokio's I/O driver (spawn_wait: the process
    /// reaper's SIGCHLD stream is a signal, which needs it); the other
    /// workloads run on a runtime with timers only, as before.
    io: bool,
    iter: Box<dyn FnMut(&Runtime) -> Iter>,
    report: Option<Box<dyn FnMut() -> Report>>,
}

struct Outcome {
    ops: f64,
    seconds: f64,
    iterations: u64,
    ok: bool,
    why: String,
    report: Report,
    rss_kb: i64,
}

impl Outcome {
    fn rate(&self) -> f64 {
        match self.report.figure {
            Some(f) => f,
            None if self.seconds > 0.0 => self.ops / self.seconds,
            None => 0.0,
        }
    }
}

fn peak_rss_kb() -> i64 {
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return -1;
        }
        ru.ru_maxrss as i64 // KiB on Linux
    }
}

/// Resident set now (KiB), from /proc/self/statm.
fn current_rss_kb() -> i64 {
    let s = match std::fs::read_to_string("/proc/self/statm") {
        Ok(s) => s,
        Err(_) => return -1,
    };
    let pages: i64 = match s.split_whitespace().nth(1).and_then(|x| x.parse().ok()) {
        Some(p) => p,
        None => return -1,
    };
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64 / 1024
}

fn measure(o: &Opts, v: &mut Variant) -> Outcome {
    let mut out = Outcome {
        ops: 0.0,
        seconds: 0.0,
        iterations: 0,
        ok: true,
        why: String::new(),
        report: Report::default(),
        rss_kb: -1,
    };
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(v.workers).enable_time();
    if v.io {
        b.enable_io();
    }
    let rt = match b.build() {
        Ok(rt) => rt,
        Err(e) => {
            out.ok = false;
            out.why = format!("runtime: {}", e);
            out.rss_kb = peak_rss_kb();
            return out;
        }
    };
    loop {
        match (v.iter)(&rt) {
            Ok((ops, s)) => {
                out.ops += ops;
                out.seconds += s;
                out.iterations += 1;
            }
            Err(why) => {
                out.ok = false;
                out.why = format!("iteration {}: {}", out.iterations + 1, why);
                break;
            }
        }
        if out.seconds >= o.min_seconds {
            break;
        }
    }
    if out.ok {
        if let Some(r) = v.report.as_mut() {
            out.report = r();
        }
    }
    drop(rt);
    out.rss_kb = peak_rss_kb();
    out
}

/// Runs `f` as a task on the runtime's workers and waits for it.
fn on_worker<F, T>(rt: &Runtime, f: F) -> Result<T, String>
where
    F: Future<Output = Result<T, String>> + Send + 'static,
    T: Send + 'static,
{
    match rt.block_on(rt.spawn(f)) {
        Ok(r) => r,
        Err(e) => Err(format!("main task: {}", e)),
    }
}

fn cpu_model() -> String {
    let s = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let keys = ["model name", "Model", "Hardware", "cpu model"];
    let mut best = keys.len();
    let mut model = "unknown".to_string();
    for line in s.lines() {
        if let Some(i) = line.find(':') {
            for (k, key) in keys.iter().enumerate().take(best) {
                if line.starts_with(key) {
                    model = line[i + 1..].trim().to_string();
                    best = k;
                    break;
                }
            }
        }
    }
    model
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{}", x)
    } else {
        "null".into()
    }
}

fn machine_json() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let allowed = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(-1);
    format!(
        "{{\"cores\":{},\"cpus_allowed\":{},\"kernel\":{},\"arch\":{},\"cpu\":{}}}",
        cores,
        allowed,
        json_str(&kernel),
        json_str(std::env::consts::ARCH),
        json_str(&cpu_model())
    )
}

fn utc_now() -> String {
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::gmtime_r(&t, &mut tm);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        )
    }
}

fn json_line(o: &Opts, v: &Variant, r: &Outcome, run: u32) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "{{\"workload\":{},\"runtime\":\"tokio\",\"variant\":{},\"n\":{:.0},\"seconds\":{:.6},",
        json_str(v.workload),
        json_str(&v.variant),
        r.ops,
        r.seconds
    );
    if r.ok {
        let _ = write!(b, "\"rate\":{}", num(r.rate()));
    } else {
        b.push_str("\"rate\":null");
    }
    let _ = write!(b, ",\"unit\":{}", json_str(v.unit));
    if r.rss_kb > 0 {
        let _ = write!(b, ",\"rss_kb\":{}", r.rss_kb);
    } else {
        b.push_str(",\"rss_kb\":null");
    }
    let _ = write!(
        b,
        ",\"better\":\"{}\"",
        if v.lower_is_better { "lower" } else { "higher" }
    );
    if r.ok {
        for (k, val) in &r.report.metrics {
            let _ = write!(b, ",{}:{}", json_str(k), num(*val));
        }
    }
    let _ = write!(
        b,
        ",\"run\":{},\"ok\":{},\"machine\":{}",
        run,
        r.ok,
        machine_json()
    );
    let _ = write!(
        b,
        ",\"workers\":{},\"iterations\":{},\"per_iter\":{:.0},\"min_seconds\":{}",
        v.workers, r.iterations, v.per_iter, o.min_seconds
    );
    let _ = write!(
        b,
        ",\"quick\":{},\"forked\":true,\"build\":{},\"time\":{},\"error\":{}}}\n",
        o.quick,
        json_str(concat!("tokio ", env!("TOKIO_VERSION"), ", ", env!("RUSTC_VERSION"))),
        json_str(&utc_now()),
        if r.ok { "null".into() } else { json_str(&r.why) }
    );
    b
}

fn si(mut v: f64) -> String {
    let prefix = ["", " k", " M", " G"];
    let mut p = 0;
    while v >= 1000.0 && p < 3 {
        v /= 1000.0;
        p += 1;
    }
    let prec = if v < 1.0 && p == 0 {
        3
    } else if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{:.*}{}", prec, v, prefix[p])
}

/// 4 significant digits, as harness.c's %.4g (without the exponent).
fn short(v: f64) -> String {
    let a = v.abs();
    let prec = if a >= 1000.0 { 0 } else if a >= 100.0 { 1 } else if a >= 10.0 { 2 } else { 3 };
    format!("{:.*}", prec, v)
}

fn bench_run(o: &Opts, mut make: impl FnMut() -> Variant) -> u32 {
    let mut failed = 0;
    for i in 0..o.runs {
        let run = o.run_base + i;
        let mut v = make();
        let r = measure(o, &mut v);
        print!("{:<12} {:<8} {:<18} run {:<2} ", v.workload, "tokio", v.variant, run);
        if !r.ok {
            println!("FAILED: {}", r.why);
            failed += 1;
        } else {
            print!(
                "{:>8} {:<14} ({:.0} in {:.3} s, {} iter, rss {:.1} MiB",
                si(r.rate()),
                v.unit,
                r.ops,
                r.seconds,
                r.iterations,
                r.rss_kb as f64 / 1024.0
            );
            for (k, val) in &r.report.metrics {
                print!(", {} {}", k, short(*val));
            }
            println!(")");
        }
        let line = json_line(o, &v, &r, run);
        if o.json_stdout {
            print!("{}", line);
        }
        if let Some(path) = &o.json {
            let res = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = res {
                eprintln!("tokio-peer: cannot append to {}: {}", path, e);
            }
        }
        let _ = std::io::stdout().flush();
    }
    failed
}

// ---- spawn_many ----------------------------------------------------------------
// One task spawns n trivial tasks, then awaits their JoinHandles. Check:
// task i returns 2i+1; the sum of n results is n^2.

fn spawn_many(n: u64) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        on_worker(rt, async move {
            let t0 = Instant::now();
            let mut handles = Vec::with_capacity(n as usize);
            for i in 0..n {
                handles.push(tokio::spawn(async move { 2 * i + 1 }));
            }
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.map_err(|e| e.to_string())?;
            }
            let s = t0.elapsed().as_secs_f64();
            if sum != n * n {
                return Err(format!("sum of results {}, expected {}", sum, n * n));
            }
            Ok((n as f64, s))
        })
    }
}

// ---- yield_many ------------------------------------------------------------------
// 1,000 tasks each yield 1,000 times (tokio::task::yield_now, tokio's
// sleep(0)).

fn yield_many(tasks: u64, yields: u64) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        on_worker(rt, async move {
            let t0 = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    tokio::spawn(async move {
                        let mut n = 0u64;
                        for _ in 0..yields {
                            tokio::task::yield_now().await;
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.map_err(|e| e.to_string())?;
            }
            let s = t0.elapsed().as_secs_f64();
            if sum != tasks * yields {
                return Err(format!("{} yields counted, expected {}", sum, tasks * yields));
            }
            Ok(((tasks * yields) as f64, s))
        })
    }
}

// ---- ping_pong ---------------------------------------------------------------------
// 1,000 pairs of tasks, 1,000 round trips each. future: each message is a
// fresh oneshot channel, made by the side that will await it; its sender
// travels to the peer inside the peer's previous oneshot. queue: an mpsc
// channel of capacity 1 each way. Check: both sides count exchanges.

struct Msg(oneshot::Sender<Msg>);

fn ping_pong(pairs: u64, rounds: u64, queue: bool) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        on_worker(rt, async move {
            let t0 = Instant::now();
            let mut handles = Vec::with_capacity(2 * pairs as usize);
            for _ in 0..pairs {
                if queue {
                    let (ab_tx, mut ab_rx) = mpsc::channel::<u64>(1);
                    let (ba_tx, mut ba_rx) = mpsc::channel::<u64>(1);
                    handles.push(tokio::spawn(async move {
                        let mut n = 0;
                        for i in 0..rounds {
                            ab_tx.send(i).await.map_err(|_| "B is gone")?;
                            if ba_rx.recv().await == Some(i) {
                                n += 1;
                            }
                        }
                        Ok::<u64, &'static str>(n)
                    }));
                    handles.push(tokio::spawn(async move {
                        let mut n = 0;
                        for _ in 0..rounds {
                            let v = ab_rx.recv().await.ok_or("A is gone")?;
                            ba_tx.send(v).await.map_err(|_| "A is gone")?;
                            n += 1;
                        }
                        Ok(n)
                    }));
                    continue;
                }
                let (first_tx, first_rx) = oneshot::channel::<Msg>();
                handles.push(tokio::spawn(async move {
                    // A: sends its fresh oneshot through B's, awaits it.
                    let mut theirs = first_tx;
                    let mut n = 0;
                    for _ in 0..rounds {
                        let (tx, rx) = oneshot::channel();
                        theirs.send(Msg(tx)).map_err(|_| "B is gone")?;
                        theirs = rx.await.map_err(|_| "B is gone")?.0;
                        n += 1;
                    }
                    Ok(n)
                }));
                handles.push(tokio::spawn(async move {
                    let mut mine = first_rx;
                    let mut n = 0;
                    for _ in 0..rounds {
                        let Msg(theirs) = mine.await.map_err(|_| "A is gone")?;
                        let (tx, rx) = oneshot::channel();
                        theirs.send(Msg(tx)).map_err(|_| "A is gone")?;
                        mine = rx;
                        n += 1;
                    }
                    Ok(n)
                }));
            }
            let mut sum = 0;
            for h in handles {
                sum += h.await.map_err(|e| e.to_string())??;
            }
            let s = t0.elapsed().as_secs_f64();
            if sum != 2 * pairs * rounds {
                return Err(format!(
                    "{} exchanges counted, expected {}",
                    sum,
                    2 * pairs * rounds
                ));
            }
            Ok(((pairs * rounds) as f64, s))
        })
    }
}

// ---- chained_spawn ---------------------------------------------------------------
// A task spawns a child that spawns a child ... depth 1,000 (each link
// spawns the next and returns, as tokio's own chained_spawn benchmark); the
// last sends the link count on a oneshot. 1,000 chains one after another.

fn chain_link(links: u64, depth: u64, done: oneshot::Sender<u64>) {
    let links = links + 1;
    if links == depth {
        let _ = done.send(links);
        return;
    }
    tokio::spawn(async move { chain_link(links, depth, done) });
}

fn chained_spawn(chains: u64, depth: u64) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        on_worker(rt, async move {
            let t0 = Instant::now();
            for j in 0..chains {
                let (tx, rx) = oneshot::channel();
                tokio::spawn(async move { chain_link(0, depth, tx) });
                let links = rx.await.map_err(|_| format!("chain {} broke", j))?;
                if links != depth {
                    return Err(format!("chain {}: {} links, expected {}", j, links, depth));
                }
            }
            Ok(((chains * depth) as f64, t0.elapsed().as_secs_f64()))
        })
    }
}

// ---- fib_parallel ------------------------------------------------------------------
// fib(27): serial at n <= 15, else fib(n-1) in a spawned task, fib(n-2)
// inline (a boxed recursive future), then await the child. Figure:
// parallel / serial time, serial being plain recursive fib(27).

const FIB_N: u32 = 27;
const FIB_SERIAL_MAX: u32 = 15;
const FIB_27: u64 = 196418;
const FIB_PAIRS: u32 = 10;
static FIB_ARG: u32 = FIB_N;

#[inline(never)]
fn fib_serial(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib_serial(n - 1) + fib_serial(n - 2)
    }
}

fn fib_par(n: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n <= FIB_SERIAL_MAX {
            return fib_serial(n);
        }
        let child = tokio::spawn(fib_par(n - 1));
        let b = fib_par(n - 2).await;
        child.await.expect("fib child panicked") + b
    })
}

#[derive(Default)]
struct FibTotals {
    serial: f64,
    parallel: f64,
    fibs: u32,
}

fn fib_parallel(t: Arc<Mutex<FibTotals>>) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        let t = t.clone();
        on_worker(rt, async move {
            // Read through a volatile load, so nothing is folded.
            let n = unsafe { std::ptr::read_volatile(&FIB_ARG) };
            let (mut ser, mut par) = (0.0, 0.0);
            for _ in 0..FIB_PAIRS {
                let t0 = Instant::now();
                let s = fib_serial(n);
                let t1 = Instant::now();
                let p = fib_par(n).await;
                let t2 = Instant::now();
                if s != FIB_27 || p != FIB_27 {
                    return Err(format!(
                        "fib(27): serial {}, parallel {}, expected {}",
                        s, p, FIB_27
                    ));
                }
                ser += (t1 - t0).as_secs_f64();
                par += (t2 - t1).as_secs_f64();
            }
            let mut t = t.lock().unwrap();
            t.serial += ser;
            t.parallel += par;
            t.fibs += FIB_PAIRS;
            Ok((FIB_PAIRS as f64, par))
        })
    }
}

// ---- timers ----------------------------------------------------------------------
// 100,000 tasks; task i sleeps (i x 7919 mod 100) ms with tokio::time::sleep.
// Figure: wall seconds (ideal 0.1); lateness = wake - (before + delay), µs.

#[derive(Default)]
struct TimerTotals {
    late: Vec<i64>,
    wall: f64,
    iters: u32,
}

fn timers(n: u64, t: Arc<Mutex<TimerTotals>>) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        let t = t.clone();
        on_worker(rt, async move {
            let t0 = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    tokio::spawn(async move {
                        let d = Duration::from_millis((i * 7919) % 100);
                        let before = Instant::now();
                        tokio::time::sleep(d).await;
                        let after = Instant::now();
                        // Instant is monotonic; an early wake is negative.
                        if after < before + d {
                            -(((before + d) - after).as_nanos() as i64)
                        } else {
                            (after - (before + d)).as_nanos() as i64
                        }
                    })
                })
                .collect();
            let mut late = Vec::with_capacity(n as usize);
            for h in handles {
                late.push(h.await.map_err(|e| e.to_string())?);
            }
            let wall = t0.elapsed().as_secs_f64();
            let early = late.iter().filter(|&&x| x < 0).count();
            let mut t = t.lock().unwrap();
            t.late.extend_from_slice(&late);
            if early > 0 {
                return Err(format!("{} sleeps returned early", early));
            }
            t.wall += wall;
            t.iters += 1;
            Ok((n as f64, wall))
        })
    }
}

fn timers_report(t: Arc<Mutex<TimerTotals>>) -> impl FnMut() -> Report {
    move || {
        let mut t = t.lock().unwrap();
        t.late.sort_unstable();
        let n = t.late.len();
        Report {
            figure: Some(t.wall / t.iters as f64),
            metrics: vec![
                ("p50_us", t.late[n / 2] as f64 / 1e3),
                ("p99_us", t.late[n * 99 / 100] as f64 / 1e3),
                ("max_us", t.late[n - 1] as f64 / 1e3),
                ("tasks_per_s", n as f64 / t.wall),
            ],
        }
    }
}

// ---- idle_memory -----------------------------------------------------------------
// 1,000,000 tasks all await one event (a watch channel's change), then it
// is sent. Figure: bytes of RSS per waiting task (statm once all wait,
// minus statm before the first spawn). JoinHandles are dropped at spawn:
// only the tasks are measured; the last task to finish notifies the main.

#[derive(Default)]
struct IdleTotals {
    per_task: f64,
    spawn: f64,
    release: f64,
    iters: u32,
    base_maxrss_kb: i64,
}

fn idle_memory(n: u64, t: Arc<Mutex<IdleTotals>>) -> impl FnMut(&Runtime) -> Iter {
    t.lock().unwrap().base_maxrss_kb = peak_rss_kb();
    move |rt| {
        let t = t.clone();
        on_worker(rt, async move {
            let (tx, rx) = watch::channel(0u64);
            let waiting = Arc::new(AtomicU64::new(0));
            let woken = Arc::new(AtomicU64::new(0));
            let finished = Arc::new(AtomicUsize::new(0));
            let all = Arc::new(Notify::new());
            let rss0 = current_rss_kb();
            let t0 = Instant::now();
            for _ in 0..n {
                let mut rx = rx.clone();
                let (waiting, woken, finished, all) =
                    (waiting.clone(), woken.clone(), finished.clone(), all.clone());
                tokio::spawn(async move {
                    waiting.fetch_add(1, Ordering::Relaxed);
                    if rx.changed().await.is_ok() && *rx.borrow() == 0x1d1e {
                        woken.fetch_add(1, Ordering::Relaxed);
                    }
                    if finished.fetch_add(1, Ordering::AcqRel) + 1 == n as usize {
                        all.notify_one(); // stores a permit if main is not waiting yet
                    }
                });
            }
            drop(rx);
            while waiting.load(Ordering::Relaxed) < n {
                tokio::task::yield_now().await;
            }
            tokio::task::yield_now().await;
            let t1 = Instant::now();
            let rss1 = current_rss_kb();
            let t2 = Instant::now();
            tx.send(0x1d1e).map_err(|_| "no task is waiting".to_string())?;
            all.notified().await;
            let t3 = Instant::now();
            let got = woken.load(Ordering::Relaxed);
            if got != n {
                return Err(format!("{} of {} tasks got the event", got, n));
            }
            let per = (rss1 - rss0) as f64 * 1024.0 / n as f64;
            let mut t = t.lock().unwrap();
            if t.iters == 0 || per > t.per_task {
                t.per_task = per;
            }
            t.spawn += (t1 - t0).as_secs_f64();
            t.release += (t3 - t2).as_secs_f64();
            t.iters += 1;
            Ok((n as f64, ((t1 - t0) + (t3 - t2)).as_secs_f64()))
        })
    }
}

// ---- threadsafe ------------------------------------------------------------------
// 4 foreign OS threads (std::thread, not the runtime's) each make `calls`
// round trips one after another: Handle::spawn a trivial task, block for
// its result, next. The clock includes starting the threads, as weft's.
// Check: call i returned 2i+1.

const THREADSAFE_THREADS: u64 = 4;

fn threadsafe_caller(h: tokio::runtime::Handle, calls: u64) -> Result<(), String> {
    let mut bad = 0u64;
    let mut first = String::new();
    for i in 0..calls {
        // The JoinHandle plays weft_run_coroutine_threadsafe's future:
        // Handle::block_on only polls it here (parking this thread until
        // the task's waker fires); the task runs on a worker. A oneshot +
        // blocking_recv parks the same way but adds a second channel.
        let got = h.block_on(h.spawn(async move { 2 * i + 1 }));
        let why = match got {
            Ok(r) if r == 2 * i + 1 => continue,
            Ok(r) => format!("call {} returned {}, expected {}", i, r, 2 * i + 1),
            Err(e) => format!("call {}: {}", i, e),
        };
        if bad == 0 {
            first = why;
        }
        bad += 1;
    }
    if bad > 0 {
        return Err(format!("{} of {} calls failed (first: {})", bad, calls, first));
    }
    Ok(())
}

fn threadsafe(calls: u64) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        let t0 = Instant::now();
        let mut threads = Vec::new();
        for _ in 0..THREADSAFE_THREADS {
            let h = rt.handle().clone();
            match std::thread::Builder::new().spawn(move || threadsafe_caller(h, calls)) {
                Ok(t) => threads.push(t),
                Err(_) => break,
            }
        }
        let made = threads.len() as u64;
        let mut fail = None;
        for t in threads {
            let r = t.join().unwrap_or_else(|_| Err("a calling thread panicked".into()));
            if let (Err(why), None) = (r, &fail) {
                fail = Some(why);
            }
        }
        let s = t0.elapsed().as_secs_f64();
        if made < THREADSAFE_THREADS {
            return Err(format!("only {} of {} threads started", made, THREADSAFE_THREADS));
        }
        if let Some(why) = fail {
            return Err(why);
        }
        Ok(((THREADSAFE_THREADS * calls) as f64, s))
    }
}

// ---- to_thread -------------------------------------------------------------------
// One task makes `calls` spawn_blocking calls of a trivial function on the
// default blocking pool (up to 512 threads), keeping 64 in flight: await
// the oldest, submit the next. Check: call i returned 2i+1.

const TO_THREAD_WINDOW: u64 = 64;

fn to_thread(calls: u64) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        on_worker(rt, async move {
            let t0 = Instant::now();
            let mut window = VecDeque::with_capacity(TO_THREAD_WINDOW as usize);
            let (mut next, mut bad) = (0u64, 0u64);
            let mut first = String::new();
            for done in 0..calls {
                while next < calls && next < done + TO_THREAD_WINDOW {
                    let i = next;
                    window.push_back(tokio::task::spawn_blocking(move || 2 * i + 1));
                    next += 1;
                }
                let h = window.pop_front().expect("the window holds the next call");
                let why = match h.await {
                    Ok(r) if r == 2 * done + 1 => continue,
                    Ok(r) => format!("call {} returned {}, expected {}", done, r, 2 * done + 1),
                    Err(e) => format!("call {}: {}", done, e),
                };
                if bad == 0 {
                    first = why;
                }
                bad += 1;
            }
            let s = t0.elapsed().as_secs_f64();
            if bad > 0 {
                return Err(format!("{} of {} calls failed (first: {})", bad, calls, first));
            }
            Ok((calls as f64, s))
        })
    }
}

// ---- spawn_wait ------------------------------------------------------------------
// /bin/true started and waited n times, 16 in flight: 16 tasks each take
// the next number from a shared counter until all n are taken and run
// tokio::process::Command::new("/bin/true").status().await for it (stdio
// inherited, tokio's default; the `process` feature: std's spawn, reaped
// on SIGCHLD through signal-hook-registry). Check: exactly n children
// ran and every one exited 0.

const SPAWN_WAIT_WINDOW: usize = 16;

fn spawn_wait(n: u64) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        on_worker(rt, async move {
            let next = Arc::new(AtomicU64::new(0));
            let ok = Arc::new(AtomicU64::new(0));
            let t0 = Instant::now();
            let mut handles = Vec::with_capacity(SPAWN_WAIT_WINDOW);
            for _ in 0..SPAWN_WAIT_WINDOW {
                let (next, ok) = (next.clone(), ok.clone());
                handles.push(tokio::spawn(async move {
                    let (mut bad, mut first) = (0u64, String::new());
                    while next.fetch_add(1, Ordering::Relaxed) < n {
                        let why = match tokio::process::Command::new("/bin/true").status().await {
                            Ok(st) if st.success() => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            Ok(st) => format!("a child ended with {}", st),
                            Err(e) => format!("spawn or wait: {}", e),
                        };
                        if bad == 0 {
                            first = why;
                        }
                        bad += 1;
                    }
                    (bad, first)
                }));
            }
            let (mut bad, mut first) = (0u64, String::new());
            for h in handles {
                let (b, f) = h.await.map_err(|e| e.to_string())?;
                if b > 0 && bad == 0 {
                    first = f;
                }
                bad += b;
            }
            let s = t0.elapsed().as_secs_f64();
            if bad > 0 {
                return Err(format!("{} of {} children failed (first: {})", bad, n, first));
            }
            let ok = ok.load(Ordering::Relaxed);
            if ok != n {
                return Err(format!("{} of {} children exited 0", ok, n));
            }
            Ok((n as f64, s))
        })
    }
}

// ---- cold_start ------------------------------------------------------------------
// A fresh process's first burst of n tasks alive at once (each awaiting a
// watch channel's change, released by one send, awaited through its
// JoinHandle) against its second. Figure: first / second burst time of the
// run's first iteration (each run is a process of its own). Kinds: "tasks"
// (spawned by a task), "threadsafe" (Handle::spawn from the harness thread,
// each JoinHandle waited with Handle::block_on). tokio has no memory to
// reserve: no "reserve" kind.

#[derive(Default)]
struct ColdTotals {
    first: [f64; 2],
    iters: u32,
}

const COLD_TOKEN: u64 = 0xc01d;

fn cold_spawn(
    h: &tokio::runtime::Handle,
    n: u64,
    rx: &watch::Receiver<u64>,
    started: &Arc<AtomicU64>,
    all: &Arc<Notify>,
) -> Vec<tokio::task::JoinHandle<bool>> {
    let mut hs = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (mut rx, started, all) = (rx.clone(), started.clone(), all.clone());
        hs.push(h.spawn(async move {
            if started.fetch_add(1, Ordering::Relaxed) + 1 == n {
                all.notify_one(); // stores a permit if nobody waits yet
            }
            rx.changed().await.is_ok() && *rx.borrow() == COLD_TOKEN
        }));
    }
    hs
}

async fn cold_burst_in_task(n: u64) -> Result<f64, String> {
    let (tx, rx) = watch::channel(0u64);
    let (started, all) = (Arc::new(AtomicU64::new(0)), Arc::new(Notify::new()));
    let t0 = Instant::now();
    let hs = cold_spawn(&tokio::runtime::Handle::current(), n, &rx, &started, &all);
    all.notified().await;
    tx.send(COLD_TOKEN).map_err(|_| "no task is waiting".to_string())?;
    let mut bad = 0;
    for h in hs {
        if !h.await.unwrap_or(false) {
            bad += 1;
        }
    }
    let s = t0.elapsed().as_secs_f64();
    if bad > 0 {
        return Err(format!("{} of {} tasks missed the release", bad, n));
    }
    Ok(s)
}

fn cold_burst_foreign(rt: &Runtime, n: u64) -> Result<f64, String> {
    let h = rt.handle();
    let (tx, rx) = watch::channel(0u64);
    let (started, all) = (Arc::new(AtomicU64::new(0)), Arc::new(Notify::new()));
    let t0 = Instant::now();
    let hs = cold_spawn(h, n, &rx, &started, &all);
    h.block_on(all.notified());
    tx.send(COLD_TOKEN).map_err(|_| "no task is waiting".to_string())?;
    let mut bad = 0;
    for j in hs {
        if !h.block_on(j).unwrap_or(false) {
            bad += 1;
        }
    }
    let s = t0.elapsed().as_secs_f64();
    if bad > 0 {
        return Err(format!("{} of {} tasks missed the release", bad, n));
    }
    Ok(s)
}

fn cold_start(n: u64, foreign: bool, t: Arc<Mutex<ColdTotals>>) -> impl FnMut(&Runtime) -> Iter {
    move |rt| {
        let b = if foreign {
            [cold_burst_foreign(rt, n)?, cold_burst_foreign(rt, n)?]
        } else {
            on_worker(rt, async move {
                let first = cold_burst_in_task(n).await?;
                Ok([first, cold_burst_in_task(n).await?])
            })?
        };
        let mut t = t.lock().unwrap();
        if t.iters == 0 {
            t.first = b;
        }
        t.iters += 1;
        Ok(((2 * n) as f64, b[0] + b[1]))
    }
}

// ---- the workload table -----------------------------------------------------------

struct Workload {
    name: &'static str,
    unit: &'static str,
    kinds: &'static [&'static str], // "" for the only kind
    na: &'static str,               // non-empty: not available
}

const WORKLOADS: &[Workload] = &[
    Workload { name: "spawn_many", unit: "tasks/s", kinds: &[""], na: "" },
    Workload { name: "yield_many", unit: "yields/s", kinds: &[""], na: "" },
    Workload { name: "ping_pong", unit: "round trips/s", kinds: &["future", "queue"], na: "" },
    Workload { name: "chained_spawn", unit: "spawns/s", kinds: &[""], na: "" },
    Workload { name: "fib_parallel", unit: "parallel/serial", kinds: &[""], na: "" },
    Workload { name: "timers", unit: "s", kinds: &[""], na: "" },
    Workload { name: "idle_memory", unit: "B/task", kinds: &[""], na: "" },
    Workload { name: "threadsafe", unit: "calls/s", kinds: &[""], na: "" },
    Workload { name: "cold_start", unit: "first/second", kinds: &["tasks", "threadsafe"], na: "" },
    Workload { name: "to_thread", unit: "calls/s", kinds: &[""], na: "" },
    Workload { name: "spawn_wait", unit: "spawns/s", kinds: &[""], na: "" },
    Workload {
        name: "tcp_echo",
        unit: "messages/s",
        kinds: &[],
        na: "a server (tokio-peer echo_server) that tools/bench.sh runs against bench/loadgen",
    },
];

fn variant_name(kind: &str, workers: usize) -> String {
    if kind.is_empty() {
        format!("workers={}", workers)
    } else {
        format!("{},workers={}", kind, workers)
    }
}

fn make_variant(o: &Opts, w: &Workload, kind: &str, workers: usize) -> Variant {
    let pick = |full: u64, quick: u64| if o.quick { quick } else { full };
    let mut v = Variant {
        workload: w.name,
        variant: variant_name(kind, workers),
        unit: w.unit,
        lower_is_better: false,
        workers,
        per_iter: 0.0,
        io: false,
        iter: Box::new(|_| Err("no such workload".into())),
        report: None,
    };
    match w.name {
        "spawn_many" => {
            let n = pick(1_000_000, 100_000);
            v.per_iter = n as f64;
            v.iter = Box::new(spawn_many(n));
        }
        "yield_many" => {
            let y = pick(1000, 100);
            v.per_iter = (1000 * y) as f64;
            v.iter = Box::new(yield_many(1000, y));
        }
        "ping_pong" => {
            let r = pick(1000, 100);
            v.per_iter = (1000 * r) as f64;
            v.iter = Box::new(ping_pong(1000, r, kind == "queue"));
        }
        "chained_spawn" => {
            let c = pick(1000, 100);
            v.per_iter = (c * 1000) as f64;
            v.iter = Box::new(chained_spawn(c, 1000));
        }
        "fib_parallel" => {
            let t = Arc::new(Mutex::new(FibTotals::default()));
            v.per_iter = FIB_PAIRS as f64;
            v.lower_is_better = true;
            v.iter = Box::new(fib_parallel(t.clone()));
            v.report = Some(Box::new(move || {
                let t = t.lock().unwrap();
                Report {
                    figure: Some(t.parallel / t.serial),
                    metrics: vec![
                        ("parallel_ms", t.parallel / t.fibs as f64 * 1e3),
                        ("serial_ms", t.serial / t.fibs as f64 * 1e3),
                    ],
                }
            }));
        }
        "timers" => {
            let n = pick(100_000, 20_000);
            let t = Arc::new(Mutex::new(TimerTotals::default()));
            v.per_iter = n as f64;
            v.lower_is_better = true;
            v.iter = Box::new(timers(n, t.clone()));
            v.report = Some(Box::new(timers_report(t)));
        }
        "idle_memory" => {
            let n = pick(1_000_000, 100_000);
            let t = Arc::new(Mutex::new(IdleTotals::default()));
            v.per_iter = n as f64;
            v.lower_is_better = true;
            v.iter = Box::new(idle_memory(n, t.clone()));
            v.report = Some(Box::new(move || {
                let t = t.lock().unwrap();
                let it = t.iters as f64;
                Report {
                    figure: Some(t.per_task),
                    metrics: vec![
                        ("spawn_s", t.spawn / it),
                        ("release_s", t.release / it),
                        ("spawn_release_s", (t.spawn + t.release) / it),
                        (
                            "maxrss_bytes_per_task",
                            (peak_rss_kb() - t.base_maxrss_kb) as f64 * 1024.0 / n as f64,
                        ),
                    ],
                }
            }));
        }
        "threadsafe" => {
            let calls = pick(250_000, 25_000);
            v.per_iter = (THREADSAFE_THREADS * calls) as f64;
            v.iter = Box::new(threadsafe(calls));
        }
        "cold_start" => {
            let n = 10_000;
            let t = Arc::new(Mutex::new(ColdTotals::default()));
            v.per_iter = (2 * n) as f64;
            v.lower_is_better = true;
            v.iter = Box::new(cold_start(n, kind == "threadsafe", t.clone()));
            v.report = Some(Box::new(move || {
                let t = t.lock().unwrap();
                Report {
                    figure: Some(t.first[0] / t.first[1]),
                    metrics: vec![("first_ms", t.first[0] * 1e3), ("second_ms", t.first[1] * 1e3)],
                }
            }));
        }
        "to_thread" => {
            let calls = pick(100_000, 10_000);
            v.per_iter = calls as f64;
            v.iter = Box::new(to_thread(calls));
        }
        "spawn_wait" => {
            let n = pick(1000, 200);
            v.per_iter = n as f64;
            v.io = true;
            v.iter = Box::new(spawn_wait(n));
        }
        _ => {}
    }
    v
}

fn worker_counts() -> Vec<usize> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if n == 1 {
        vec![1]
    } else {
        vec![n, 1]
    }
}

fn usage() {
    eprintln!(
        "usage: tokio-peer list\n       tokio-peer WORKLOAD [--variant V] [--runs N] [--run-base N] [--json FILE]\n                  [--json-stdout] [--min-time S] [--quick] [--no-fork]\n(each run is a process of its own unless --no-fork)"
    );
}

fn bad(a: &str) -> ! {
    eprintln!("tokio-peer: bad value for {}", a);
    std::process::exit(2);
}

fn run_child(o: &Opts, name: &str, vn: &str, run: u32) -> u32 {
    let mut args: Vec<String> = vec![
        name.into(),
        "--variant".into(),
        vn.into(),
        "--runs".into(),
        "1".into(),
        "--run-base".into(),
        run.to_string(),
        "--min-time".into(),
        o.min_seconds.to_string(),
        "--no-fork".into(),
    ];
    if let Some(j) = &o.json {
        args.push("--json".into());
        args.push(j.clone());
    }
    if o.json_stdout {
        args.push("--json-stdout".into());
    }
    if o.quick {
        args.push("--quick".into());
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| std::env::args().next().unwrap().into());
    match std::process::Command::new(exe).args(&args).status() {
        Ok(st) if st.success() => 0,
        Ok(st) if st.code().is_some() => 1, // the child said why
        Ok(st) => {
            println!("{:<12} {:<8} {:<18} run {:<2} FAILED: {}", name, "tokio", vn, run, st);
            1
        }
        Err(e) => {
            println!("{:<12} {:<8} {:<18} run {:<2} FAILED: {}", name, "tokio", vn, run, e);
            1
        }
    }
}

fn main() {
    let mut o = Opts {
        runs: 1,
        run_base: 1,
        json: None,
        json_stdout: false,
        min_seconds: 0.5,
        quick: false,
        in_process: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(|a| a.as_str()) == Some("echo_server") {
        std::process::exit(echo::echo_server(&args[1..]));
    }
    if args.len() == 1 && args[0] == "version" {
        println!("tokio {}, {}", env!("TOKIO_VERSION"), env!("RUSTC_VERSION"));
        return;
    }
    let mut names = Vec::new();
    let mut only: Option<String> = None;
    let mut list = false;
    let mut i = 0;
    let value = |i: usize| -> String {
        match args.get(i + 1) {
            Some(v) => v.clone(),
            None => {
                eprintln!("tokio-peer: {} needs a value", args[i]);
                std::process::exit(2);
            }
        }
    };
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "list" => list = true,
            "--runs" => {
                o.runs = value(i).parse().unwrap_or_else(|_| bad(a));
                i += 1;
            }
            "--run-base" => {
                o.run_base = value(i).parse().unwrap_or_else(|_| bad(a));
                i += 1;
            }
            "--json" => {
                o.json = Some(value(i));
                i += 1;
            }
            "--json-stdout" => o.json_stdout = true,
            "--min-time" => {
                o.min_seconds = value(i).parse().unwrap_or_else(|_| bad(a));
                i += 1;
            }
            "--quick" => o.quick = true,
            "--no-fork" => o.in_process = true,
            "--variant" => {
                only = Some(value(i));
                i += 1;
            }
            "-h" | "--help" => {
                usage();
                return;
            }
            _ if a.starts_with('-') => {
                eprintln!("tokio-peer: unknown option {}", a);
                usage();
                std::process::exit(2);
            }
            _ => names.push(a.to_string()),
        }
        i += 1;
    }
    if list {
        for w in WORKLOADS {
            if !w.na.is_empty() {
                println!("{:<14} {:<20} n/a: {}", w.name, "-", w.na);
                continue;
            }
            for k in w.kinds {
                for n in worker_counts() {
                    println!("{:<14} {:<20} ready", w.name, variant_name(k, n));
                }
            }
        }
        return;
    }
    if names.is_empty() {
        usage();
        std::process::exit(2);
    }
    let mut failed = 0;
    for name in &names {
        let w = match WORKLOADS.iter().find(|w| w.name == name) {
            Some(w) => w,
            None => {
                eprintln!("tokio-peer: unknown workload {}", name);
                std::process::exit(2);
            }
        };
        if !w.na.is_empty() {
            println!("{:<12} {:<8} {:<18} n/a: {}", w.name, "tokio", "-", w.na);
            continue;
        }
        let mut matched = false;
        for k in w.kinds {
            for n in worker_counts() {
                let vn = variant_name(k, n);
                if only.as_deref().map_or(false, |x| x != vn) {
                    continue;
                }
                matched = true;
                if o.in_process {
                    failed += bench_run(&o, || make_variant(&o, w, k, n));
                } else {
                    for r in 0..o.runs {
                        failed += run_child(&o, name, &vn, o.run_base + r);
                    }
                }
            }
        }
        if !matched {
            eprintln!("tokio-peer: {} has no variant {:?}", name, only.unwrap_or_default());
            std::process::exit(2);
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
