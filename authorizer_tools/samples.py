"""The sample events in ``events/``: one per API Gateway authorizer shape.

    python -m authorizer_tools.samples events

Each sample carries :data:`PLACEHOLDER` where the access token goes; replace it
with a real token to use the file with ``sam local invoke -e``. The demo and
the tests substitute freshly minted tokens.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .eventgen import KINDS, make_event

PLACEHOLDER = "REPLACE_WITH_ACCESS_TOKEN"


def sample(kind: str) -> dict[str, Any]:
    return make_event(kind, f"Bearer {PLACEHOLDER}")


def with_token(event: Any, token: str | None) -> Any:
    """A copy of ``event`` with the placeholder replaced (``None``: the credential removed)."""
    text = json.dumps(event)
    if token is None:
        text = text.replace(f'"Bearer {PLACEHOLDER}"', '""')
    return json.loads(text.replace(PLACEHOLDER, token or ""))


def render(kind: str) -> str:
    return json.dumps(sample(kind), indent=2, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / f"{kind}.json"
        path.write_text(render(kind), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m authorizer_tools.samples DIRECTORY", file=sys.stderr)
        return 2
    for path in write_all(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
