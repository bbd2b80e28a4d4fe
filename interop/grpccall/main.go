// grpccall calls a service by name (INTEROP_TARGET) through the registry with Go Micro v5's gRPC
// client (client/grpc), the way a Go Micro service calls another: unary, server stream, bidi
// stream and an error of each code in INTEROP_CODES. Prints one JSON line with what it got.
// With INTEROP_MODE=bench it is the benchmark's Go Micro gRPC client instead (see bench()).
package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"go-micro.dev/v5"
	"go-micro.dev/v5/client"
	grpcclient "go-micro.dev/v5/client/grpc"
	"go-micro.dev/v5/errors"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"ts-micro.dev/interop/internal/shared"
)

type result struct {
	Call   string          `json:"call"`
	Count  []int32         `json:"count"`
	Chat   []string        `json:"chat"`
	Errors []*errors.Error `json:"errors"`
	Failed string          `json:"failed,omitempty"`
}

func main() {
	service := shared.Init("grpccall", microClient())
	c := service.Client()
	target := shared.Env("INTEROP_TARGET", "echo")
	if shared.Env("INTEROP_MODE", "") == "bench" {
		bench(c, target)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := result{}
	if err := run(ctx, c, target, &out); err != nil {
		out.Failed = err.Error()
	}
	shared.Emit(out)
}

func run(ctx context.Context, c client.Client, target string, out *result) error {
	rsp := &wrapperspb.StringValue{}
	if err := c.Call(ctx, c.NewRequest(target, "Echo.Call", wrapperspb.String("Go")), rsp, client.WithRequestTimeout(5*time.Second)); err != nil {
		return err
	}
	out.Call = rsp.Value

	count, err := c.Stream(ctx, c.NewRequest(target, "Echo.Count", &wrapperspb.Int32Value{}))
	if err != nil {
		return err
	}
	if err := count.Send(wrapperspb.Int32(3)); err != nil {
		return err
	}
	for {
		var n wrapperspb.Int32Value
		if err := count.Recv(&n); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		out.Count = append(out.Count, n.Value)
	}
	count.Close()

	chat, err := c.Stream(ctx, c.NewRequest(target, "Echo.Chat", &wrapperspb.StringValue{}))
	if err != nil {
		return err
	}
	for _, name := range []string{"a", "b"} {
		if err := chat.Send(wrapperspb.String(name)); err != nil {
			return err
		}
		var reply wrapperspb.StringValue
		if err := chat.Recv(&reply); err != nil {
			return err
		}
		out.Chat = append(out.Chat, reply.Value)
	}
	chat.CloseSend()
	chat.Close()

	for _, code := range strings.Split(shared.Env("INTEROP_CODES", "400,404"), ",") {
		n, _ := strconv.Atoi(code)
		err := c.Call(ctx, c.NewRequest(target, "Echo.Fail", wrapperspb.Int32(int32(n))), &wrapperspb.StringValue{})
		out.Errors = append(out.Errors, errors.Parse(errString(err)))
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func microClient() micro.Option {
	return micro.Client(grpcclient.NewClient())
}

// bench calls Bench.Echo at INTEROP_ADDRESS in closed loops (shared.MeasureCalls) with
// application/json (Go structs).
func bench(c client.Client, target string) {
	opts := []client.CallOption{client.WithAddress(shared.Env("INTEROP_ADDRESS", ""))}
	payload := &shared.Payload{ID: 42, Name: "hello", Tags: []string{"a", "b"}, OK: true}
	ctx := context.Background()
	shared.MeasureCalls(func() error {
		var rsp shared.Payload
		return c.Call(ctx, c.NewRequest(target, "Bench.Echo", payload, client.WithContentType("application/json")), &rsp, opts...)
	})
}
