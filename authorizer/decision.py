"""One request's decision: what the checks concluded, before it is shaped into a response.

A decision is one of four types, and each says by its fields what its outcome
carries: an :class:`Allowed` or a :class:`Denied` answer always has the
verified token and the API's ARN (the response step needs both to build a
policy); an :class:`Unauthorized` (401) or a :class:`Failed` (500) decision
never reaches a policy, so it has neither. The members a type does not carry
are class attributes set to ``None``, so that observers read every decision
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Literal

from .errors import AccessDenied
from .gateway.arn import ApiArn
from .gateway.events import EventKind
from .tokens.verify import VerifiedToken

if TYPE_CHECKING:  # loaded by the rules file parser, only where access rules exist
    from .access.rules import Verdicts

Outcome = Literal["allow", "deny", "unauthorized", "error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Answer:
    """What an allow and a deny both carry: a policy is built from these."""

    kind: EventKind
    arn: ApiArn
    token: VerifiedToken
    issuer: str
    #: How the token was bound to its sender (``{"binding": "dpop"}``), if it was.
    details: Mapping[str, str] = field(default_factory=dict)
    #: The route rules' verdicts on every route (None: no route rules, or an issuer-wide
    #: rule denied the whole stage).
    verdicts: Verdicts | None = None
    #: The tenant in ``iss``, for a token of an issuer template (None: any other token).
    tenant: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Allowed(_Answer):
    """A verified token allowed on the requested route (IAM Allow, or ``isAuthorized``)."""

    outcome: ClassVar[Literal["allow"]] = "allow"
    reason: ClassVar[str] = "allowed"
    message: ClassVar[str] = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Denied(_Answer):
    """A verified token refused by the rules (403): for its route, or on every route."""

    outcome: ClassVar[Literal["deny"]] = "deny"
    reason: str
    message: str
    #: The rule that refused (its scopes or age go into the 403's challenge).
    failure: AccessDenied | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unauthorized:
    """No token, or one that is not good (401): the client should get a new one.

    ``token`` is set only where a verified token's claim had the wrong type for a rule.
    """

    outcome: ClassVar[Literal["unauthorized"]] = "unauthorized"
    arn: ClassVar[None] = None
    verdicts: ClassVar[None] = None
    tenant: ClassVar[None] = None
    reason: str
    message: str = ""
    kind: EventKind | None = None
    issuer: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    token: VerifiedToken | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """The authorizer cannot decide (500): keys or the replay store unavailable, or a bug."""

    outcome: ClassVar[Literal["error"]] = "error"
    arn: ClassVar[None] = None
    token: ClassVar[None] = None
    verdicts: ClassVar[None] = None
    tenant: ClassVar[None] = None
    details: ClassVar[Mapping[str, str]] = MappingProxyType({})
    reason: str
    message: str
    kind: EventKind | None = None
    issuer: str | None = None


#: Every decision the pipeline makes.
Decision = Allowed | Denied | Unauthorized | Failed
