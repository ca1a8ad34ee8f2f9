"""Generate src/authsec_sdk/_codes.py from include/authsec_codes.json (the one code registry).

``python scripts/gen_codes.py`` rewrites the module; ``--check`` fails when the committed module
differs from a fresh generation (the drift check run by test.sh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
REGISTRY = HERE.parent.parent / "include" / "authsec_codes.json"
TARGET = HERE / "src" / "authsec_sdk" / "_codes.py"


def render() -> str:
    codes = json.loads(REGISTRY.read_text(encoding="utf-8"))["codes"]
    lines = [
        '"""The stable codes of authsec, generated from include/authsec_codes.json by',
        "scripts/gen_codes.py; do not edit (test.sh fails on drift).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Final",
        "",
        "",
        "class ErrorCode:",
        '    """Status numbers of the C ABI, by their stable names (upper case)."""',
        "",
    ]
    for c in codes:
        lines.append(f"    {c['name'].upper()}: Final = {int(c['number'])}")
        lines.append(f'    """{c["summary"]}"""')
    lines += [
        "",
        "",
        "#: number -> stable lower-case name (the name the core and the vectors use).",
        "NAMES: Final[dict[int, str]] = {",
    ]
    for c in codes:
        lines.append(f"    {int(c['number'])}: {json.dumps(c['name'])},")
    lines += ["}", ""]
    return "\n".join(lines)


def main() -> int:
    text = render()
    if sys.argv[1:] == ["--check"]:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python scripts/gen_codes.py", file=sys.stderr)
            return 1
        print("codes: _codes.py matches include/authsec_codes.json")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
