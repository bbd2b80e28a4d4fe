// Package shared holds the message types and environment handling common to the interop
// programs. Every program is configured by environment variables (Go Micro's MICRO_* ones plus
// INTEROP_*) so that Go Micro's own flag parsing sees no unknown flags.
package shared

import (
	"encoding/json"
	"os"
	"strconv"

	"go-micro.dev/v5"
)

// Request and Response are Helloworld.Call's messages.
type Request struct {
	Name string `json:"name"`
}

type Response struct {
	Msg string `json:"msg"`
}

// StreamRequest asks Helloworld.Stream for Count messages.
type StreamRequest struct {
	Count int `json:"count"`
}

type StreamResponse struct {
	Count int `json:"count"`
}

// Payload is the benchmark message.
type Payload struct {
	ID   int      `json:"id"`
	Name string   `json:"name"`
	Tags []string `json:"tags"`
	OK   bool     `json:"ok"`
}

// Event is what the publisher and subscriber exchange.
type Event struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// Env returns the variable's value or a default.
func Env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// EnvInt returns the variable as an int or a default.
func EnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// Emit prints one JSON line on stdout: the tests read the programs' output line by line.
func Emit(v interface{}) {
	b, _ := json.Marshal(v)
	os.Stdout.Write(append(b, '\n'))
}

// Init creates a service configured from MICRO_* variables only (no command-line flags).
func Init(name string, opts ...micro.Option) micro.Service {
	os.Args = os.Args[:1]
	service := micro.NewService(append([]micro.Option{micro.Name(name)}, opts...)...)
	service.Init()
	return service
}
