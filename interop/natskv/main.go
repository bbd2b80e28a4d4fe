// natskv writes or reads records with Go Micro's NATS JetStream KV store (store/nats-js-kv, with
// EncodeKeys) in bucket INTEROP_DATABASE, table INTEROP_TABLE, on INTEROP_NATS.
//
// INTEROP_MODE=write writes the record INTEROP_KEY with the value INTEROP_VALUE (base64) and the
// metadata INTEROP_METADATA (JSON), then prints {"written":key}. INTEROP_MODE=read reads every
// record of the table (a prefix read of "") and prints {"records":[{key, value (base64), metadata}]}.
package main

import (
	"encoding/base64"
	"encoding/json"

	"go-micro.dev/v5/store"
	natsjskv "go-micro.dev/v5/store/nats-js-kv"

	"ts-micro.dev/interop/internal/shared"
)

func main() {
	s := natsjskv.NewStore(
		store.Nodes(shared.Env("INTEROP_NATS", "nats://127.0.0.1:4222")),
		natsjskv.EncodeKeys(),
		store.Database(shared.Env("INTEROP_DATABASE", "default")),
		store.Table(shared.Env("INTEROP_TABLE", "")),
	)
	if err := s.Init(); err != nil {
		shared.Emit(map[string]string{"error": err.Error()})
		return
	}
	defer s.Close()
	switch shared.Env("INTEROP_MODE", "read") {
	case "write":
		write(s)
	default:
		read(s)
	}
}

func write(s store.Store) {
	key := shared.Env("INTEROP_KEY", "")
	value, err := base64.StdEncoding.DecodeString(shared.Env("INTEROP_VALUE", ""))
	if err != nil {
		shared.Emit(map[string]string{"error": err.Error()})
		return
	}
	metadata := map[string]interface{}{}
	if err := json.Unmarshal([]byte(shared.Env("INTEROP_METADATA", "{}")), &metadata); err != nil {
		shared.Emit(map[string]string{"error": err.Error()})
		return
	}
	if err := s.Write(&store.Record{Key: key, Value: value, Metadata: metadata}); err != nil {
		shared.Emit(map[string]string{"error": err.Error()})
		return
	}
	shared.Emit(map[string]string{"written": key})
}

func read(s store.Store) {
	records, err := s.Read("", store.ReadPrefix())
	if err != nil {
		shared.Emit(map[string]string{"error": err.Error()})
		return
	}
	out := []map[string]interface{}{}
	for _, r := range records {
		out = append(out, map[string]interface{}{"key": r.Key, "value": base64.StdEncoding.EncodeToString(r.Value), "metadata": r.Metadata})
	}
	shared.Emit(map[string]interface{}{"records": out})
}
