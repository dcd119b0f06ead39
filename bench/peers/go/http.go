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
)

var helloBody = []byte("Hello, World!")

func helloHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(helloBody)
}

func httpHello(args []string) int {
	ln, rc := listenLocal("http_hello", args)
	if ln == nil {
		return rc
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: http.HandlerFunc(helloHandler)}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "go-peer: http_hello: %v\n", err)
		return 1
	}
	return 0
}
