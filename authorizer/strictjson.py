"""Strict JSON decoding for untrusted documents (tokens, discovery, key sets).

Python's ``json`` module accepts duplicate members (last one wins) and the
non-JSON constants ``NaN`` and ``Infinity``. Both let two parsers disagree
about what a document says, which is exactly what an attacker needs, so
:func:`loads_strict` refuses them.
"""

from __future__ import annotations

import json
from typing import Any


def loads_strict(text: str) -> Any:
    """Parse ``text``; raise ``ValueError`` (or ``RecursionError``) on anything doubtful."""
    return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_refuse_constant)


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate object member")
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
