// debug calls Debug.Health, Debug.Stats and Debug.Log (the last 3 records) on INTEROP_SERVICE (at
// INTEROP_ADDRESS, if set) with Go Micro's generated Debug client, as a Go Micro operator's tool
// would, and prints one JSON line:
//
//	{"health":"ok","stats":{"timestamp":…,"started":…,…},"log":[{"timestamp":…,"message":…,"metadata":{…}}]}
//
// or {"healthError":{…}} / {"statsError":{…}} / {"logError":{…}}
package main

import (
	"context"
	"io"

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
	if stream, err := debug.Log(ctx, &pb.LogRequest{Service: target, Count: 3}, opts...); err != nil {
		out["logError"] = errors.Parse(err.Error())
	} else {
		records := []map[string]interface{}{}
		for {
			record, err := stream.Recv()
			if err != nil {
				if err != io.EOF {
					out["logError"] = errors.Parse(err.Error())
				}
				break
			}
			records = append(records, map[string]interface{}{"timestamp": record.Timestamp, "message": record.Message, "metadata": record.Metadata})
		}
		stream.Close()
		out["log"] = records
	}
	shared.Emit(out)
}
