#!/usr/bin/env bash
# Everything for the Python binding, from a fresh clone: a venv under target/ (python3 -m venv),
# the pinned test requirements (pip --no-deps: nothing resolves on the day), the package built
# and installed by its own backend (cargo builds libauthsec), the codes drift check, mypy --strict
# and pytest (fixture backend, oidc-provider, headless Chromium through chromedriver and the
# official mcp client on loopback), then the shared conformance vectors through
# tests/conformance_driver.py.
# AUTHSEC_CARGO_PROFILE=release builds the library as a user's install does (default here: dev,
# which reuses the debug build of the rest of the test suite).
set -euo pipefail

PY_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$PY_DIR/../.." && pwd)"
VENV="${CARGO_TARGET_DIR:-$ROOT/target}/py-venv"
export AUTHSEC_CARGO_PROFILE="${AUTHSEC_CARGO_PROFILE:-dev}"

step() { printf '\n==> %s\n' "$*"; }

step "venv ($VENV) and pinned test requirements"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps -r "$PY_DIR/requirements-test.txt"
if ! "$PY" -m pip check >/dev/null 2>&1; then
  echo "requirements-test.txt is incomplete: pip would need a package that is not pinned ($("$PY" -m pip check 2>&1 | head -1))" >&2
  exit 1
fi

step "build and install authsec-sdk (its backend runs cargo and compiles the cffi extension, profile $AUTHSEC_CARGO_PROFILE)"
bash "$PY_DIR/scripts/build-deps.sh" "$PY"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall "$PY_DIR"

step "codes drift check"
"$PY" "$PY_DIR/scripts/gen_codes.py" --check

step "the fixture backend, the authsec command (its proxy e2e test) and the oidc-provider dependencies"
(cd "$ROOT" && cargo build --locked -p authsec-fixture -p authsec-cli)
bash "$ROOT/scripts/npm-ci.sh" "$ROOT/tests/interop/oidc"

step "Chromium and its WebDriver for the browser sign-in test (Debian chromium, chromium-driver)"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }
fi

step "mypy --strict (package and typed usage)"
(cd "$PY_DIR" && "$PY" -m mypy --strict src/authsec_sdk tests/types_usage.py tests/conformance_driver.py)

step "pytest"
# Run from the tests directory so the installed package (not src/) is imported.
(cd "$PY_DIR/tests" && AUTHSEC_ROOT="$ROOT" "$PY" -m pytest -q -p no:cacheprovider .)

step "conformance vectors through the Python driver (runner + mutation check)"
(cd "$ROOT" && cargo run --locked -q -p authsec-conformance -- "$PY" bindings/python/tests/conformance_driver.py)

printf '\npython binding: all green\n'
