package main

import (
	"go-micro.dev/v5/registry"

	"ts-micro.dev/interop/internal/shared"
)

// list prints every service name in the registry and the full record of one service.
func list(r registry.Registry, target string) {
	services, err := r.ListServices()
	if err != nil {
		emitError(err)
		return
	}
	names := []string{}
	for _, s := range services {
		names = append(names, s.Name)
	}
	record, err := r.GetService(target)
	if err != nil {
		shared.Emit(map[string]interface{}{"services": names, "error": err.Error()})
		return
	}
	shared.Emit(map[string]interface{}{"services": names, "service": record})
}
