#!/usr/bin/env bash
# What building authsec-sdk needs besides cargo, for the given Python: a C compiler and that
# interpreter's headers (Python.h), for the compiled cffi extension (README.md, "Build").
# Installs the Debian packages (gcc, libc6-dev, python3-dev) as root when one is missing.
#   bash bindings/python/scripts/build-deps.sh <python>
set -euo pipefail
PY="${1:?usage: build-deps.sh <python>}"
INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
if command -v "${CC:-cc}" >/dev/null && [ -f "$INCLUDE/Python.h" ]; then exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "installing gcc and the Python headers (apt-get: gcc libc6-dev python3-dev)" >&2
$SUDO apt-get install -y -qq gcc libc6-dev python3-dev >/dev/null \
  || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq gcc libc6-dev python3-dev >/dev/null; }
[ -f "$INCLUDE/Python.h" ] || { echo "no Python.h in $INCLUDE for $PY (install its development headers)" >&2; exit 1; }
