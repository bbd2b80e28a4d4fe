// relay is a plain Go Micro v5 service between two ts-micro services: Relay.Call calls
// INTEROP_ENDPOINT of INTEROP_SERVICE (at INTEROP_ADDRESS) with the context it was called with,
// as a Go Micro handler passes its context on, so the caller's metadata (trace headers among it)
// travels with the onward call. It prints {"started": address} once listening.
package main

import (
	"context"

	"go-micro.dev/v5/client"

	"ts-micro.dev/interop/internal/shared"
)

type Relay struct {
	client   client.Client
	target   string
	endpoint string
	address  string
}

// Call forwards the request body as it came (JSON) and answers with what the target answered.
func (r *Relay) Call(ctx context.Context, req *map[string]interface{}, rsp *map[string]interface{}) error {
	request := r.client.NewRequest(r.target, r.endpoint, req)
	return r.client.Call(ctx, request, rsp, client.WithAddress(r.address))
}

func main() {
	service := shared.InitAnnounced(shared.Env("INTEROP_NAME", "relay"))
	relay := &Relay{
		client:   service.Client(),
		target:   shared.Env("INTEROP_SERVICE", "traced-back"),
		endpoint: shared.Env("INTEROP_ENDPOINT", "Back.Work"),
		address:  shared.Env("INTEROP_ADDRESS", ""),
	}
	shared.Serve(service, relay)
}
