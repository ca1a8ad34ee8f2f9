#!/usr/bin/env bash
# Build spire-server and spire-agent (github.com/spiffe/spire v1.13.3, pinned with their whole
# dependency graph by tests/spire/go.mod + go.sum as `tool` directives) into target/spire/bin,
# once: a stamp of go.mod + go.sum skips the build when the binaries are current. Needs Go >=
# the go.mod's `go` line (1.25.3); GOTOOLCHAIN=local so nothing downloads a toolchain, and
# -mod=readonly so a stale go.sum fails instead of being rewritten. Prints the bin directory.
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/spire/bin"
stamp="$bin/.stamp"
want="$(cat go.mod go.sum | sha256sum | cut -d' ' -f1)"
if [ -x "$bin/spire-server" ] && [ -x "$bin/spire-agent" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "tests/spire/build.sh: go is required (>= 1.25.3) to build SPIRE" >&2; exit 1; }
mkdir -p "$bin"
echo "building spire-server and spire-agent v1.13.3 into $bin (once; a few minutes)" >&2
GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -trimpath -o "$bin/" \
  github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent >&2
echo "$want" > "$stamp"
echo "$bin"
