"""The dev issuer's state on disk: its port and signing keys, kept between runs.

Development keys only: they live in ``.dev-issuer/`` (ignored by git), are
generated on first use, and never leave the machine. The running issuer
reloads the file when it changes, so ``dev-issuer rotate`` takes effect at once.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from .issuer import PrivateKey, SigningKey, generate_key

STATE_FILE = "issuer.json"
DEFAULT_DIR = Path(".dev-issuer")
DEFAULT_PORT = 8765
DEFAULT_AUDIENCE = "https://api.example.test"


class StateError(Exception):
    """The state is missing or unreadable; the message says what to do."""


@dataclass
class State:
    port: int
    keys: list[SigningKey] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def key_for(self, alg: str | None) -> SigningKey:
        """The newest key for ``alg`` (any algorithm when ``None``)."""
        for key in reversed(self.keys):
            if alg is None or key.alg == alg:
                return key
        offered = ", ".join(sorted({key.alg for key in self.keys})) or "none"
        raise StateError(
            f"the dev issuer has no {alg} key (it has: {offered}); "
            f"add one with: dev-issuer rotate --algorithm {alg} --keep-old"
        )


def path_of(directory: Path) -> Path:
    return directory / STATE_FILE


def load(directory: Path) -> State:
    path = path_of(directory)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        keys = [_load_key(item) for item in raw["keys"]]
        return State(port=int(raw["port"]), keys=keys)
    except FileNotFoundError:
        raise StateError(
            f"no dev issuer state in {directory}/: start one with "
            "`python -m authorizer_tools dev-issuer serve`"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{path} is not a dev issuer state file ({exc})") from None


def load_or_new(directory: Path, port: int, algorithms: list[str]) -> State:
    """The saved state with ``port``, or a new one with keys for ``algorithms``; not saved.

    The caller saves it once the issuer listens on ``port``: the port is part of
    the issuer name every minted token carries, so a start that fails must not
    change it.
    """
    try:
        state = load(directory)
    except StateError:
        if path_of(directory).exists():
            raise
        return State(port=port, keys=[_new_key(alg) for alg in algorithms])
    state.port = port
    return state


def save(directory: Path, state: State) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    document = {"port": state.port, "keys": [_dump_key(key) for key in state.keys]}
    temporary = path_of(directory).with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
    os.chmod(temporary, 0o600)  # private keys, even if only for development
    temporary.replace(path_of(directory))


def rotate(directory: Path, alg: str, keep_old: bool) -> tuple[SigningKey, list[str]]:
    """Add a new ``alg`` key; unless ``keep_old``, withdraw the older keys of that algorithm."""
    state = load(directory)
    new = _new_key(alg)
    withdrawn = [] if keep_old else [key.kid for key in state.keys if key.alg == alg]
    state.keys = [key for key in state.keys if key.kid not in withdrawn] + [new]
    save(directory, state)
    return new, withdrawn


def mint(
    state: State,
    claims: dict[str, Any],
    *,
    alg: str | None,
    lifetime: int,
    now: float | None = None,
) -> str:
    """A signed access token from the dev issuer; ``claims`` override the defaults."""
    key = state.key_for(alg)
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": state.issuer,
        "sub": "dev-user",
        "aud": DEFAULT_AUDIENCE,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    }
    payload.update(claims)
    return jwt.encode(
        payload, key.private, algorithm=key.alg, headers={"kid": key.kid, "typ": "at+jwt"}
    )


def _new_key(alg: str) -> SigningKey:
    try:
        private = generate_key(alg)
    except ValueError:
        raise StateError(f"unsupported algorithm {alg!r}") from None
    return SigningKey(f"{alg.lower()}-{uuid.uuid4().hex[:8]}", alg, private)


def _dump_key(key: SigningKey) -> dict[str, str]:
    pem = key.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"kid": key.kid, "alg": key.alg, "pem": pem.decode("ascii")}


def _load_key(item: dict[str, str]) -> SigningKey:
    private = serialization.load_pem_private_key(item["pem"].encode("ascii"), password=None)
    return SigningKey(item["kid"], item["alg"], _private_key(private))


def _private_key(key: object) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: PLC0415

    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        return key
    raise ValueError("unsupported private key type")
