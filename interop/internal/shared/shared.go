// Package shared holds the message types and environment handling common to the interop
// programs. Every program is configured by environment variables (Go Micro's MICRO_* ones plus
// INTEROP_*) so that Go Micro's own flag parsing sees no unknown flags.
package shared

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log"
	"os"
	"strconv"

	"go-micro.dev/v5"
	"go-micro.dev/v5/transport"
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
	base := []micro.Option{micro.Name(name)}
	if t := tlsTransport(); t != nil {
		base = append(base, micro.Transport(t))
	}
	service := micro.NewService(append(base, opts...)...)
	service.Init()
	return service
}

// tlsTransport is Go Micro's HTTP transport over TLS when INTEROP_TLS_CA is set: transport.Secure
// with a TLSConfig trusting that CA (PEM file), with INTEROP_TLS_CERT/INTEROP_TLS_KEY as this
// program's certificate (served, and shown to servers that ask), and, serving, client
// certificates from the CA required when INTEROP_TLS_CLIENT_AUTH=require. Nil otherwise.
func tlsTransport() transport.Transport {
	caFile := os.Getenv("INTEROP_TLS_CA")
	if caFile == "" {
		return nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		log.Fatalf("INTEROP_TLS_CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatalf("INTEROP_TLS_CA=%s: no certificate in it", caFile)
	}
	config := &tls.Config{RootCAs: pool, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile := os.Getenv("INTEROP_TLS_CERT"); certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, os.Getenv("INTEROP_TLS_KEY"))
		if err != nil {
			log.Fatalf("INTEROP_TLS_CERT/KEY: %v", err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	if os.Getenv("INTEROP_TLS_CLIENT_AUTH") == "require" {
		config.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return transport.NewHTTPTransport(transport.Secure(true), transport.TLSConfig(config))
}
