package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	authsec "github.com/authsec/authsec/bindings/go"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type issue struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
}

type listIn struct{}

type listOut struct {
	Caller string  `json:"caller"`
	Issues []issue `json:"issues"`
}

type createIn struct {
	Title string `json:"title"`
}

type createOut struct {
	Caller  string `json:"caller"`
	Created issue  `json:"created"`
}

type deleteIn struct {
	ID int `json:"id"`
}

type deleteOut struct {
	Deleted int `json:"deleted"`
}

// caller is who the go-sdk says is calling: the auth.TokenInfo authsec put in the request
// context, surfaced by the SDK as req.Extra.TokenInfo (client_id claim, else the user id).
func caller(req *mcp.CallToolRequest) string {
	if req.Extra == nil || req.Extra.TokenInfo == nil {
		return ""
	}
	if id, ok := req.Extra.TokenInfo.Extra["client_id"].(string); ok && id != "" {
		return id
	}
	return req.Extra.TokenInfo.UserID
}

// newMCPServer is an issue tracker with three tools; which ones a caller sees and may call is
// decided by authsec (tool_scopes), not here.
func newMCPServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "issues", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "list_issues", Description: "List issues"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ listIn) (*mcp.CallToolResult, listOut, error) {
			return nil, listOut{Caller: caller(req), Issues: []issue{{1, "Login page is slow"}}}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "create_issue", Description: "Create an issue"},
		func(ctx context.Context, req *mcp.CallToolRequest, in createIn) (*mcp.CallToolResult, createOut, error) {
			return nil, createOut{Caller: caller(req), Created: issue{2, in.Title}}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "delete_issue", Description: "Delete an issue"},
		func(ctx context.Context, req *mcp.CallToolRequest, in deleteIn) (*mcp.CallToolResult, deleteOut, error) {
			return nil, deleteOut{Deleted: in.ID}, nil
		})
	return s
}

// newMux is the whole HTTP surface: the go-sdk StreamableHTTPHandler at /mcp behind authsec,
// and the RFC 9728 metadata document (MountMCP serves both).
func newMux(rt *authsec.Runtime) *http.ServeMux {
	server := newMCPServer()
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux := http.NewServeMux()
	authsec.MountMCP(mux, "/mcp", handler, rt)
	// Prometheus scrape target: the core's metrics.
	mux.Handle("/metrics", rt.MetricsHandler())
	return mux
}

// start builds the runtime from the environment (AUTHSEC_*), runs startup and logs its warnings.
func start(ctx context.Context) (*authsec.Runtime, error) {
	// Every decision as one JSON line on stderr unless the environment says otherwise.
	if os.Getenv("AUTHSEC_AUDIT_LOG") == "" {
		os.Setenv("AUTHSEC_AUDIT_LOG", "stderr")
	}
	rt, err := authsec.FromEnv()
	if err != nil {
		return nil, err
	}
	warnings, err := rt.Startup(ctx)
	if err != nil {
		rt.Close()
		return nil, err
	}
	for _, w := range warnings {
		fmt.Println("authsec warning:", w)
	}
	return rt, nil
}
