"""The floor and the one way every figure is measured against it.

On a shared machine the speed drifts by tens of percent within minutes, so an
absolute time, or a ratio of two times taken minutes apart, measures the drift
as much as the code. Every figure here is therefore taken in rounds that
alternate with a batch of floor checks, and reported as the best round of
each: ``ratio = best time per operation / best floor time per check``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

FLOOR_NAME = "RSA-2048 PKCS#1 v1.5 SHA-256 verify (cryptography)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """One measurement: per-operation microseconds, and the floor's in the same rounds."""

    name: str
    micros: float
    floor_micros: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.micros / self.floor_micros


class Floor:
    """Bare signature checks over distinct messages: the one cost no verifier can skip."""

    def __init__(self, checks: int = 100) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = key.public_key()
        messages = [os.urandom(600) for _ in range(checks)]
        self._pairs = [
            (message, key.sign(message, padding.PKCS1v15(), hashes.SHA256()))
            for message in messages
        ]

    def seconds_per_check(self) -> float:
        """One batch; the time of one check."""
        public, pad, sha = self._public, padding.PKCS1v15(), hashes.SHA256()
        started = time.perf_counter()
        for message, signature in self._pairs:
            public.verify(signature, message, pad, sha)
        return (time.perf_counter() - started) / len(self._pairs)


def against_floor(
    name: str, run: Callable[[], int], floor: Floor, rounds: int, note: str = ""
) -> Figure:
    """Time ``run`` (it returns its operation count) ``rounds`` times, each after a floor batch."""
    own: list[float] = []
    base: list[float] = []
    for _ in range(rounds):
        base.append(floor.seconds_per_check())
        started = time.perf_counter()
        operations = run()
        own.append((time.perf_counter() - started) / operations)
    return Figure(name=name, micros=min(own) * 1e6, floor_micros=min(base) * 1e6, note=note)


def write_figures(path: Path, figures: Iterable[Figure]) -> None:
    path.write_text(json.dumps([asdict(figure) for figure in figures], indent=2) + "\n")


def read_figures(path: Path) -> list[Figure]:
    loaded: list[dict[str, Any]] = json.loads(path.read_text())
    return [Figure(**item) for item in loaded]
