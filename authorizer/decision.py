"""One request's decision: what the checks concluded, before it is shaped into a response."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .events import EventKind
from .policy import ApiArn
from .verify import VerifiedToken

if TYPE_CHECKING:  # loaded by the rules file parser, only where access rules exist
    from .access import Verdicts

Outcome = Literal["allow", "deny", "unauthorized", "error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of one request, before it is shaped into a response."""

    outcome: Outcome
    reason: str
    kind: EventKind | None = None
    arn: ApiArn | None = None
    token: VerifiedToken | None = None
    message: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    issuer: str | None = None
    #: The route rules' verdicts for this token (None: no route rules, or denied outright).
    verdicts: Verdicts | None = None
