#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Python peers of weft's throughput suite (BENCH.md): asyncio, whose
semantics weft copies, on its default loop and on uvloop.

The same workloads as bench/weft_bench.c, measured the same way as
bench/harness.c (a monotonic clock around the workload only, repeated until
at least --min-time seconds of work, peak RSS from getrusage, a self-check
per workload), written as the same JSON lines (runtime "asyncio" or
"uvloop"). Counts are smaller than weft's where a full count would take
Python tens of seconds (BENCH.md allows it); the figures are per operation
(rates), so they compare. The counts used are in each JSON line ("n",
"per_iter").

    peer.py --loop asyncio list
    peer.py --loop uvloop WORKLOAD [--variant V] [--runs N] [--run-base N]
            [--json FILE] [--json-stdout] [--min-time S] [--quick] [--no-fork]
    peer.py --loop uvloop echo_server PORT [1]    (the network workloads' server)
    peer.py --loop uvloop version

Run it with Debian's /usr/bin/python3 (python3-uvloop is installed there).
A loop is one thread: the only variant is "workers=1" (ping_pong:
"future,workers=1" over a fresh asyncio.Future per message, as weft's
futures, and "queue,workers=1" over asyncio.Queue(maxsize=1)). Each run is a
process of its own (the script re-executes itself with --no-fork), as
weft_bench forks.
"""

import argparse
import asyncio
import collections
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time

# ---- the harness --------------------------------------------------------------


class Fail(Exception):
    """An iteration's self-check failed."""


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def current_rss_kb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024
    except (OSError, ValueError, IndexError):
        return -1


def cpu_model():
    best, model = 99, "unknown"
    keys = ["model name", "Model", "Hardware", "cpu model"]
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" not in line:
                    continue
                for k, key in enumerate(keys[:best]):
                    if line.startswith(key):
                        model, best = line.split(":", 1)[1].strip(), k
                        break
    except OSError:
        pass
    return model


def machine():
    u = os.uname()
    return {"cores": os.cpu_count(), "cpus_allowed": len(os.sched_getaffinity(0)),
            "kernel": u.release, "arch": u.machine, "cpu": cpu_model()}


def si(v):
    prefix = ["", " k", " M", " G"]
    p = 0
    while v >= 1000 and p < 3:
        v /= 1000
        p += 1
    prec = 3 if v < 1 and p == 0 else 2 if v < 10 else 1 if v < 100 else 0
    return f"{v:.{prec}f}{prefix[p]}"


class Variant:
    def __init__(self, workload, variant, unit, per_iter, iteration, report=None,
                 lower_is_better=False):
        self.workload, self.variant, self.unit = workload, variant, unit
        self.per_iter, self.iteration, self.report = per_iter, iteration, report
        self.lower_is_better = lower_is_better


def new_loop(kind):
    if kind == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def measure(o, v):
    """Runs iterations (each a coroutine run as the loop's main task) until
    min_seconds of measured work; returns the outcome dict."""
    out = {"ops": 0.0, "seconds": 0.0, "iterations": 0, "ok": True, "why": "",
           "figure": None, "metrics": []}
    loop = new_loop(o.loop)
    try:
        while True:
            try:
                ops, secs = loop.run_until_complete(v.iteration())
            except Fail as e:
                out["ok"], out["why"] = False, f"iteration {out['iterations'] + 1}: {e}"
                break
            except Exception as e:  # a crash of the workload is a failed run
                out["ok"] = False
                out["why"] = f"iteration {out['iterations'] + 1}: {type(e).__name__}: {e}"
                break
            out["ops"] += ops
            out["seconds"] += secs
            out["iterations"] += 1
            if out["seconds"] >= o.min_time:
                break
        if out["ok"] and v.report:
            out["figure"], out["metrics"] = v.report()
    finally:
        loop.close()
    out["rss_kb"] = peak_rss_kb()
    return out


def rate_of(r):
    if r["figure"] is not None:
        return r["figure"]
    return r["ops"] / r["seconds"] if r["seconds"] > 0 else 0.0


def json_line(o, v, r, run):
    d = {"workload": v.workload, "runtime": o.loop, "variant": v.variant,
         "n": round(r["ops"]), "seconds": round(r["seconds"], 6),
         "rate": rate_of(r) if r["ok"] else None, "unit": v.unit,
         "rss_kb": r["rss_kb"] if r["rss_kb"] > 0 else None,
         "better": "lower" if v.lower_is_better else "higher"}
    if r["ok"]:
        for k, val in r["metrics"]:
            d[k] = val
    if o.loop == "uvloop":
        import uvloop
        build = f"uvloop {uvloop.__version__}, Python {platform.python_version()}"
    else:
        build = f"asyncio, Python {platform.python_version()}"
    d.update({"run": run, "ok": r["ok"], "machine": machine(), "workers": 1,
              "iterations": r["iterations"], "per_iter": v.per_iter,
              "min_seconds": o.min_time, "quick": o.quick, "forked": True, "build": build,
              "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "error": None if r["ok"] else r["why"]})
    return json.dumps(d, separators=(",", ":")) + "\n"


def bench_run(o, v):
    failed = 0
    for i in range(o.runs):
        run = o.run_base + i
        r = measure(o, v)
        head = f"{v.workload:<12} {o.loop:<8} {v.variant:<18} run {run:<2} "
        if not r["ok"]:
            print(head + "FAILED: " + r["why"])
            failed += 1
        else:
            extra = "".join(f", {k} {val:.4g}" for k, val in r["metrics"])
            print(head + f"{si(rate_of(r)):>8} {v.unit:<14} ({r['ops']:.0f} in "
                  f"{r['seconds']:.3f} s, {r['iterations']} iter, rss "
                  f"{r['rss_kb'] / 1024:.1f} MiB{extra})")
        line = json_line(o, v, r, run)
        if o.json_stdout:
            sys.stdout.write(line)
        if o.json:
            try:
                with open(o.json, "a") as f:
                    f.write(line)
            except OSError as e:
                print(f"peer.py: cannot append to {o.json}: {e}", file=sys.stderr)
        sys.stdout.flush()
    return failed


# ---- spawn_many -------------------------------------------------------------------
# One task creates n trivial tasks, then awaits them all. Check: task i
# returns 2i+1; the sum of n results is n^2.

async def trivial(i):
    return 2 * i + 1


def spawn_many(n):
    async def iteration():
        t0 = time.monotonic()
        tasks = [asyncio.create_task(trivial(i)) for i in range(n)]
        s = 0
        for t in tasks:
            s += await t
        secs = time.monotonic() - t0
        if s != n * n:
            raise Fail(f"sum of results {s}, expected {n * n}")
        return n, secs
    return iteration


# ---- yield_many ------------------------------------------------------------------------

async def yielder(n):
    done = 0
    for _ in range(n):
        await asyncio.sleep(0)
        done += 1
    return done


def yield_many(tasks, yields):
    async def iteration():
        t0 = time.monotonic()
        ts = [asyncio.create_task(yielder(yields)) for _ in range(tasks)]
        s = 0
        for t in ts:
            s += await t
        secs = time.monotonic() - t0
        if s != tasks * yields:
            raise Fail(f"{s} yields counted, expected {tasks * yields}")
        return tasks * yields, secs
    return iteration


# ---- ping_pong -----------------------------------------------------------------------
# future: each message is a fresh Future created by the side that will
# await it, handed to the peer as the result of the peer's previous one.
# queue: an asyncio.Queue(maxsize=1) each way.

async def pp_a(first, rounds):
    loop = asyncio.get_running_loop()
    theirs, n = first, 0
    for _ in range(rounds):
        mine = loop.create_future()
        theirs.set_result(mine)
        theirs = await mine
        n += 1
    return n


async def pp_b(first, rounds):
    loop = asyncio.get_running_loop()
    mine, n = first, 0
    for _ in range(rounds):
        theirs = await mine
        mine = loop.create_future()
        theirs.set_result(mine)
        n += 1
    return n


async def pq_a(ab, ba, rounds):
    n = 0
    for i in range(rounds):
        await ab.put(i)
        if await ba.get() == i:
            n += 1
    return n


async def pq_b(ab, ba, rounds):
    for _ in range(rounds):
        await ba.put(await ab.get())
    return rounds


def ping_pong(pairs, rounds, queue):
    async def iteration():
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        ts = []
        for _ in range(pairs):
            if queue:
                ab, ba = asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1)
                ts.append(asyncio.create_task(pq_b(ab, ba, rounds)))
                ts.append(asyncio.create_task(pq_a(ab, ba, rounds)))
            else:
                first = loop.create_future()
                ts.append(asyncio.create_task(pp_b(first, rounds)))
                ts.append(asyncio.create_task(pp_a(first, rounds)))
        s = 0
        for t in ts:
            s += await t
        secs = time.monotonic() - t0
        if s != 2 * pairs * rounds:
            raise Fail(f"{s} exchanges counted, expected {2 * pairs * rounds}")
        return pairs * rounds, secs
    return iteration


# ---- chained_spawn ---------------------------------------------------------------------
# Each link creates the next task and returns; the last completes a future.
# The links are kept in a set while they run (asyncio keeps only weak
# references to tasks), and drop themselves when done.

def chained_spawn(chains, depth):
    async def iteration():
        loop = asyncio.get_running_loop()
        alive = set()

        async def link(links, done):
            links += 1
            if links == depth:
                done.set_result(links)
                return
            t = asyncio.create_task(link(links, done))
            alive.add(t)
            t.add_done_callback(alive.discard)

        t0 = time.monotonic()
        for j in range(chains):
            done = loop.create_future()
            t = asyncio.create_task(link(0, done))
            alive.add(t)
            t.add_done_callback(alive.discard)
            got = await done
            if got != depth:
                raise Fail(f"chain {j}: {got} links, expected {depth}")
        return chains * depth, time.monotonic() - t0
    return iteration


# ---- fib_parallel ----------------------------------------------------------------------
# Python has no parallelism on one loop: the "parallel" version measures
# what the task structure costs over plain recursion (figure >= 1).

FIB_N, FIB_SERIAL_MAX, FIB_27 = 27, 15, 196418


def fib_serial(n):
    return n if n < 2 else fib_serial(n - 1) + fib_serial(n - 2)


async def fib_par(n):
    if n <= FIB_SERIAL_MAX:
        return fib_serial(n)
    child = asyncio.create_task(fib_par(n - 1))
    b = await fib_par(n - 2)
    return await child + b


def fib_parallel(tot):
    async def iteration():
        t0 = time.monotonic()
        s = fib_serial(FIB_N)
        t1 = time.monotonic()
        p = await fib_par(FIB_N)
        t2 = time.monotonic()
        if s != FIB_27 or p != FIB_27:
            raise Fail(f"fib(27): serial {s}, parallel {p}, expected {FIB_27}")
        tot["serial"] += t1 - t0
        tot["parallel"] += t2 - t1
        tot["fibs"] += 1
        return 1, t2 - t1
    return iteration


def fib_report(tot):
    def report():
        return tot["parallel"] / tot["serial"], [
            ("parallel_ms", tot["parallel"] / tot["fibs"] * 1e3),
            ("serial_ms", tot["serial"] / tot["fibs"] * 1e3)]
    return report


# ---- timers ---------------------------------------------------------------------------

async def sleeper(i, late):
    d_ns = (i * 7919 % 100) * 1_000_000
    before = time.monotonic_ns()
    await asyncio.sleep(d_ns / 1e9)
    late[i] = time.monotonic_ns() - (before + d_ns)


def timers(n, tot):
    async def iteration():
        late = [None] * n
        t0 = time.monotonic()
        ts = [asyncio.create_task(sleeper(i, late)) for i in range(n)]
        for t in ts:
            await t
        wall = time.monotonic() - t0
        if any(x is None for x in late):
            raise Fail("a task did not sleep")
        tot["late"].extend(late)
        early = [x for x in late if x < 0]
        if early:
            raise Fail(f"{len(early)} sleeps returned early (by up to {-min(early) / 1e3:.0f} µs)")
        tot["wall"] += wall
        tot["iters"] += 1
        return n, wall
    return iteration


def timers_report(tot):
    def report():
        late = sorted(tot["late"])
        n = len(late)
        return tot["wall"] / tot["iters"], [
            ("p50_us", late[n // 2] / 1e3), ("p99_us", late[n * 99 // 100] / 1e3),
            ("max_us", late[-1] / 1e3), ("tasks_per_s", n / tot["wall"])]
    return report


# ---- idle_memory ----------------------------------------------------------------------
# n tasks all await one Future; then its result is set. Figure: bytes of
# RSS per waiting task (statm once all wait, minus statm before the first
# create_task). Tasks are kept in a set only (asyncio's own strong refs).

def idle_memory(n, tot):
    async def iteration():
        loop = asyncio.get_running_loop()
        event = loop.create_future()
        all_done = loop.create_future()
        state = {"waiting": 0, "woken": 0, "finished": 0}
        alive = set()

        async def idler():
            state["waiting"] += 1
            if await event == 0x1D1E:
                state["woken"] += 1
            state["finished"] += 1
            if state["finished"] == n:
                all_done.set_result(None)

        gc.collect()
        rss0 = current_rss_kb()
        t0 = time.monotonic()
        for _ in range(n):
            t = asyncio.create_task(idler())
            alive.add(t)
        while state["waiting"] < n:
            await asyncio.sleep(0)
        t1 = time.monotonic()
        rss1 = current_rss_kb()
        t2 = time.monotonic()
        event.set_result(0x1D1E)
        await all_done
        t3 = time.monotonic()
        alive.clear()
        if state["woken"] != n:
            raise Fail(f"{state['woken']} of {n} tasks got the event")
        per = (rss1 - rss0) * 1024 / n
        if tot["iters"] == 0 or per > tot["per_task"]:
            tot["per_task"] = per
        tot["spawn"] += t1 - t0
        tot["release"] += t3 - t2
        tot["iters"] += 1
        return n, (t1 - t0) + (t3 - t2)
    return iteration


def idle_report(tot, n):
    def report():
        it = tot["iters"]
        return tot["per_task"], [
            ("spawn_s", tot["spawn"] / it), ("release_s", tot["release"] / it),
            ("spawn_release_s", (tot["spawn"] + tot["release"]) / it),
            ("maxrss_bytes_per_task", (peak_rss_kb() - tot["base_maxrss_kb"]) * 1024 / n)]
    return report


# ---- threadsafe -------------------------------------------------------------------------
# The loop runs in the main thread; 4 threading.Threads each make `calls`
# round trips one after another: run_coroutine_threadsafe(trivial(i),
# loop).result(), next. Each thread reports on a future of the main task
# (call_soon_threadsafe), so the loop is never blocked waiting for them.
# The clock includes starting the threads, as weft's. Check: call i
# returned 2i+1.

THREADSAFE_THREADS = 4


def threadsafe(calls):
    async def iteration():
        loop = asyncio.get_running_loop()

        def caller(done):
            bad, first = 0, None
            try:
                for i in range(calls):
                    try:
                        r = asyncio.run_coroutine_threadsafe(trivial(i), loop).result()
                    except Exception as e:
                        r = f"{type(e).__name__}: {e}"
                    if r != 2 * i + 1:
                        bad += 1
                        first = first or f"call {i} returned {r}, expected {2 * i + 1}"
            finally:
                loop.call_soon_threadsafe(done.set_result, (bad, first))

        dones, threads = [], []
        t0 = time.monotonic()
        for _ in range(THREADSAFE_THREADS):
            done = loop.create_future()
            t = threading.Thread(target=caller, args=(done,))
            try:
                t.start()
            except RuntimeError:
                break
            dones.append(done)
            threads.append(t)
        results = await asyncio.gather(*dones)
        secs = time.monotonic() - t0
        for t in threads:
            t.join()
        if len(threads) < THREADSAFE_THREADS:
            raise Fail(f"only {len(threads)} of {THREADSAFE_THREADS} threads started")
        bad = sum(b for b, _ in results)
        if bad:
            first = next(f for b, f in results if b)
            raise Fail(f"{bad} of {THREADSAFE_THREADS * calls} calls failed (first: {first})")
        return THREADSAFE_THREADS * calls, secs
    return iteration


# ---- to_thread ------------------------------------------------------------------------
# One task makes `calls` asyncio.to_thread calls of a trivial function on
# the default executor, keeping 64 in flight: await the oldest, submit the
# next. Each call is a task, so that it is submitted before it is awaited.
# Check: call i returned 2i+1.

TO_THREAD_WINDOW = 64


def double_plus_one(i):
    return 2 * i + 1


def to_thread(calls):
    async def iteration():
        window = collections.deque()
        nxt, bad, first = 0, 0, None
        t0 = time.monotonic()
        for done in range(calls):
            while nxt < calls and nxt < done + TO_THREAD_WINDOW:
                window.append(asyncio.create_task(asyncio.to_thread(double_plus_one, nxt)))
                nxt += 1
            try:
                r = await window.popleft()
            except Exception as e:
                r = f"{type(e).__name__}: {e}"
            if r != 2 * done + 1:
                bad += 1
                first = first or f"call {done} returned {r}, expected {2 * done + 1}"
        secs = time.monotonic() - t0
        if bad:
            raise Fail(f"{bad} of {calls} calls failed (first: {first})")
        return calls, secs
    return iteration


# ---- spawn_wait ---------------------------------------------------------------------------
# /bin/true started and waited n times, 16 in flight: a task per child, each
# holding an asyncio.Semaphore(16) around asyncio.create_subprocess_exec
# ("/bin/true") (stdio inherited, asyncio's default) and proc.wait().
# Python 3.11's asyncio reaps through its default child watcher
# (ThreadedChildWatcher: a thread per child in waitpid); uvloop through
# libuv's SIGCHLD handling. Check: every one of the n children exited 0.

SPAWN_WAIT_WINDOW = 16


async def spawn_true(sem):
    async with sem:
        proc = await asyncio.create_subprocess_exec("/bin/true")
        return await proc.wait()


def spawn_wait(n):
    async def iteration():
        sem = asyncio.Semaphore(SPAWN_WAIT_WINDOW)
        t0 = time.monotonic()
        codes = await asyncio.gather(*(spawn_true(sem) for _ in range(n)),
                                     return_exceptions=True)
        secs = time.monotonic() - t0
        bad = [c for c in codes if c != 0]
        if bad:
            c = bad[0]
            first = f"{type(c).__name__}: {c}" if isinstance(c, BaseException) else f"return code {c}"
            raise Fail(f"{len(bad)} of {n} children failed (first: {first})")
        if len(codes) != n:
            raise Fail(f"{len(codes)} of {n} children ran")
        return n, secs
    return iteration


# ---- cold_start ------------------------------------------------------------------------
# A fresh process's first burst of n tasks alive at once (each awaiting one
# Future, released by its set_result, awaited) against its second. Figure:
# first / second burst time of the run's first iteration (each run is a
# process of its own). Only the "tasks" kind: the threadsafe and reserve
# kinds are not written for asyncio.

async def cold_burst(n):
    loop = asyncio.get_running_loop()
    event = loop.create_future()
    all_started = loop.create_future()
    state = {"started": 0}

    async def waiter():
        state["started"] += 1
        if state["started"] == n:
            all_started.set_result(None)
        return await event

    t0 = time.monotonic()
    tasks = [asyncio.create_task(waiter()) for _ in range(n)]
    await all_started
    event.set_result(0xC01D)
    got = await asyncio.gather(*tasks)
    secs = time.monotonic() - t0
    bad = sum(1 for v in got if v != 0xC01D)
    if bad:
        raise Fail(f"{bad} of {n} tasks missed the release")
    return secs


def cold_start(n, tot):
    async def iteration():
        b = [await cold_burst(n), await cold_burst(n)]
        if tot["iters"] == 0:
            tot["first"] = b
        tot["iters"] += 1
        return 2 * n, b[0] + b[1]
    return iteration


def cold_report(tot):
    def report():
        f = tot["first"]
        return f[0] / f[1], [("first_ms", f[0] * 1e3), ("second_ms", f[1] * 1e3)]
    return report


# ---- the workload table -----------------------------------------------------------------

WORKLOADS = [
    ("spawn_many", "tasks/s", [""], ""),
    ("yield_many", "yields/s", [""], ""),
    ("ping_pong", "round trips/s", ["future", "queue"], ""),
    ("chained_spawn", "spawns/s", [""], ""),
    ("fib_parallel", "parallel/serial", [""], ""),
    ("timers", "s", [""], ""),
    ("idle_memory", "B/task", [""], ""),
    ("threadsafe", "calls/s", [""], ""),
    ("cold_start", "first/second", ["tasks"], ""),
    ("to_thread", "calls/s", [""], ""),
    ("spawn_wait", "spawns/s", [""], ""),
    ("tcp_echo", "messages/s", [],
     "a server (peer.py echo_server) that tools/bench.sh runs against bench/loadgen"),
]


def variant_name(kind):
    return f"{kind},workers=1" if kind else "workers=1"


def make_variant(o, name, unit, kind):
    q = o.quick
    vn = variant_name(kind)
    if name == "spawn_many":
        n = 20_000 if q else 100_000
        return Variant(name, vn, unit, n, spawn_many(n))
    if name == "yield_many":
        y = 20 if q else 100
        return Variant(name, vn, unit, 1000 * y, yield_many(1000, y))
    if name == "ping_pong":
        r = 20 if q else 100
        return Variant(name, vn, unit, 1000 * r, ping_pong(1000, r, kind == "queue"))
    if name == "chained_spawn":
        c = 20 if q else 100
        return Variant(name, vn, unit, c * 1000, chained_spawn(c, 1000))
    if name == "fib_parallel":
        tot = {"serial": 0.0, "parallel": 0.0, "fibs": 0}
        return Variant(name, vn, unit, 1, fib_parallel(tot), fib_report(tot), True)
    if name == "timers":
        n = 20_000 if q else 100_000
        tot = {"late": [], "wall": 0.0, "iters": 0}
        return Variant(name, vn, unit, n, timers(n, tot), timers_report(tot), True)
    if name == "idle_memory":
        n = 20_000 if q else 100_000
        tot = {"per_task": 0.0, "spawn": 0.0, "release": 0.0, "iters": 0,
               "base_maxrss_kb": peak_rss_kb()}
        return Variant(name, vn, unit, n, idle_memory(n, tot), idle_report(tot, n), True)
    if name == "threadsafe":
        c = 1_000 if q else 5_000  # per thread; asyncio does ~10-20 k calls/s
        return Variant(name, vn, unit, THREADSAFE_THREADS * c, threadsafe(c))
    if name == "cold_start":
        tot = {"first": [0.0, 1.0], "iters": 0}
        return Variant(name, vn, unit, 20_000, cold_start(10_000, tot), cold_report(tot), True)
    if name == "to_thread":
        c = 4_000 if q else 20_000
        return Variant(name, vn, unit, c, to_thread(c))
    if name == "spawn_wait":
        n = 200 if q else 1000
        return Variant(name, vn, unit, n, spawn_wait(n))
    raise KeyError(name)


# ---- the echo server of the network workloads -------------------------------------------
# tcp_echo, connect_rate, idle_connections: tools/bench.sh starts this server
# and drives it with bench/loadgen/echo_loadgen. The server an asyncio user
# writes: asyncio.start_server on 127.0.0.1:PORT, a coroutine per
# connection, reader.read(4096) / writer.write / await writer.drain(). One
# loop, one thread (a worker count other than 1 is refused). Runs until it
# is killed (SIGTERM's default action).


async def _echo_conn(reader, writer):
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def echo_server(kind, args):
    if not 1 <= len(args) <= 2 or not args[0].isdigit() or not 0 < int(args[0]) < 65536:
        print("usage: peer.py --loop asyncio|uvloop echo_server PORT [1]", file=sys.stderr)
        return 2
    if len(args) == 2 and args[1] != "1":
        print(f"peer.py: an {kind} loop is one thread: workers must be 1, not {args[1]}",
              file=sys.stderr)
        return 2
    port = int(args[0])
    loop = new_loop(kind)
    asyncio.set_event_loop(loop)

    async def serve():
        server = await asyncio.start_server(_echo_conn, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    try:
        loop.run_until_complete(serve())
    except OSError as e:
        print(f"peer.py: echo_server: {e}", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("--variant")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--run-base", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--json-stdout", action="store_true")
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-fork", action="store_true")
    ap.add_argument("names", nargs="*")
    o = ap.parse_args()
    if o.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("peer.py: uvloop is not installed (apt-get install python3-uvloop; "
                  "run with /usr/bin/python3)", file=sys.stderr)
            return 3
    if o.names[:1] == ["echo_server"]:
        return echo_server(o.loop, o.names[1:])
    if o.names == ["version"]:
        if o.loop == "uvloop":
            import uvloop
            print(f"uvloop {uvloop.__version__}, Python {platform.python_version()}")
        else:
            print(f"asyncio, Python {platform.python_version()}")
        return 0
    if o.names == ["list"]:
        for name, _unit, kinds, na in WORKLOADS:
            if na:
                print(f"{name:<14} {'-':<20} n/a: {na}")
            for k in kinds:
                print(f"{name:<14} {variant_name(k):<20} ready")
        return 0
    if not o.names:
        ap.print_usage(sys.stderr)
        return 2
    failed = 0
    table = {w[0]: w for w in WORKLOADS}
    for name in o.names:
        if name not in table:
            print(f"peer.py: unknown workload {name}", file=sys.stderr)
            return 2
        _n, unit, kinds, na = table[name]
        if na:
            print(f"{name:<12} {o.loop:<8} {'-':<18} n/a: {na}")
            continue
        matched = False
        for k in kinds:
            vn = variant_name(k)
            if o.variant and o.variant != vn:
                continue
            matched = True
            if o.no_fork:
                failed += bench_run(o, make_variant(o, name, unit, k))
                continue
            for r in range(o.runs):
                args = [sys.executable, os.path.abspath(__file__), "--loop", o.loop, name,
                        "--variant", vn, "--runs", "1", "--run-base", str(o.run_base + r),
                        "--min-time", str(o.min_time), "--no-fork"]
                if o.json:
                    args += ["--json", o.json]
                if o.json_stdout:
                    args.append("--json-stdout")
                if o.quick:
                    args.append("--quick")
                rc = subprocess.call(args)
                if rc:
                    failed += 1
                    if rc < 0:
                        print(f"{name:<12} {o.loop:<8} {vn:<18} run {o.run_base + r:<2} "
                              f"FAILED: killed by signal {-rc}")
        if not matched:
            print(f"peer.py: {name} has no variant {o.variant!r}", file=sys.stderr)
            return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
