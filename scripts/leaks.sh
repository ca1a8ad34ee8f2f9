#!/usr/bin/env bash
# The long leak run (issue 17): mixed checks through the C ABI (ffi/tests/c/leaks.c: allowed,
# in-band denial, missing token, first sight, filtered tools/list, metadata, oversized,
# unparseable) against the fixture on loopback, three ways, every one counting panics caught at
# the boundary (status 901, must stay 0):
#   natively          CHECKS checks, RSS sampled 20 times (must stay flat after warm-up)
#   ASan + LSan       CHECKS checks (no error, no leak)
#   valgrind memcheck VALGRIND_CHECKS checks (0 errors, 0 definite/indirect/possible leaks)
# Usage: scripts/leaks.sh [CHECKS] [VALGRIND_CHECKS]   (defaults 1000000 and 20000)
# The bounded run (20k / 500) is the test mixed_checks_leak_nothing_and_rss_stays_flat in
# ffi/tests/c_programs.rs, run by scripts/test.sh. Needs gcc and valgrind (scripts/test.sh
# installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
checks="${1:-1000000}"
valgrind_checks="${2:-20000}"
export CARGO_INCREMENTAL=0
cargo build --locked -q -p authsec-ffi   # libauthsec.a for the C program
echo "== leaks: $checks checks natively and under ASan+LSan, $valgrind_checks under valgrind ($(date -u +%FT%TZ))"
AUTHSEC_LEAK_CHECKS="$checks" AUTHSEC_LEAK_VALGRIND_CHECKS="$valgrind_checks" \
  cargo test --locked -q -p authsec-ffi --test c_programs mixed_checks_leak_nothing_and_rss_stays_flat \
  -- --nocapture --test-threads 1 2>&1 | grep -E '^(native|ASan|valgrind|test result)|panicked|failed'
