// SPDX-License-Identifier: MIT
//
// The Go server of the http_hello workload (tools/bench.sh drives it with
// wrk, BENCH.md):
//
//	go-peer http_hello PORT [WORKERS]
//
// The server a Go programmer writes with the standard library only:
// net/http's Server on 127.0.0.1:PORT, HTTP/1.1 keep-alive (net/http's
// default), a handler that answers every request with "Hello, World!"
// (13 bytes, text/plain; net/http adds Content-Length and Date). WORKERS
// sets GOMAXPROCS (default: the CPUs). It prints "listening on PORT" once
// it listens and runs until it is killed (SIGTERM's default action).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
)

var helloBody = []byte("Hello, World!")

func helloHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(helloBody)
}

func httpHello(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: go-peer http_hello PORT [WORKERS]")
		return 2
	}
	port, err := strconv.Atoi(args[0])
	if err != nil || port <= 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "go-peer: bad port %q\n", args[0])
		return 2
	}
	if len(args) == 2 {
		w, err := strconv.Atoi(args[1])
		if err != nil || w < 1 {
			fmt.Fprintf(os.Stderr, "go-peer: bad worker count %q\n", args[1])
			return 2
		}
		runtime.GOMAXPROCS(w)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-peer: http_hello: %v\n", err)
		return 1
	}
	fmt.Printf("listening on %d\n", port)
	srv := &http.Server{Handler: http.HandlerFunc(helloHandler)}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "go-peer: http_hello: %v\n", err)
		return 1
	}
	return 0
}
