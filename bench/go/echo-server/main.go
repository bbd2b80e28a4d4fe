// echo-server is the Go Micro v5 side of `npm run bench:peers`: service bench-echo with one
// endpoint, Bench.Echo, on Go Micro's default HTTP transport and JSON codec, or with
// BENCH_RPC=grpc on Go Micro's gRPC server (server/grpc; JSON bodies, application/grpc+json). It
// prints "READY <address>" once it serves.
//
// Two settings differ from a bare micro.New: the server listens on 127.0.0.1 (so it advertises
// a loopback address, not the host's LAN address), and it registers in the memory registry
// instead of mDNS, because the load client is pinned to the address (client.WithAddress) and
// the benchmark sends no multicast off the loopback. Neither is on the per-call path.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"go-micro.dev/v5"
	grpcclient "go-micro.dev/v5/client/grpc"
	"go-micro.dev/v5/registry"
	"go-micro.dev/v5/server"
	grpcserver "go-micro.dev/v5/server/grpc"
)

// Payload is the benchmark message: {"id":42,"name":"hello","tags":["a","b"],"ok":true}.
type Payload struct {
	ID   int      `json:"id"`
	Name string   `json:"name"`
	Tags []string `json:"tags"`
	OK   bool     `json:"ok"`
}

type Bench struct{}

func (b *Bench) Echo(ctx context.Context, req *Payload, rsp *Payload) error {
	*rsp = *req
	return nil
}

func main() {
	address := "127.0.0.1:0"
	if port := os.Getenv("BENCH_PORT"); port != "" {
		address = "127.0.0.1:" + port
	}
	var opts []micro.Option
	if os.Getenv("BENCH_RPC") == "grpc" {
		// Replaced before the options below, which configure whichever server is in place; the
		// replacement is given the name itself (micro.New named the one it replaces). Its registry
		// must not be etcd (server/grpc swaps grpc-go's proto codec, which the etcd client needs);
		// the memory registry below sidesteps that.
		opts = append(opts, micro.Server(grpcserver.NewServer(server.Name("bench-echo"))), micro.Client(grpcclient.NewClient()))
	}
	var service micro.Service
	service = micro.New("bench-echo", append(opts,
		micro.Address(address),
		micro.Registry(registry.NewMemoryRegistry()),
		micro.AfterStart(func() error {
			fmt.Printf("READY %s\n", service.Server().Options().Address)
			return nil
		}),
	)...)
	if err := service.Handle(new(Bench)); err != nil {
		log.Fatal(err)
	}
	if err := service.Run(); err != nil {
		log.Fatal(err)
	}
}
