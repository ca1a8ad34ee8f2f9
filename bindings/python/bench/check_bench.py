"""In-process cost of authorizing one request with a repeated RS256 token (the path every call
of a session takes): ``await Runtime(cfg).authorize(token, "list_issues")``, the AuthSec SDK's
API, which both this project's binding and the reference ``authsec-sdk`` 4.7.3 provide under the
same import path. Run once in each venv (scripts/bench.sh does) and compare the medians.

    python check_bench.py <fixture base URL> <token>      prints "authorize_us <median>"
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from authsec_sdk.runtime import Config, PolicyMode, Runtime, ValidationMode

RESOURCE = "http://127.0.0.1/mcp"


async def main(base: str, token: str) -> None:
    cfg = Config(issuer=base, jwks_url=f"{base}/jwks", resource_uri=RESOURCE,
                 tool_scopes={"list_issues": ["issues:read"]},
                 policy_mode=PolicyMode.LOCAL_ONLY, validation_mode=ValidationMode.JWT_ONLY)
    rt = Runtime(cfg)
    await rt.startup()
    first = await rt.authorize(token, "list_issues")
    if not first.allowed:
        raise SystemExit(f"the benchmark token is refused: {first}")
    samples = []
    for _ in range(15):
        n = 400
        start = time.perf_counter()
        for _ in range(n):
            await rt.authorize(token, "list_issues")
        samples.append((time.perf_counter() - start) / n * 1e6)
    print(f"authorize_us {statistics.median(samples):.2f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
