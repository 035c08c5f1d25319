"""Strict JSON decoding for untrusted documents (tokens, discovery, key sets).

Python's ``json`` module accepts duplicate members (last one wins), the
non-JSON constants ``NaN`` and ``Infinity``, and numbers such as ``1e999`` that
silently become ``inf``. Each lets two parsers disagree about what a document
says, which is exactly what an attacker needs, so :func:`loads_strict` refuses
them. (Integers over 4,300 digits are already refused by Python itself.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any


def loads_strict(text: str) -> Any:
    """Parse ``text``; raise ``ValueError`` (or ``RecursionError``) on anything doubtful."""
    # The decoder's C scanner, called directly: JSONDecoder.decode adds two Python
    # frames and two regex matches per call, a third of the cost for a small token.
    start = 0
    if text[:1] in _WHITESPACE:
        start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _SCAN(text, start)
    except StopIteration:
        raise ValueError("not a JSON value") from None
    if end != len(text) and text[end:].strip(_WHITESPACE):
        raise ValueError("extra data after the JSON value")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate object member")
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a double")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads(text, **hooks) would build a new one each time.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_members,
    parse_constant=_refuse_constant,
    parse_float=_finite_float,
)
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_WHITESPACE = " \t\n\r"  # RFC 8259 section 2: the only insignificant whitespace
