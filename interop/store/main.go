// store writes, reads and lists records with one of Go Micro's own stores, so a test can check
// that ts-micro's store of the same kind shares them. One run does one thing and prints one JSON
// line on stdout:
//
//	INTEROP_STORE    postgres (go-micro.dev/v5/store/postgres, lib/pq, String() "cockroach")
//	                 or nats (go-micro.dev/v5/store/nats-js-kv)
//	INTEROP_ADDRESS  the store's node (a postgres URL, or a NATS URL)
//	INTEROP_DATABASE, INTEROP_TABLE  where the records go (store.Database / store.Table options)
//	INTEROP_ENCODE_KEYS  set: the nats store base32-encodes its keys (natsjskv.EncodeKeys())
//	INTEROP_MODE     write  INTEROP_RECORDS, a JSON array of Go Micro records
//	                        ({key, value: base64, metadata, expiry: ns})  → {"written":n} or {"error":…}
//	                 read   each key of INTEROP_KEYS (a JSON array)
//	                        → {"records":[…], "missing":[key…], "errors":{key: message}}
//	                 list   INTEROP_PREFIX (optional)                      → {"keys":[…]} or {"error":…}
package main

import (
	"encoding/json"
	"errors"

	"go-micro.dev/v5/store"
	natskv "go-micro.dev/v5/store/nats-js-kv"
	"go-micro.dev/v5/store/postgres"

	"ts-micro.dev/interop/internal/shared"
)

func main() {
	s, err := open()
	if err != nil {
		fail(err)
		return
	}
	defer s.Close()
	switch mode := shared.Env("INTEROP_MODE", "read"); mode {
	case "write":
		write(s)
	case "read":
		read(s)
	case "list":
		list(s)
	default:
		fail(errors.New("unknown INTEROP_MODE " + mode))
	}
}

func open() (store.Store, error) {
	opts := []store.Option{
		store.Nodes(shared.Env("INTEROP_ADDRESS", "")),
		store.Database(shared.Env("INTEROP_DATABASE", "micro")),
		store.Table(shared.Env("INTEROP_TABLE", "micro")),
	}
	switch kind := shared.Env("INTEROP_STORE", "postgres"); kind {
	case "postgres":
		// NewStore connects and creates the default database/table; Init reports a failure.
		s := postgres.NewStore(opts...)
		return s, s.Init()
	case "nats":
		if shared.Env("INTEROP_ENCODE_KEYS", "") != "" {
			opts = append(opts, natskv.EncodeKeys())
		}
		s := natskv.NewStore(opts...)
		return s, s.Init()
	default:
		return nil, errors.New("unknown INTEROP_STORE " + kind)
	}
}

func write(s store.Store) {
	var records []*store.Record
	if err := json.Unmarshal([]byte(shared.Env("INTEROP_RECORDS", "[]")), &records); err != nil {
		fail(err)
		return
	}
	for _, r := range records {
		if err := s.Write(r); err != nil {
			fail(err)
			return
		}
	}
	shared.Emit(map[string]int{"written": len(records)})
}

func read(s store.Store) {
	var keys []string
	if err := json.Unmarshal([]byte(shared.Env("INTEROP_KEYS", "[]")), &keys); err != nil {
		fail(err)
		return
	}
	found := []*store.Record{}
	missing := []string{}
	failed := map[string]string{}
	for _, key := range keys {
		records, err := s.Read(key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			missing = append(missing, key)
		case err != nil:
			failed[key] = err.Error()
		default:
			found = append(found, records...)
		}
	}
	shared.Emit(map[string]interface{}{"records": found, "missing": missing, "errors": failed})
}

func list(s store.Store) {
	var opts []store.ListOption
	if prefix := shared.Env("INTEROP_PREFIX", ""); prefix != "" {
		opts = append(opts, store.ListPrefix(prefix))
	}
	keys, err := s.List(opts...)
	if err != nil {
		fail(err)
		return
	}
	if keys == nil {
		keys = []string{}
	}
	shared.Emit(map[string][]string{"keys": keys})
}

func fail(err error) {
	shared.Emit(map[string]string{"error": err.Error()})
}
