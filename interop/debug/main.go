// debug calls Debug.Health and Debug.Stats on INTEROP_SERVICE (at INTEROP_ADDRESS, if set) with
// Go Micro's generated Debug client, as a Go Micro operator's tool would, and prints one JSON line:
//
//	{"health":"ok","stats":{"timestamp":…,"started":…,…}} or {"healthError":{…}} / {"statsError":{…}}
package main

import (
	"context"

	"go-micro.dev/v5/client"
	pb "go-micro.dev/v5/debug/proto"
	"go-micro.dev/v5/errors"

	"ts-micro.dev/interop/internal/shared"
)

func main() {
	service := shared.Init("interop.debug")
	target := shared.Env("INTEROP_SERVICE", "tshello")
	var opts []client.CallOption
	if addr := shared.Env("INTEROP_ADDRESS", ""); addr != "" {
		opts = append(opts, client.WithAddress(addr))
	}
	debug := pb.NewDebugService(target, service.Client())
	ctx := context.Background()
	out := map[string]interface{}{}
	if health, err := debug.Health(ctx, &pb.HealthRequest{Service: target}, opts...); err != nil {
		out["healthError"] = errors.Parse(err.Error())
	} else {
		out["health"] = health.Status
	}
	if stats, err := debug.Stats(ctx, &pb.StatsRequest{Service: target}, opts...); err != nil {
		out["statsError"] = errors.Parse(err.Error())
	} else {
		// Every field, zeros included (the generated struct's tags would omit them).
		out["stats"] = map[string]uint64{
			"timestamp": stats.Timestamp, "started": stats.Started, "uptime": stats.Uptime, "memory": stats.Memory,
			"threads": stats.Threads, "gc": stats.Gc, "requests": stats.Requests, "errors": stats.Errors,
		}
	}
	shared.Emit(out)
}
