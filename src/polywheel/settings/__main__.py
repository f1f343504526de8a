"""`python -m polywheel.settings [--write]`: check (or rewrite) the generated files.

Run from a source checkout: it compares the shipped JSON schema and the reference
tables of docs/configuration.md with what the settings model generates.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from polywheel.settings.docs import update_page
from polywheel.settings.schema import SHIPPED_SCHEMA, render_schema

CONFIGURATION_PAGE = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m polywheel.settings")
    parser.add_argument("--write", action="store_true", help="rewrite the generated files")
    args = parser.parse_args()
    stale = []
    for path, expected in (
        (SHIPPED_SCHEMA, render_schema()),
        (CONFIGURATION_PAGE, update_page(CONFIGURATION_PAGE.read_text())),
    ):
        if path.read_text() != expected:
            stale.append(path)
            if args.write:
                path.write_text(expected)
    for path in stale:
        print(f"{'rewrote' if args.write else 'out of date'}: {path}")
    return 1 if stale and not args.write else 0


if __name__ == "__main__":
    raise SystemExit(main())
