// load is the Go Micro v5 load generator for `npm run bench:peers`, the Go twin of
// bench/peers/load.ts: the default client (HTTP transport, JSON, connection pool), or with
// BENCH_RPC=grpc Go Micro's gRPC client (client/grpc, its default pool, JSON bodies), pinned to
// the server with client.WithAddress.
//
//	load run <address> <concurrency> <warmup s> <seconds>   prints one JSON result line
//	load probe <address>                                     calls until one succeeds, prints the wall time
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go-micro.dev/v5/client"
	grpcclient "go-micro.dev/v5/client/grpc"
)

type Payload struct {
	ID   int      `json:"id"`
	Name string   `json:"name"`
	Tags []string `json:"tags"`
	OK   bool     `json:"ok"`
}

var payload = Payload{ID: 42, Name: "hello", Tags: []string{"a", "b"}, OK: true}

// rpc is the client every call goes through: Go Micro's default one, or its gRPC client.
var rpc = newClient()

func newClient() client.Client {
	if os.Getenv("BENCH_RPC") == "grpc" {
		return grpcclient.NewClient()
	}
	return client.DefaultClient
}

func call(address string) error {
	req := rpc.NewRequest("bench-echo", "Bench.Echo", &payload, client.WithContentType("application/json"))
	var rsp Payload
	return rpc.Call(context.Background(), req, &rsp, client.WithAddress(address))
}

type result struct {
	Concurrency int     `json:"concurrency"`
	RPS         int     `json:"rps"`
	P50         int     `json:"p50_us"`
	P99         int     `json:"p99_us"`
	Calls       int     `json:"calls"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
}

// run keeps `concurrency` calls in flight (closed loop), discards the warm-up, then records
// every call's latency for `seconds`.
func run(address string, concurrency int, warmup, seconds float64) result {
	var measuring, stop atomic.Bool
	var errors atomic.Int64
	latencies := make([][]float64, concurrency)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for !stop.Load() {
				started := time.Now()
				if err := call(address); err != nil {
					errors.Add(1)
				}
				if measuring.Load() {
					latencies[w] = append(latencies[w], float64(time.Since(started).Microseconds()))
				}
			}
		}(w)
	}
	time.Sleep(time.Duration(warmup * float64(time.Second)))
	measuring.Store(true)
	started := time.Now()
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	measuring.Store(false)
	elapsed := time.Since(started).Seconds()
	stop.Store(true)
	wg.Wait()

	var all []float64
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Float64s(all)
	pct := func(p float64) int {
		if len(all) == 0 {
			return 0
		}
		i := int(float64(len(all)) * p)
		if i >= len(all) {
			i = len(all) - 1
		}
		return int(all[i])
	}
	return result{concurrency, int(float64(len(all)) / elapsed), pct(0.5), pct(0.99), len(all), errors.Load(), elapsed}
}

// probe calls every 2 ms until a call succeeds and prints the wall time of that success in µs,
// so the parent can measure process start → first served call.
func probe(address string) {
	fmt.Println("WAITING")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if call(address) == nil {
			out, _ := json.Marshal(map[string]int64{"served_at_us": time.Now().UnixMicro()})
			fmt.Println(string(out))
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "probe: no successful call within 30 s")
	os.Exit(1)
}

func main() {
	args := os.Args[1:]
	if len(args) == 2 && args[0] == "probe" {
		probe(args[1])
		return
	}
	if len(args) != 5 || args[0] != "run" {
		fmt.Fprintln(os.Stderr, "usage: load run <address> <concurrency> <warmup s> <seconds> | load probe <address>")
		os.Exit(2)
	}
	concurrency, _ := strconv.Atoi(args[2])
	warmup, _ := strconv.ParseFloat(args[3], 64)
	seconds, _ := strconv.ParseFloat(args[4], 64)
	out, _ := json.Marshal(run(args[1], concurrency, warmup, seconds))
	fmt.Println(string(out))
}
