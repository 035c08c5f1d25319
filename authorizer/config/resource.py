"""The API as an OAuth protected resource: its identifier and where its metadata is (RFC 9728).

``AUTHORIZER_RESOURCE`` is the resource's canonical URI (RFC 8707, RFC 9728
section 1.2): the audience every accepted token must name, the ``resource`` of
the metadata document, and the base of the challenges' ``resource_metadata``.
It must already be canonical (lower-case scheme and host, no default port, no
fragment, no query, no trailing slash after a path), because a token's ``aud``
is compared with it exactly, as RFC 9728 section 7.3 and RFC 3986 section 6.2.1
compare identifiers: a near miss here would refuse every token for a reason no
one could see, so the cold start refuses it and names the canonical form.

``AUTHORIZER_RESOURCE_METADATA_URL`` is where the metadata is served, and what
every challenge names. By default it is the well-known path appended to the
resource (``https://host/mcp/.well-known/oauth-protected-resource``), not the
RFC 9728 section 3.1 form that inserts it before the resource's path
(``https://host/.well-known/oauth-protected-resource/mcp``): behind a REST API's
default endpoint every path starts with the stage, and behind a custom domain
with a base path mapping with that path, so only a URL under the resource is
sure to reach the API that serves it. Clients take it from the challenge (RFC
9728 section 5); the metadata route answers the section 3.1 form too, where
that reaches it. For a resource at the root of its host the two are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ConfigError
from .values import Env

#: The well-known path of RFC 9728 section 3.
WELL_KNOWN = "/.well-known/oauth-protected-resource"
RESOURCE_VARIABLE = "AUTHORIZER_RESOURCE"
METADATA_VARIABLE = "AUTHORIZER_RESOURCE_METADATA_URL"
RESOURCE_VARIABLES = (RESOURCE_VARIABLE, METADATA_VARIABLE)


@dataclass(frozen=True, slots=True)
class ResourceSettings:
    """The protected resource's identifier and its metadata's URL, both canonical."""

    resource: str
    metadata_url: str


def read_resource(env: Env) -> ResourceSettings | None:
    """The protected resource, or None when ``AUTHORIZER_RESOURCE`` is unset."""
    resource = env.optional(RESOURCE_VARIABLE)
    metadata_url = env.optional(METADATA_VARIABLE)
    if resource is None:
        if metadata_url is not None:
            raise ConfigError(f"{METADATA_VARIABLE} is set, but {RESOURCE_VARIABLE} is not")
        return None
    _check_canonical(RESOURCE_VARIABLE, resource)
    if metadata_url is None:
        metadata_url = default_metadata_url(resource)
    else:
        _check_canonical(METADATA_VARIABLE, metadata_url)
        if WELL_KNOWN not in urlsplit(metadata_url).path:
            raise ConfigError(
                f"{METADATA_VARIABLE} must be a {WELL_KNOWN} path, got {metadata_url!r}"
            )
    return ResourceSettings(resource=resource, metadata_url=metadata_url)


def default_metadata_url(resource: str) -> str:
    """The well-known path under the resource: ``https://host/path/.well-known/...``."""
    return f"{resource}{WELL_KNOWN}"


def audiences_for(
    resource: ResourceSettings, audiences: Sequence[str], where: str, *, claim: str
) -> tuple[str, ...]:
    """An issuer's accepted audiences under ``resource``: the resource alone (RFC 8707).

    ``audiences`` are the ones configured for the issuer (``where`` names them);
    any other than the resource would accept tokens issued for something else.
    """
    if claim != "aud":
        raise ConfigError(
            f"{RESOURCE_VARIABLE} binds tokens to the resource through aud, but {where} reads"
            f" the audience from {claim} (JWT_AUDIENCE_CLAIM): this provider's access tokens"
            " cannot be bound to a resource"
        )
    others = [audience for audience in audiences if audience != resource.resource]
    if others:
        raise ConfigError(
            f"{RESOURCE_VARIABLE} is {resource.resource!r}: a token for it names exactly that"
            f" in aud (RFC 8707), so {where} must be unset or the same, got"
            f" {', '.join(repr(other) for other in others)}"
        )
    return (resource.resource,)


def _check_canonical(name: str, uri: str) -> None:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name} is not a URI: {uri!r}") from None
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme.lower() != "https" and not (parts.scheme.lower() == "http" and loopback):
        raise ConfigError(f"{name} must be an https URI (http only on loopback), got {uri!r}")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ConfigError(f"{name} must name a host and nothing before it, got {uri!r}")
    if parts.fragment or "#" in uri:
        raise ConfigError(f"{name} must not have a fragment (RFC 8707 section 2), got {uri!r}")
    if parts.query or "?" in uri:
        raise ConfigError(f"{name} must not have a query, got {uri!r}")
    default_port = 443 if parts.scheme.lower() == "https" else 80
    host = parts.hostname
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port in (None, default_port) else f"[{host}]:{port}"
    path = parts.path.rstrip("/") if parts.path != "/" else ""
    canonical = f"{parts.scheme.lower()}://{netloc}{path}"
    if uri != canonical:
        raise ConfigError(
            f"{name} must be written canonically, as tokens will name it: {canonical!r},"
            f" not {uri!r} (lower-case scheme and host, no default port, no trailing slash)"
        )
