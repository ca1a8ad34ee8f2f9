// Command gen writes codes.go of package authsec from include/authsec_codes.json:
//
//	go run ./internal/codegen/gen ../../include/authsec_codes.json codes.go
package main

import (
	"fmt"
	"os"

	"github.com/authsec/authsec/bindings/go/internal/codegen"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gen <authsec_codes.json> <codes.go>")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := codegen.Generate(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
