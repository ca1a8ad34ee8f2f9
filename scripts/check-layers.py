#!/usr/bin/env python3
"""Layer check of core/src: a module may import only from its own layer or the layers below it.

The layers, bottom to top, are the folders (and top-level files) of core/src, in the order of
LAYERS. Imports are read from `crate::...` paths outside `#[cfg(test)]` modules; a path to an item
the crate root re-exports is attributed to the layer that defines it. Exits 1 naming every
upward import. Run by scripts/test.sh; see docs/architecture.md.
"""
import os
import re
import sys

LAYERS = ["error", "clock", "text", "json", "audit", "config", "backend", "token", "policy", "request",
          "response", "workload", "session", "manifest", "runtime", "fuzzing"]
RANK = {name: i for i, name in enumerate(LAYERS)}
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core", "src")


def root_reexports():
    """Map each name the crate root re-exports to the layer that defines it."""
    lib = open(os.path.join(SRC, "lib.rs")).read()
    out = {}
    for m in re.finditer(r"^pub use ([a-z_]+)(?:::[a-z_:]+)?::(\{[^}]*\}|[A-Za-z_]+);", lib, re.M):
        layer, names = m.group(1), m.group(2).strip("{}")
        for n in names.split(","):
            n = n.strip()
            if n:
                out[n] = layer
    return out


def main():
    exported = root_reexports()
    upward, unknown = [], []
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if not f.endswith(".rs") or (root == SRC and f == "lib.rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, SRC)
            layer = rel.split(os.sep)[0].removesuffix(".rs")
            if layer not in RANK:
                unknown.append(f"{rel}: not in a known layer (add it to LAYERS)")
                continue
            code = open(path).read().split("#[cfg(test)]")[0]
            code = re.sub(r"//[^\n]*", "", code)  # comments and doc comments
            for m in re.finditer(r"crate::([A-Za-z_]+)", code):
                target = m.group(1)
                target = target if target in RANK else exported.get(target)
                if target is None:
                    unknown.append(f"{rel}: crate::{m.group(1)} is neither a layer nor a root re-export")
                elif RANK[target] > RANK[layer]:
                    upward.append(f"{rel} ({layer}) imports crate::{m.group(1)} ({target})")
    for line in sorted(set(unknown)) + sorted(set(upward)):
        print(line, file=sys.stderr)
    if upward or unknown:
        sys.exit(1)
    print(f"layers: core/src imports only downward ({' < '.join(LAYERS)})")


if __name__ == "__main__":
    main()
