"""The README's runnable examples and the output it promises for them.

A block marked ``<!-- example: NAME ... -->`` is a shell script the tests run as
written; one marked ``<!-- output: NAME -->`` is what the README says running it
prints. :func:`assert_shows` holds the output to that promise.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def example(name: str) -> str:
    """The shell block marked ``<!-- example: name ... -->``."""
    match = re.search(rf"<!-- example: {re.escape(name)}\b[^>]*-->\n```sh\n(.*?)```", README, re.S)
    assert match, f"the README lost its {name} example"
    return match.group(1)


def output(name: str) -> str:
    """The text block marked ``<!-- output: name -->``."""
    match = re.search(rf"<!-- output: {re.escape(name)} -->\n```text\n(.*?)```", README, re.S)
    assert match, f"the README lost the output of its {name} example"
    return match.group(1)


def assert_shows(promised: str, printed: str) -> None:
    """Every promised line is printed, in the promised order.

    A line ``...`` stands for lines left out; a line ending in ``...`` promises
    a printed line that starts with the rest. Trailing spaces do not count.
    """
    lines = [line.rstrip() for line in printed.splitlines()]
    position = 0
    for promised_line in promised.splitlines():
        wanted = promised_line.rstrip()
        if wanted == "...":
            continue
        prefix = wanted.removesuffix("...") if wanted.endswith("...") else None
        for index in range(position, len(lines)):
            line = lines[index]
            if line.startswith(prefix) if prefix is not None else line == wanted:
                position = index + 1
                break
        else:
            raise AssertionError(f"the README promises {wanted!r}; the output was:\n{printed}")
