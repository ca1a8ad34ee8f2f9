#!/usr/bin/env python3
"""Add `"format": 1` as the first key of every vector that lacks it (a mechanical, idempotent
edit that keeps each file's layout: one line inserted after the opening brace).

    python3 tests/conformance/tools/add-format.py [vectors dir]

Rerun it after merging branches that add vectors written before the format version existed.
"""
import json
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
vectors = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "vectors"
changed = 0
for path in sorted(vectors.glob("*.json")):
    text = path.read_text(encoding="utf-8")
    if "format" in json.loads(text):
        continue
    if not text.startswith("{\n"):
        sys.exit(f"{path}: does not start with '{{' on its own line; add \"format\": 1 by hand")
    path.write_text('{\n  "format": 1,\n' + text[2:], encoding="utf-8")
    changed += 1
print(f"add-format: {changed} vectors changed")
