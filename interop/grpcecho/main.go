// grpcecho is a Go Micro v5 service on Go Micro's gRPC server (server/grpc) and gRPC client
// (client/grpc), serving the Echo handler of test/grpc/echo.proto. Its messages are protobuf
// well-known wrappers, which have the same wire form as echo.proto's one-field messages
// (Request{name=1} is a StringValue, CountRequest{to=1} an Int32Value, …), so no code is generated.
//
// Its registry must not be etcd: server/grpc replaces grpc-go's global `proto` codec with Go
// Micro's, which cannot marshal the etcd client's (gogo) messages, so registering in etcd fails
// with "grpc: error while marshaling: invalid message". The tests use NATS.
package main

import (
	"context"
	"io"

	"go-micro.dev/v5"
	grpcclient "go-micro.dev/v5/client/grpc"
	"go-micro.dev/v5/errors"
	"go-micro.dev/v5/server"
	grpcserver "go-micro.dev/v5/server/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"ts-micro.dev/interop/internal/shared"
)

type Echo struct{}

// Call answers Request{name} with Response{msg}.
func (e *Echo) Call(ctx context.Context, req *wrapperspb.StringValue, rsp *wrapperspb.StringValue) error {
	rsp.Value = "go says hello " + req.Value
	return nil
}

// Fail answers FailRequest{code} with a Go Micro error of that code.
func (e *Echo) Fail(ctx context.Context, req *wrapperspb.Int32Value, rsp *wrapperspb.StringValue) error {
	return errors.New("goecho", "failed on purpose", req.Value)
}

// Count streams CountResponse{n} for n = 1 … to.
func (e *Echo) Count(ctx context.Context, stream server.Stream) error {
	var req wrapperspb.Int32Value
	if err := stream.Recv(&req); err != nil {
		return err
	}
	for n := int32(1); n <= req.Value; n++ {
		if err := stream.Send(wrapperspb.Int32(n)); err != nil {
			return err
		}
	}
	return nil
}

// Chat answers every Request{name} with Response{msg}.
func (e *Echo) Chat(ctx context.Context, stream server.Stream) error {
	for {
		var req wrapperspb.StringValue
		if err := stream.Recv(&req); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(wrapperspb.String("go hi " + req.Value)); err != nil {
			return err
		}
	}
}

// Bench is the benchmark's bench.Bench service (bench/grpc.proto), on plain Go structs: it is
// called with application/grpc+json, which Go Micro's codecs encode with encoding/json.
type Bench struct{}

func (b *Bench) Echo(ctx context.Context, req *shared.Payload, rsp *shared.Payload) error {
	*rsp = *req
	return nil
}

func main() {
	name := shared.Env("INTEROP_NAME", "goecho")
	// The server is replaced whole, so it is given the name itself (micro.Name named the one it replaces).
	service := shared.InitAnnounced(name, micro.Server(grpcserver.NewServer(server.Name(name))), micro.Client(grpcclient.NewClient()))
	shared.Serve(service, new(Echo), new(Bench))
}
