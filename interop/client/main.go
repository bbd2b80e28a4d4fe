// client is a plain Go Micro v5 client. INTEROP_MODE picks what it does; every outcome is one
// JSON line on stdout:
//
//	call    Helloworld.Call {name: INTEROP_NAME_ARG}            → {"msg":…} or {"error":{…}}
//	stream  Helloworld.Stream {count: INTEROP_COUNT}            → {"stream":[…]} or {"error":…}
//	list    the registry's services, and INTEROP_SERVICE's record → {"services":[…],"service":[…]}
//	bench   Helloworld.Echo with INTEROP_CONCURRENCY callers for INTEROP_DURATION_MS
//	                                                             → {"calls":n,"errors":n,"seconds":s}
package main

import (
	"context"
	"io"

	"go-micro.dev/v5/client"
	"go-micro.dev/v5/errors"
	"go-micro.dev/v5/metadata"

	"ts-micro.dev/interop/internal/shared"
)

func main() {
	service := shared.Init("interop.client")
	c := service.Client()
	target := shared.Env("INTEROP_SERVICE", "helloworld")
	var opts []client.CallOption
	if addr := shared.Env("INTEROP_ADDRESS", ""); addr != "" {
		opts = append(opts, client.WithAddress(addr))
	}
	ctx := context.Background()
	if greeting := shared.Env("INTEROP_GREETING", ""); greeting != "" {
		ctx = metadata.NewContext(ctx, metadata.Metadata{"Greeting": greeting})
	}
	switch shared.Env("INTEROP_MODE", "call") {
	case "call":
		call(ctx, c, target, opts)
	case "stream":
		stream(ctx, c, target, opts)
	case "list":
		list(service.Options().Registry, target)
	case "bench":
		bench(ctx, c, target, opts)
	}
}

func emitError(err error) {
	shared.Emit(map[string]interface{}{"error": errors.Parse(err.Error())})
}

func call(ctx context.Context, c client.Client, target string, opts []client.CallOption) {
	req := c.NewRequest(target, shared.Env("INTEROP_ENDPOINT", "Helloworld.Call"), &shared.Request{Name: shared.Env("INTEROP_NAME_ARG", "")})
	var rsp shared.Response
	if err := c.Call(ctx, req, &rsp, opts...); err != nil {
		emitError(err)
		return
	}
	shared.Emit(rsp)
}

// stream calls as protoc-gen-micro's generated code does: an empty first message (which the
// server discards), then the real request, then read until EOS.
func stream(ctx context.Context, c client.Client, target string, opts []client.CallOption) {
	req := c.NewRequest(target, "Helloworld.Stream", &shared.StreamRequest{})
	s, err := c.Stream(ctx, req, opts...)
	if err != nil {
		emitError(err)
		return
	}
	defer s.Close()
	if err := s.Send(&shared.StreamRequest{Count: shared.EnvInt("INTEROP_COUNT", 3)}); err != nil {
		emitError(err)
		return
	}
	got := []shared.StreamResponse{}
	for {
		var rsp shared.StreamResponse
		err := s.Recv(&rsp)
		if err == io.EOF {
			break
		}
		if err != nil {
			shared.Emit(map[string]interface{}{"stream": got, "error": errors.Parse(err.Error())})
			return
		}
		got = append(got, rsp)
	}
	shared.Emit(map[string]interface{}{"stream": got})
}

func bench(ctx context.Context, c client.Client, target string, opts []client.CallOption) {
	payload := &shared.Payload{ID: 42, Name: "hello", Tags: []string{"a", "b"}, OK: true}
	shared.MeasureCalls(func() error {
		var rsp shared.Payload
		return c.Call(ctx, c.NewRequest(target, "Helloworld.Echo", payload), &rsp, opts...)
	})
}
