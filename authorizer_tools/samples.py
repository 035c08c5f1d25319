"""The sample events in ``events/``: one per API Gateway authorizer shape.

    python -m authorizer_tools events events/

Each sample carries :data:`PLACEHOLDER` where the access token goes; replace it
with a real token to use the file with ``sam local invoke -e``. The demo and
the tests substitute freshly minted tokens.
"""

from __future__ import annotations

import json
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


#: Negative samples: what a client may send instead of a usable Bearer token.
NEGATIVES: dict[str, str | None] = {
    "no-token": None,
    "wrong-scheme": "Basic dXNlcjpwYXNzd29yZA==",
    "malformed": "Bearer not-a-jwt",
}


def render_negative(kind: str, case: str) -> str:
    event = make_event(kind, NEGATIVES[case])
    return json.dumps(event, indent=2, sort_keys=True) + "\n"


def write_all(directory: Path, token: str | None = None) -> list[Path]:
    """Write one positive sample per shape (with ``token``, or the placeholder) and negatives."""
    (directory / "negative").mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / f"{kind}.json"
        text = render(kind) if token is None else render(kind).replace(PLACEHOLDER, token)
        path.write_text(text, encoding="utf-8")
        written.append(path)
        for case in NEGATIVES:
            negative = directory / "negative" / f"{kind}-{case}.json"
            negative.write_text(render_negative(kind, case), encoding="utf-8")
            written.append(negative)
    return written
