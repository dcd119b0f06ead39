// SPDX-License-Identifier: MIT
//
// The Go peer of weft's throughput suite (BENCH.md): the same workloads,
// written as a Go programmer would (goroutines, channels, sync.WaitGroup),
// measured the same way as bench/harness.c (a monotonic clock around the
// workload only, repeated until at least --min-time seconds of work, peak
// RSS from getrusage, a self-check per workload) and written as the same
// JSON lines (runtime "go").
//
//	go-peer list
//	go-peer WORKLOAD --variant V [--runs N] [--run-base N] [--json FILE]
//	        [--json-stdout] [--min-time S] [--quick] [--no-fork]
//	go-peer echo_server PORT [WORKERS]   (the network workloads' server, echo.go)
//	go-peer http_hello PORT [WORKERS]    (the http_hello workload's server, http.go)
//	go-peer version
//
// As weft_bench forks, each run is a child process of its own (the program
// re-executes itself with --no-fork) so its peak RSS, heap and GC state
// are its own.
//
// Variants: "workers=N" is GOMAXPROCS=N (set before the workload starts);
// ping_pong has the kinds "future" (a fresh one-shot channel per message,
// as weft's futures) and "queue" (a channel of capacity 1).
// threadsafe and to_thread have no Go counterpart (no foreign threads, no
// thread pool to hand work to): they are listed n/a.
// spawn_wait is os/exec's Cmd.Run from 16 goroutines.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ---- the harness ----------------------------------------------------------

type opts struct {
	inProcess     bool // --no-fork: measure in this process
	runs, runBase int
	json          string
	jsonStdout    bool
	minSeconds    float64
	quick         bool
}

// One iteration's outcome: operations, measured seconds, or an error.
type iter struct {
	ops     float64
	seconds float64
	err     error
}

type metric struct {
	key   string
	value float64
}

type variant struct {
	workload, variant, unit string
	lowerIsBetter           bool
	workers                 int
	perIter                 float64
	iter                    func() iter
	// report, if set, runs after the last iteration: the figure that
	// replaces ops/seconds (hasFigure) and extra metrics.
	report func() (figure float64, hasFigure bool, m []metric)
}

type outcome struct {
	ops, seconds float64
	iterations   int
	ok           bool
	why          string
	figure       float64
	hasFigure    bool
	metrics      []metric
	rssKB        int64
}

func peakRSSKB() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Maxrss // KiB on Linux
}

// Resident set now (KiB), from /proc/self/statm.
func currentRSSKB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize()) / 1024
}

func measure(o *opts, v *variant) outcome {
	out := outcome{ok: true}
	for {
		it := v.iter()
		if it.err != nil {
			out.ok = false
			out.why = fmt.Sprintf("iteration %d: %v", out.iterations+1, it.err)
			break
		}
		out.ops += it.ops
		out.seconds += it.seconds
		out.iterations++
		if out.seconds >= o.minSeconds {
			break
		}
	}
	if out.ok && v.report != nil {
		out.figure, out.hasFigure, out.metrics = v.report()
	}
	out.rssKB = peakRSSKB()
	return out
}

func (r *outcome) rate() float64 {
	if r.hasFigure {
		return r.figure
	}
	if r.seconds > 0 {
		return r.ops / r.seconds
	}
	return 0
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	keys := []string{"model name", "Model", "Hardware", "cpu model"}
	best, model := len(keys), "unknown"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		for k := 0; k < best; k++ {
			if strings.HasPrefix(line, keys[k]) {
				model, best = strings.TrimSpace(line[i+1:]), k
				break
			}
		}
	}
	return model
}

func machine() map[string]interface{} {
	var u syscall.Utsname
	release, arch := "unknown", "unknown"
	str := func(a [65]int8) string {
		b := make([]byte, 0, 65)
		for _, c := range a {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		return string(b)
	}
	if syscall.Uname(&u) == nil {
		release, arch = str(u.Release), str(u.Machine)
	}
	// NumCPU is the affinity mask's count (sched_getaffinity).
	cores := runtime.NumCPU()
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		cores = countCPUList(strings.TrimSpace(string(b)))
	}
	return map[string]interface{}{"cores": cores, "cpus_allowed": runtime.NumCPU(),
		"kernel": release, "arch": arch, "cpu": cpuModel()}
}

// "0-1,4" -> 3
func countCPUList(s string) int {
	n := 0
	for _, part := range strings.Split(s, ",") {
		if a, b, ok := strings.Cut(part, "-"); ok {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			n += y - x + 1
		} else if part != "" {
			n++
		}
	}
	return n
}

// jsonLine writes the keys in the order harness.c does (encoding/json
// would sort a map's keys; the order only helps people reading the file).
func jsonLine(o *opts, v *variant, r *outcome, run int) string {
	var b strings.Builder
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	num := func(x float64) string {
		return strconv.FormatFloat(x, 'g', 10, 64)
	}
	fmt.Fprintf(&b, `{"workload":%s,"runtime":"go","variant":%s,"n":%.0f,"seconds":%.6f,`,
		q(v.workload), q(v.variant), r.ops, r.seconds)
	if r.ok {
		fmt.Fprintf(&b, `"rate":%s`, num(r.rate()))
	} else {
		b.WriteString(`"rate":null`)
	}
	fmt.Fprintf(&b, `,"unit":%s`, q(v.unit))
	if r.rssKB > 0 {
		fmt.Fprintf(&b, `,"rss_kb":%d`, r.rssKB)
	} else {
		b.WriteString(`,"rss_kb":null`)
	}
	better := "higher"
	if v.lowerIsBetter {
		better = "lower"
	}
	fmt.Fprintf(&b, `,"better":"%s"`, better)
	if r.ok {
		for _, m := range r.metrics {
			fmt.Fprintf(&b, `,%s:%s`, q(m.key), num(m.value))
		}
	}
	mj, _ := json.Marshal(machine())
	fmt.Fprintf(&b, `,"run":%d,"ok":%t,"machine":%s`, run, r.ok, mj)
	fmt.Fprintf(&b, `,"workers":%d,"iterations":%d,"per_iter":%.0f,"min_seconds":%g`,
		v.workers, r.iterations, v.perIter, o.minSeconds)
	fmt.Fprintf(&b, `,"quick":%t,"forked":true,"build":%s,"time":%s,"error":`,
		o.quick, q(runtime.Version()), q(time.Now().UTC().Format("2006-01-02T15:04:05Z")))
	if r.ok {
		b.WriteString("null")
	} else {
		b.WriteString(q(r.why))
	}
	b.WriteString("}\n")
	return b.String()
}

func si(v float64) string {
	prefix := []string{"", " k", " M", " G"}
	p := 0
	for v >= 1000 && p < 3 {
		v /= 1000
		p++
	}
	prec := 0
	switch {
	case v < 1 && p == 0:
		prec = 3
	case v < 10:
		prec = 2
	case v < 100:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + prefix[p]
}

// benchRun measures o.runs runs of one variant in this process.
func benchRun(o *opts, v *variant) int {
	failed := 0
	for i := 0; i < o.runs; i++ {
		run := o.runBase + i
		r := measure(o, v)
		fmt.Printf("%-12s %-8s %-18s run %-2d ", v.workload, "go", v.variant, run)
		if !r.ok {
			fmt.Printf("FAILED: %s\n", r.why)
			failed++
		} else {
			fmt.Printf("%8s %-14s (%.0f in %.3f s, %d iter, rss %.1f MiB", si(r.rate()), v.unit,
				r.ops, r.seconds, r.iterations, float64(r.rssKB)/1024)
			for _, m := range r.metrics {
				fmt.Printf(", %s %.4g", m.key, m.value)
			}
			fmt.Println(")")
		}
		line := jsonLine(o, v, &r, run)
		if o.jsonStdout {
			fmt.Print(line)
		}
		if o.json != "" {
			f, err := os.OpenFile(o.json, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err == nil {
				_, err = f.WriteString(line)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "go-peer: cannot append to %s: %v\n", o.json, err)
			}
		}
	}
	return failed
}

// ---- spawn_many --------------------------------------------------------------
// One goroutine starts n goroutines, then waits for them all. Check: task i
// stores 2i+1; the sum of n such results is n^2.

func spawnMany(n int) func() iter {
	res := make([]uint64, n)
	return func() iter {
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func(i int) {
				res[i] = uint64(2*i + 1)
				wg.Done()
			}(i)
		}
		wg.Wait()
		s := time.Since(t0).Seconds()
		var sum uint64
		for i := range res {
			sum += res[i]
			res[i] = 0
		}
		if sum != uint64(n)*uint64(n) {
			return iter{err: fmt.Errorf("sum of results %d, expected %d", sum, uint64(n)*uint64(n))}
		}
		return iter{ops: float64(n), seconds: s}
	}
}

// ---- yield_many ----------------------------------------------------------------
// 1,000 goroutines each yield 1,000 times (runtime.Gosched, Go's sleep(0)).

func yieldMany(tasks, yields int) func() iter {
	return func() iter {
		var wg sync.WaitGroup
		var total int64
		t0 := time.Now()
		wg.Add(tasks)
		for i := 0; i < tasks; i++ {
			go func() {
				n := 0
				for j := 0; j < yields; j++ {
					runtime.Gosched()
					n++
				}
				atomic.AddInt64(&total, int64(n))
				wg.Done()
			}()
		}
		wg.Wait()
		s := time.Since(t0).Seconds()
		if total != int64(tasks)*int64(yields) {
			return iter{err: fmt.Errorf("%d yields counted, expected %d", total, tasks*yields)}
		}
		return iter{ops: float64(tasks) * float64(yields), seconds: s}
	}
}

// ---- ping_pong -------------------------------------------------------------------
// 1,000 pairs of goroutines, 1,000 round trips each.
// future: as weft's one-shot futures, each message is a fresh channel of
// capacity 1 made by the side that will wait on it, sent to the peer
// through the peer's previous one. queue: one channel of capacity 1 each
// way. Check: both sides count their completed exchanges.

type oneshot chan oneshot

func pingPong(pairs, rounds int, queue bool) func() iter {
	return func() iter {
		var wg sync.WaitGroup
		var total int64
		t0 := time.Now()
		wg.Add(2 * pairs)
		for p := 0; p < pairs; p++ {
			if queue {
				ab, ba := make(chan int, 1), make(chan int, 1)
				go func() { // A
					n := 0
					for i := 0; i < rounds; i++ {
						ab <- i
						if <-ba == i {
							n++
						}
					}
					atomic.AddInt64(&total, int64(n))
					wg.Done()
				}()
				go func() { // B
					n := 0
					for i := 0; i < rounds; i++ {
						ba <- <-ab
						n++
					}
					atomic.AddInt64(&total, int64(n))
					wg.Done()
				}()
				continue
			}
			first := make(oneshot, 1)
			go func() { // A
				theirs, n := first, 0
				for i := 0; i < rounds; i++ {
					mine := make(oneshot, 1)
					theirs <- mine
					theirs = <-mine
					n++
				}
				atomic.AddInt64(&total, int64(n))
				wg.Done()
			}()
			go func() { // B
				mine, n := first, 0
				for i := 0; i < rounds; i++ {
					theirs := <-mine
					mine = make(oneshot, 1)
					theirs <- mine
					n++
				}
				atomic.AddInt64(&total, int64(n))
				wg.Done()
			}()
		}
		wg.Wait()
		s := time.Since(t0).Seconds()
		if total != 2*int64(pairs)*int64(rounds) {
			return iter{err: fmt.Errorf("%d exchanges counted, expected %d", total, 2*pairs*rounds)}
		}
		return iter{ops: float64(pairs) * float64(rounds), seconds: s}
	}
}

// ---- chained_spawn -----------------------------------------------------------------
// A goroutine starts a child that starts a child ... depth 1,000; each link
// starts the next and returns; the last reports on a channel. 1,000 chains.

type chain struct {
	links, depth int
	done         chan int
}

func (c *chain) link() {
	c.links++ // the go statement orders this before the child's increment
	if c.links == c.depth {
		c.done <- c.links
		return
	}
	go c.link()
}

func chainedSpawn(chains, depth int) func() iter {
	return func() iter {
		t0 := time.Now()
		for j := 0; j < chains; j++ {
			c := &chain{depth: depth, done: make(chan int, 1)}
			go c.link()
			if got := <-c.done; got != depth {
				return iter{err: fmt.Errorf("chain %d: %d links, expected %d", j, got, depth)}
			}
		}
		return iter{ops: float64(chains) * float64(depth), seconds: time.Since(t0).Seconds()}
	}
}

// ---- fib_parallel --------------------------------------------------------------------
// fib(27): serial at n <= 15, else fib(n-1) in a new goroutine (its result
// on a channel), fib(n-2) inline. Figure: parallel / serial time.

const fibN, fibSerialMax, fib27, fibPairs = 27, 15, 196418, 10

var fibArg = fibN // a variable, so nothing is folded

//go:noinline
func fibSerial(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	return fibSerial(n-1) + fibSerial(n-2)
}

func fibPar(n int) uint64 {
	if n <= fibSerialMax {
		return fibSerial(n)
	}
	ch := make(chan uint64, 1)
	go func() { ch <- fibPar(n - 1) }()
	b := fibPar(n - 2)
	return <-ch + b
}

type fibTotals struct {
	serial, parallel float64
	fibs             int
}

func fibParallel(t *fibTotals) func() iter {
	return func() iter {
		par := 0.0
		for k := 0; k < fibPairs; k++ {
			t0 := time.Now()
			s := fibSerial(fibArg)
			t1 := time.Now()
			p := fibPar(fibArg)
			t2 := time.Now()
			if s != fib27 || p != fib27 {
				return iter{err: fmt.Errorf("fib(27): serial %d, parallel %d, expected %d", s, p, fib27)}
			}
			t.serial += t1.Sub(t0).Seconds()
			par += t2.Sub(t1).Seconds()
		}
		t.parallel += par
		t.fibs += fibPairs
		return iter{ops: fibPairs, seconds: par}
	}
}

// ---- timers ----------------------------------------------------------------------------
// 100,000 goroutines; goroutine i sleeps (i x 7919 mod 100) ms. Figure:
// wall seconds (ideal 0.1); lateness = wake - (before + delay), µs.

type timerTotals struct {
	late  []int64
	wall  float64
	iters int
}

func timers(n int, t *timerTotals) func() iter {
	slot := make([]int64, n)
	return func() iter {
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func(i int) {
				d := time.Duration((i*7919)%100) * time.Millisecond
				before := time.Now()
				time.Sleep(d)
				slot[i] = int64(time.Since(before) - d) // monotonic readings
				wg.Done()
			}(i)
		}
		wg.Wait()
		wall := time.Since(t0).Seconds()
		early := 0
		for i := range slot {
			if slot[i] < 0 {
				early++
			}
		}
		t.late = append(t.late, slot...)
		if early > 0 {
			return iter{err: fmt.Errorf("%d sleeps returned early", early)}
		}
		t.wall += wall
		t.iters++
		return iter{ops: float64(n), seconds: wall}
	}
}

func timersReport(t *timerTotals) func() (float64, bool, []metric) {
	return func() (float64, bool, []metric) {
		sort.Slice(t.late, func(a, b int) bool { return t.late[a] < t.late[b] })
		n := len(t.late)
		return t.wall / float64(t.iters), true, []metric{
			{"p50_us", float64(t.late[n/2]) / 1e3},
			{"p99_us", float64(t.late[n*99/100]) / 1e3},
			{"max_us", float64(t.late[n-1]) / 1e3},
			{"tasks_per_s", float64(n) / t.wall},
		}
	}
}

// ---- idle_memory ---------------------------------------------------------------------------
// 1,000,000 goroutines all blocked on one channel, then it is closed.
// Figure: bytes of RSS per blocked goroutine (statm when all wait, minus
// statm before the first spawn); spawn and release seconds.

type idleTotals struct {
	perTask, spawn, release float64
	iters                   int
	baseMaxRSS              int64
}

func idleMemory(n int, t *idleTotals) func() iter {
	t.baseMaxRSS = peakRSSKB()
	return func() iter {
		event := make(chan struct{})
		var waiting, woken int64
		var wg sync.WaitGroup
		rss0 := currentRSSKB()
		t0 := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				atomic.AddInt64(&waiting, 1)
				<-event
				atomic.AddInt64(&woken, 1)
				wg.Done()
			}()
		}
		for atomic.LoadInt64(&waiting) < int64(n) {
			runtime.Gosched()
		}
		runtime.Gosched()
		t1 := time.Now()
		rss1 := currentRSSKB()
		t2 := time.Now()
		close(event)
		wg.Wait()
		t3 := time.Now()
		if woken != int64(n) {
			return iter{err: fmt.Errorf("%d of %d goroutines woke", woken, n)}
		}
		per := float64(rss1-rss0) * 1024 / float64(n)
		if t.iters == 0 || per > t.perTask {
			t.perTask = per
		}
		t.spawn += t1.Sub(t0).Seconds()
		t.release += t3.Sub(t2).Seconds()
		t.iters++
		return iter{ops: float64(n), seconds: t1.Sub(t0).Seconds() + t3.Sub(t2).Seconds()}
	}
}

// ---- cold_start ----------------------------------------------------------------------------
// A fresh process's first burst of n goroutines alive at once (each blocked
// on one channel, released by closing it, waited with a WaitGroup) against
// its second. Figure: first / second burst time of the run's first
// iteration (each run is a process of its own). Go has no foreign threads
// and nothing to reserve: only the "tasks" kind.

type coldTotals struct {
	first [2]float64
	iters int
}

func coldBurst(n int) (float64, error) {
	event := make(chan struct{})
	var started, woken int64
	all := make(chan struct{})
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			if atomic.AddInt64(&started, 1) == int64(n) {
				close(all)
			}
			<-event
			atomic.AddInt64(&woken, 1)
			wg.Done()
		}()
	}
	<-all
	close(event)
	wg.Wait()
	s := time.Since(t0).Seconds()
	if woken != int64(n) {
		return s, fmt.Errorf("%d of %d goroutines woke", woken, n)
	}
	return s, nil
}

func coldStart(n int, t *coldTotals) func() iter {
	return func() iter {
		var b [2]float64
		for i := range b {
			s, err := coldBurst(n)
			if err != nil {
				return iter{err: err}
			}
			b[i] = s
		}
		if t.iters == 0 {
			t.first = b
		}
		t.iters++
		return iter{ops: float64(2 * n), seconds: b[0] + b[1]}
	}
}

// ---- spawn_wait ----------------------------------------------------------------------------
// /bin/true started and waited n times, 16 in flight: 16 goroutines each
// take the next number from a shared counter until all n are taken and
// run exec.Command("/bin/true").Run() for it (os/exec as a Go programmer
// writes it: nil Stdin/Stdout/Stderr, which os/exec connects to
// /dev/null). Check: exactly n children ran and every one exited 0 (Run
// returns an error otherwise).

const spawnWaitWindow = 16

func spawnWait(n int) func() iter {
	return func() iter {
		var next, ok, bad int64
		var firstMu sync.Mutex
		var first error
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(spawnWaitWindow)
		for g := 0; g < spawnWaitWindow; g++ {
			go func() {
				defer wg.Done()
				for atomic.AddInt64(&next, 1) <= int64(n) {
					if err := exec.Command("/bin/true").Run(); err != nil {
						if atomic.AddInt64(&bad, 1) == 1 {
							firstMu.Lock()
							first = err
							firstMu.Unlock()
						}
						continue
					}
					atomic.AddInt64(&ok, 1)
				}
			}()
		}
		wg.Wait()
		s := time.Since(t0).Seconds()
		if bad > 0 {
			firstMu.Lock()
			defer firstMu.Unlock()
			return iter{err: fmt.Errorf("%d of %d children failed (first: %v)", bad, n, first)}
		}
		if ok != int64(n) {
			return iter{err: fmt.Errorf("%d of %d children exited 0", ok, n)}
		}
		return iter{ops: float64(n), seconds: s}
	}
}

// ---- the workload table --------------------------------------------------------------------

type kind struct{ name, status string }

type workload struct {
	name, unit string
	kinds      []kind
	na         string // non-empty: no Go counterpart
}

var workloads = []workload{
	{"spawn_many", "tasks/s", []kind{{}}, ""},
	{"yield_many", "yields/s", []kind{{}}, ""},
	{"ping_pong", "round trips/s", []kind{{"future", ""}, {"queue", ""}}, ""},
	{"chained_spawn", "spawns/s", []kind{{}}, ""},
	{"fib_parallel", "parallel/serial", []kind{{}}, ""},
	{"timers", "s", []kind{{}}, ""},
	{"idle_memory", "B/task", []kind{{}}, ""},
	{"threadsafe", "calls/s", nil, "Go has no foreign threads"},
	{"cold_start", "first/second", []kind{{"tasks", ""}, {"threadsafe", "Go has no foreign threads"},
		{"reserve", "Go has no task memory to reserve"}}, ""},
	{"to_thread", "calls/s", nil, "Go has no to_thread"},
	{"spawn_wait", "spawns/s", []kind{{}}, ""},
	{"tcp_echo", "messages/s", nil, "a server (go-peer echo_server) that tools/bench.sh runs against bench/loadgen"},
}

func variantName(k kind, workers int) string {
	if k.name != "" {
		return fmt.Sprintf("%s,workers=%d", k.name, workers)
	}
	return fmt.Sprintf("workers=%d", workers)
}

func makeVariant(o *opts, w *workload, k kind, workers int) *variant {
	v := &variant{workload: w.name, variant: variantName(k, workers), unit: w.unit, workers: workers}
	q := o.quick
	pick := func(full, quick int) int {
		if q {
			return quick
		}
		return full
	}
	switch w.name {
	case "spawn_many":
		n := pick(1000000, 100000)
		v.perIter, v.iter = float64(n), spawnMany(n)
	case "yield_many":
		y := pick(1000, 100)
		v.perIter, v.iter = float64(1000*y), yieldMany(1000, y)
	case "ping_pong":
		r := pick(1000, 100)
		v.perIter, v.iter = float64(1000*r), pingPong(1000, r, k.name == "queue")
	case "chained_spawn":
		c := pick(1000, 100)
		v.perIter, v.iter = float64(c*1000), chainedSpawn(c, 1000)
	case "fib_parallel":
		t := &fibTotals{}
		v.perIter, v.iter, v.lowerIsBetter = fibPairs, fibParallel(t), true
		v.report = func() (float64, bool, []metric) {
			return t.parallel / t.serial, true, []metric{
				{"parallel_ms", t.parallel / float64(t.fibs) * 1e3},
				{"serial_ms", t.serial / float64(t.fibs) * 1e3}}
		}
	case "timers":
		n := pick(100000, 20000)
		t := &timerTotals{}
		v.perIter, v.iter, v.report, v.lowerIsBetter = float64(n), timers(n, t), timersReport(t), true
	case "idle_memory":
		n := pick(1000000, 100000)
		t := &idleTotals{}
		v.perIter, v.iter, v.lowerIsBetter = float64(n), idleMemory(n, t), true
		v.report = func() (float64, bool, []metric) {
			it := float64(t.iters)
			return t.perTask, true, []metric{
				{"spawn_s", t.spawn / it}, {"release_s", t.release / it},
				{"spawn_release_s", (t.spawn + t.release) / it},
				{"maxrss_bytes_per_task", float64(peakRSSKB()-t.baseMaxRSS) * 1024 / float64(n)}}
		}
	case "cold_start":
		t := &coldTotals{}
		v.perIter, v.iter, v.lowerIsBetter = 20000, coldStart(10000, t), true
		v.report = func() (float64, bool, []metric) {
			return t.first[0] / t.first[1], true, []metric{
				{"first_ms", t.first[0] * 1e3}, {"second_ms", t.first[1] * 1e3}}
		}
	case "spawn_wait":
		n := pick(1000, 200)
		v.perIter, v.iter = float64(n), spawnWait(n)
	default:
		return nil
	}
	return v
}

func runChild(o *opts, name, vn string, run int) int {
	args := []string{name, "--variant", vn, "--runs", "1", "--run-base", strconv.Itoa(run),
		"--min-time", strconv.FormatFloat(o.minSeconds, 'g', -1, 64), "--no-fork"}
	if o.json != "" {
		args = append(args, "--json", o.json)
	}
	if o.jsonStdout {
		args = append(args, "--json-stdout")
	}
	if o.quick {
		args = append(args, "--quick")
	}
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok || !cmd.ProcessState.Exited() {
			fmt.Printf("%-12s %-8s %-18s run %-2d FAILED: %v\n", name, "go", vn, run, err)
		}
		return 1
	}
	return 0
}

func workerCounts() []int {
	n := runtime.NumCPU()
	if n == 1 {
		return []int{1}
	}
	return []int{n, 1}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: go-peer list\n"+
		"       go-peer WORKLOAD [--variant V] [--runs N] [--run-base N] [--json FILE]\n"+
		"               [--json-stdout] [--min-time S] [--quick] [--no-fork]\n"+
		"(each run is a process of its own unless --no-fork)\n")
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "echo_server" {
		os.Exit(echoServer(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "http_hello" {
		os.Exit(httpHello(os.Args[2:]))
	}
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Println(runtime.Version())
		return
	}
	o := &opts{runs: 1, runBase: 1, minSeconds: 0.5}
	var names []string
	only := ""
	args := os.Args[1:]
	need := func(i int) string {
		if i+1 >= len(args) {
			fmt.Fprintf(os.Stderr, "go-peer: %s needs a value\n", args[i])
			os.Exit(2)
		}
		return args[i+1]
	}
	list := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		var err error
		switch a {
		case "list":
			list = true
		case "--runs":
			o.runs, err = strconv.Atoi(need(i))
			i++
		case "--run-base":
			o.runBase, err = strconv.Atoi(need(i))
			i++
		case "--json":
			o.json = need(i)
			i++
		case "--json-stdout":
			o.jsonStdout = true
		case "--min-time":
			o.minSeconds, err = strconv.ParseFloat(need(i), 64)
			i++
		case "--quick":
			o.quick = true
		case "--no-fork":
			o.inProcess = true
		case "--variant":
			only = need(i)
			i++
		case "-h", "--help":
			usage()
			return
		default:
			if strings.HasPrefix(a, "-") {
				fmt.Fprintf(os.Stderr, "go-peer: unknown option %s\n", a)
				usage()
				os.Exit(2)
			}
			names = append(names, a)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "go-peer: bad value for %s\n", a)
			os.Exit(2)
		}
	}
	if list {
		for _, w := range workloads {
			if w.na != "" {
				fmt.Printf("%-14s %-20s n/a: %s\n", w.name, "-", w.na)
				continue
			}
			for _, k := range w.kinds {
				for _, n := range workerCounts() {
					if k.status != "" {
						fmt.Printf("%-14s %-20s n/a: %s\n", w.name, variantName(k, n), k.status)
						continue
					}
					fmt.Printf("%-14s %-20s ready\n", w.name, variantName(k, n))
				}
			}
		}
		return
	}
	if len(names) == 0 {
		usage()
		os.Exit(2)
	}
	failed := 0
	for _, name := range names {
		var w *workload
		for i := range workloads {
			if workloads[i].name == name {
				w = &workloads[i]
			}
		}
		if w == nil {
			fmt.Fprintf(os.Stderr, "go-peer: unknown workload %s\n", name)
			os.Exit(2)
		}
		if w.na != "" {
			fmt.Printf("%-12s %-8s %-18s n/a: %s\n", w.name, "go", "-", w.na)
			continue
		}
		matched := false
		for _, k := range w.kinds {
			for _, n := range workerCounts() {
				vn := variantName(k, n)
				if only != "" && only != vn {
					continue
				}
				matched = true
				if k.status != "" {
					fmt.Printf("%-12s %-8s %-18s n/a: %s\n", w.name, "go", vn, k.status)
					continue
				}
				if o.inProcess {
					runtime.GOMAXPROCS(n)
					failed += benchRun(o, makeVariant(o, w, k, n))
					continue
				}
				// As weft_bench forks: each run in a process of its
				// own (its own peak RSS, heap and GC state).
				for r := 0; r < o.runs; r++ {
					failed += runChild(o, name, vn, o.runBase+r)
				}
			}
		}
		if !matched {
			fmt.Fprintf(os.Stderr, "go-peer: %s has no variant %q\n", name, only)
			os.Exit(2)
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}
