"""Issuers with a tenant in them: one key set, an ``iss`` per tenant (multi-tenant applications).

An Entra ID application registered for several organisations gets tokens whose
``iss`` is ``https://login.microsoftonline.com/<tenant>/v2.0``: one issuer per
tenant, every one signing with the same keys. An :class:`IssuerTemplate` is the
issuer with ``{tenant}`` where the tenant goes. A token fits it when its ``iss``
is the template with one tenant filled in; the tenant must be one of those
allowed (or the configuration must say any tenant, explicitly); and the
provider's tenant claim (Entra: ``tid``) must name the same tenant, which is
how Microsoft documents validating multi-tenant tokens.

A tenant is 1 to 64 ASCII letters, digits, ``-`` and ``_``, starting with a letter
or digit: never ``/``, ``.``, ``@``, ``%`` or anything that would let an ``iss``
reach outside the template's place (another path, another host). Nothing here
keeps state per tenant, and nothing a token says is ever fetched: the key set is
the template's own, fixed at cold start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import TenantMismatch, UnknownTenant, WrongIssuer

#: Where the tenant goes in an issuer template.
TENANT = "{tenant}"
TENANT_PATTERN = "[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_TENANT = re.compile(TENANT_PATTERN)


@dataclass(frozen=True, slots=True)
class IssuerTemplate:
    """An issuer with ``{tenant}`` in it, the tenants it accepts and the claim naming the tenant."""

    template: str
    #: The tenants accepted; None: any tenant (said explicitly in the configuration).
    tenants: frozenset[str] | None
    #: The claim that must name the same tenant as ``iss`` (None: none is checked).
    tenant_claim: str | None = None
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prefix, suffix = self.template.split(TENANT)
        pattern = re.compile(f"{re.escape(prefix)}({TENANT_PATTERN}){re.escape(suffix)}")
        object.__setattr__(self, "_pattern", pattern)

    def tenant_of(self, iss: object) -> str | None:
        """The tenant in ``iss``, if ``iss`` is this template with a tenant filled in."""
        if not isinstance(iss, str):
            return None
        match = self._pattern.fullmatch(iss)
        return match[1] if match else None

    def check(self, claims: Mapping[str, Any]) -> str:
        """The token's tenant; raises unless ``iss`` fits, the tenant is accepted, and agreed."""
        tenant = self.tenant_of(claims.get("iss"))
        if tenant is None:
            raise WrongIssuer("iss does not fit the configured issuer template")
        if self.tenants is not None and tenant not in self.tenants:
            raise UnknownTenant(f"tenant {tenant!r} is not one of the accepted tenants")
        if self.tenant_claim is not None and claims.get(self.tenant_claim) != tenant:
            raise TenantMismatch(
                f"{self.tenant_claim} does not name the tenant of iss ({tenant!r})"
            )
        return tenant


def is_tenant(value: str) -> bool:
    """Whether ``value`` is a tenant an issuer template can hold."""
    return _TENANT.fullmatch(value) is not None
