// SPDX-License-Identifier: MIT
//
// The Go echo server of the network workloads (tcp_echo, connect_rate,
// idle_connections; tools/bench.sh drives it with bench/loadgen):
//
//	go-peer echo_server PORT [WORKERS]
//
// The server a Go programmer writes: net.Listen on 127.0.0.1:PORT, a
// goroutine per connection, Read into an explicit 4 KiB buffer and Write
// it back (not io.Copy, whose 32 KiB buffer would make the memory figures
// incomparable with the other servers'). WORKERS sets GOMAXPROCS (default:
// the CPUs). It runs until it is killed (SIGTERM's default action).
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"
)

func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// listenLocal parses a server's PORT [WORKERS] arguments (WORKERS sets
// GOMAXPROCS) and listens on 127.0.0.1:PORT; on failure it has said why
// and returns the exit code.
func listenLocal(name string, args []string) (net.Listener, int) {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintf(os.Stderr, "usage: go-peer %s PORT [WORKERS]\n", name)
		return nil, 2
	}
	port, err := strconv.Atoi(args[0])
	if err != nil || port <= 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "go-peer: bad port %q\n", args[0])
		return nil, 2
	}
	if len(args) == 2 {
		w, err := strconv.Atoi(args[1])
		if err != nil || w < 1 {
			fmt.Fprintf(os.Stderr, "go-peer: bad worker count %q\n", args[1])
			return nil, 2
		}
		runtime.GOMAXPROCS(w)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-peer: %s: %v\n", name, err)
		return nil, 1
	}
	return ln, 0
}

func echoServer(args []string) int {
	ln, rc := listenLocal("echo_server", args)
	if ln == nil {
		return rc
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			// EMFILE and the like: back off as net/http does.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			fmt.Fprintf(os.Stderr, "go-peer: echo_server: accept: %v\n", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go echoConn(c)
	}
}
