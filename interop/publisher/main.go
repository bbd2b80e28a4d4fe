// publisher publishes INTEROP_COUNT events {id, text} on INTEROP_TOPIC with Go Micro's client
// (through the configured broker, HTTP by default), then prints {"published":n}.
package main

import (
	"context"
	"fmt"
	"time"

	"go-micro.dev/v5"

	"ts-micro.dev/interop/internal/shared"
)

func main() {
	service := shared.Init("interop.publisher")
	event := micro.NewEvent(shared.Env("INTEROP_TOPIC", "interop.events"), service.Client())
	n := shared.EnvInt("INTEROP_COUNT", 1)
	for i := 0; i < n; i++ {
		if err := event.Publish(context.Background(), &shared.Event{ID: i, Text: fmt.Sprintf("from go %d", i)}); err != nil {
			shared.Emit(map[string]interface{}{"error": err.Error()})
			return
		}
	}
	// Go Micro's HTTP broker delivers in background goroutines, a burst from its backlog 100 ms
	// apart: give them time before exiting.
	time.Sleep(time.Duration(shared.EnvInt("INTEROP_LINGER_MS", 2000)) * time.Millisecond)
	shared.Emit(map[string]int{"published": n})
}
