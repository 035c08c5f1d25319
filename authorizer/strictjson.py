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
from typing import Any


def loads_strict(text: str) -> Any:
    """Parse ``text``; raise ``ValueError`` (or ``RecursionError``) on anything doubtful.

    Insignificant whitespace is RFC 8259's (space, tab, line feed, carriage
    return), before and after the value; anything else after it is refused.
    """
    return _DECODER.decode(text)


def loads_object(raw: bytes | str) -> dict[str, Any]:
    """``raw`` (UTF-8 bytes or text) as a strict JSON object; ``ValueError`` for anything else.

    Each caller turns the error into its own (a 401, a failed fetch, a bad file),
    with its own words; :exc:`UnicodeDecodeError` and :exc:`RecursionError` arrive
    as ``ValueError`` too.
    """
    try:
        value = loads_strict(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(value, dict):
        raise NotAnObject("not a JSON object")
    return value


class NotAnObject(ValueError):
    """Valid JSON, but not an object (what :func:`loads_object` requires)."""


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
