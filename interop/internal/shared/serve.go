package shared

import (
	"log"

	"go-micro.dev/v5"
)

// InitAnnounced is Init that prints {"started": address} once the server listens: the tests
// wait for that line to learn the address.
func InitAnnounced(name string, opts ...micro.Option) micro.Service {
	var service micro.Service
	service = Init(name, append(opts, micro.AfterStart(func() error {
		Emit(map[string]string{"started": service.Server().Options().Address})
		return nil
	}))...)
	return service
}

// Serve registers the handlers and runs the service until it is stopped; any failure is fatal.
func Serve(service micro.Service, handlers ...interface{}) {
	for _, handler := range handlers {
		if err := service.Server().Handle(service.Server().NewHandler(handler)); err != nil {
			log.Fatal(err)
		}
	}
	if err := service.Run(); err != nil {
		log.Fatal(err)
	}
}
