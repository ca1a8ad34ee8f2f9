// Command example is an MCP server built with the official Go SDK
// (github.com/modelcontextprotocol/go-sdk), protected by authsec: configure it with the
// AuthSec environment variables (AUTHSEC_ISSUER, AUTHSEC_JWKS_URL, AUTHSEC_RESOURCE_URI,
// AUTHSEC_TOOL_SCOPES_JSON, ...) and PORT, then connect an MCP client with a bearer token.
//
//	cargo build --locked -p authsec-ffi && go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	authsec "github.com/authsec/authsec/bindings/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rt, err := start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "authsec:", err)
		os.Exit(1)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: newMux(rt)}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	fmt.Printf("READY http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
	}
	// Orderly shutdown: release the runtime, then (optional) stop the library's threads.
	rt.Close()
	_ = authsec.Shutdown()
}
