"""Where HTTPS fetches find the system's trusted roots: read as a handshake needs them.

OpenSSL's default (what ``SSLContext.load_default_certs`` asks for) parses the whole
CA bundle, about 140 certificates, when the context is made: about 20 ms of a full
CPU, several times that under a small function's CPU share, paid by every cold start
that fetches keys. OpenSSL can instead look a root up by its subject's hash in a
folder and read only the one a handshake needs. Distributions write such a folder
from the same trust source as the bundle: Debian's ``/etc/ssl/certs`` holds the
bundle and the hash links; on Fedora-family systems ``update-ca-trust`` extracts
p11-kit's ``directory-hash`` beside the bundle with the same filter. The trusted
roots stay the same; only when they are read changes. A system without such a
folder (a runtime image may leave it out) reads the bundle whole, as before.

The rules, first match wins (:func:`trust_folders`):

* ``SSL_CERT_FILE`` set: OpenSSL's default, that file read whole. Someone chose
  that file; no folder is known to hold the same roots.
* The default bundle has a hash folder beside it (``directory-hash``) or is in one,
  and that folder has a working hash link for every certificate in the bundle: that folder,
  and what OpenSSL's default would read lazily anyway (``SSL_CERT_DIR``, or its
  default folder).
* Otherwise OpenSSL's default: the bundle read whole, as before.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping

#: How OpenSSL names a root in a hash folder: the subject's hash, a collision counter.
_HASH_LINK = re.compile(r"[0-9a-f]{8}\.[0-9]+")
#: Where p11-kit's ``update-ca-trust`` writes the hash folder, beside the PEM bundle.
_BESIDE = "directory-hash"


def load_system_roots(context: ssl.SSLContext) -> None:
    """Give ``context`` the system's trusted roots, lazily where :func:`trust_folders` allows."""
    folders = trust_folders(ssl.get_default_verify_paths(), os.environ)
    if folders is None:
        context.load_default_certs()
        return
    for folder in folders:
        context.load_verify_locations(capath=folder)


def trust_folders(paths: ssl.DefaultVerifyPaths, environ: Mapping[str, str]) -> list[str] | None:
    """The hash folders that hold the default bundle's roots, or ``None`` for OpenSSL's default.

    ``paths`` is :func:`ssl.get_default_verify_paths` (injected for tests). The
    first folder holds the bundle's roots; the rest are what OpenSSL's default
    would also consult, each only when a root is not found before it.
    """
    if environ.get(paths.openssl_cafile_env):
        return None
    bundle = os.path.realpath(paths.openssl_cafile)
    try:
        with open(bundle, "rb") as file:
            roots = file.read().count(b"-----BEGIN CERTIFICATE-----")
    except OSError:
        return None
    home = os.path.dirname(bundle)
    hashed = next(
        (f for f in (os.path.join(home, _BESIDE), home) if roots and _links(f) >= roots), None
    )
    if hashed is None:
        return None
    also = environ.get(paths.openssl_capath_env) or paths.openssl_capath
    extra = [f for f in also.split(os.pathsep) if f and os.path.isdir(f)]
    seen = os.path.realpath(hashed)
    return [hashed, *(f for f in extra if os.path.realpath(f) != seen)]


def _links(folder: str) -> int:
    """How many hash-named entries of ``folder`` lead to a file (0 if it cannot be read).

    A dangling link would fail the handshake of the root it names, so it does not count.
    """
    try:
        with os.scandir(folder) as entries:
            return sum(1 for e in entries if _HASH_LINK.fullmatch(e.name) and e.is_file())
    except OSError:
        return 0
