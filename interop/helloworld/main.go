// helloworld is a plain Go Micro v5 server: Helloworld.Call (unary, with errors on request),
// Helloworld.Stream (server stream) and Helloworld.Echo (the benchmark endpoint).
package main

import (
	"context"
	"time"

	"go-micro.dev/v5/errors"
	"go-micro.dev/v5/metadata"
	"go-micro.dev/v5/server"

	"ts-micro.dev/interop/internal/shared"
)

type Helloworld struct{}

func (h *Helloworld) Call(ctx context.Context, req *shared.Request, rsp *shared.Response) error {
	switch req.Name {
	case "":
		return errors.BadRequest("helloworld", "name is required")
	case "missing":
		return errors.NotFound("helloworld", "no user called missing")
	}
	rsp.Msg = "Hello " + req.Name
	if greeting, ok := metadata.Get(ctx, "Greeting"); ok {
		rsp.Msg = greeting + " " + req.Name
	}
	return nil
}

// Stream reads the real request as the stream's second message (Go Micro discards the first)
// and answers with Count messages.
func (h *Helloworld) Stream(ctx context.Context, stream server.Stream) error {
	var req shared.StreamRequest
	if err := stream.Recv(&req); err != nil {
		return err
	}
	if req.Count < 0 {
		return errors.BadRequest("helloworld", "count must not be negative")
	}
	for i := 0; i < req.Count; i++ {
		if err := stream.Send(&shared.StreamResponse{Count: i}); err != nil {
			return err
		}
		// Go Micro v5.30.0's server queues a stream message that still points into its codec's
		// write buffer, so a handler that sends faster than the socket drains has its earlier
		// messages overwritten by later ones (Go clients see it too). Pacing keeps them intact;
		// 2 ms was not enough on a loaded CI machine, 25 ms leaves a wide margin.
		time.Sleep(25 * time.Millisecond)
	}
	return nil
}

func (h *Helloworld) Echo(ctx context.Context, req *shared.Payload, rsp *shared.Payload) error {
	*rsp = *req
	return nil
}

func main() {
	shared.Serve(shared.InitAnnounced(shared.Env("INTEROP_NAME", "helloworld")), new(Helloworld))
}
