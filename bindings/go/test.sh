#!/usr/bin/env bash
# Everything for the Go binding, from a fresh clone: build libauthsec.a (debug) and the
# conformance fixture with cargo, install oidc-provider (npm ci) for the end-to-end test, then
# go vet, go test -race (unit tests against the fixture, 64 goroutines sharing one runtime, the
# driver's protocol answers), every conformance vector through the Go driver with the
# runner-level mutation check (the shared Rust runner spawning cmd/conformance-driver), and the
# example's end to end (go-sdk client -> go-sdk StreamableHTTPHandler behind MountMCP, tokens
# from oidc-provider). Modules come only from the Go proxy, pinned by go.sum (-mod=readonly);
# no toolchain download (GOTOOLCHAIN=local). Exits non-zero on any failure.
set -euo pipefail

GO_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$GO_DIR/../.." && pwd)"
export GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=1

step() { printf '\n==> %s\n' "$*"; }

step "build libauthsec.a (debug), the conformance fixture and runner (cargo)"
(cd "$ROOT" && cargo build --locked -p authsec-ffi -p authsec-fixture -p authsec-conformance)
# Go's build cache keys a cgo package by its flags, not by the archive its LDFLAGS name: fold the
# archive's digest into CGO_CFLAGS so a rebuilt libauthsec.a (same path) is never linked stale.
lib_digest="$(sha256sum "$ROOT/target/debug/libauthsec.a" | cut -c1-16)"
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DAUTHSEC_LIB_DIGEST=0x$lib_digest"

step "npm ci (tests/interop/oidc: oidc-provider for the end to end)"
bash "$ROOT/scripts/npm-ci.sh" "$ROOT/tests/interop/oidc"

step "gofmt, go vet (bindings/go, examples/go)"
for d in "$GO_DIR" "$ROOT/examples/go"; do
  unformatted="$(cd "$d" && gofmt -l .)"
  [ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
  (cd "$d" && go vet ./...)
done

step "go test -race (bindings/go: unit, middleware, 64 goroutines, codes drift, driver protocol)"
(cd "$GO_DIR" && go test -race -count=1 ./...)

step "every conformance vector through the Go driver, then the mutation check"
driver_dir="$(mktemp -d)"
trap 'rm -rf "$driver_dir"' EXIT
(cd "$GO_DIR" && go build -race -o "$driver_dir/conformance-driver" ./cmd/conformance-driver)
(cd "$ROOT" && cargo run --locked -q -p authsec-conformance -- "$driver_dir/conformance-driver")

step "example: go-sdk client against MountMCP + oidc-provider (go test -race)"
(cd "$ROOT/examples/go" && go test -race -count=1 ./...)

printf '\ngo binding: all green\n'
