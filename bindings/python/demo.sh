#!/usr/bin/env bash
# The seed's own story through the Python binding (bindings/python/demo/seed_story.py): builds
# what it needs (the pinned venv under target/py-venv, the package, the development issuer),
# then walks the quickstart app with the official mcp client over real HTTP. Exits non-zero
# when a step differs. Run by scripts/demo.sh.
set -euo pipefail
PY_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$PY_DIR/../.." && pwd)"
VENV="${CARGO_TARGET_DIR:-$ROOT/target}/py-venv"
export AUTHSEC_CARGO_PROFILE="${AUTHSEC_CARGO_PROFILE:-dev}"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps -r "$PY_DIR/requirements-test.txt"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall "$PY_DIR"
(cd "$ROOT" && cargo build --locked -q -p authsec-fixture)
AUTHSEC_ROOT="$ROOT" "$PY" "$PY_DIR/demo/seed_story.py"
