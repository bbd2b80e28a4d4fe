// subscriber is a Go Micro v5 service that subscribes to INTEROP_TOPIC (in queue INTEROP_QUEUE
// when set, else broadcast) and prints each event as {"event":{…},"topic":…}.
package main

import (
	"context"
	"log"

	"go-micro.dev/v5"
	"go-micro.dev/v5/metadata"
	"go-micro.dev/v5/server"

	"ts-micro.dev/interop/internal/shared"
)

func main() {
	service := shared.InitAnnounced(shared.Env("INTEROP_NAME", "interop.subscriber"))
	topic := shared.Env("INTEROP_TOPIC", "interop.events")
	var opts []server.SubscriberOption
	if queue := shared.Env("INTEROP_QUEUE", ""); queue != "" {
		opts = append(opts, server.SubscriberQueue(queue))
	}
	handler := func(ctx context.Context, e *shared.Event) error {
		md, _ := metadata.FromContext(ctx)
		shared.Emit(map[string]interface{}{"event": e, "topic": md["Micro-Topic"]})
		return nil
	}
	if err := micro.RegisterSubscriber(topic, service.Server(), handler, opts...); err != nil {
		log.Fatal(err)
	}
	shared.Serve(service)
}
