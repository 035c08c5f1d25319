"""The documentation's pages, their runnable examples and the output they promise.

The pages are the README, CONTRIBUTING.md and every page under ``docs/``. A
block marked ``<!-- example: NAME ... -->`` is a shell script the tests run as
written; one marked ``<!-- output: NAME -->`` is what the page says running it
prints. :func:`assert_shows` holds the output to that promise. Names and
section titles are unique across the pages, so a test need not know which page
holds what: moving a section between pages moves nothing here.
"""

from __future__ import annotations

import re

from tests import ROOT

PAGES = {
    path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
    for path in [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]
}
README = PAGES["README.md"]
#: Every page, one after the other: for what must hold wherever it is written.
ALL = "\n".join(PAGES.values())


def example(name: str) -> str:
    """The shell block marked ``<!-- example: name ... -->``, on whichever page holds it."""
    match = re.search(rf"<!-- example: {re.escape(name)}\b[^>]*-->\n```sh\n(.*?)```", ALL, re.S)
    assert match, f"the docs lost their {name} example"
    return match.group(1)


def output(name: str) -> str:
    """The text block marked ``<!-- output: name -->``."""
    match = re.search(rf"<!-- output: {re.escape(name)} -->\n```text\n(.*?)```", ALL, re.S)
    assert match, f"the docs lost the output of their {name} example"
    return match.group(1)


def section(title: str) -> str:
    """The section headed ``title`` (a page's title counts), up to the next heading at its level."""
    for text in PAGES.values():
        match = re.search(rf"^(#{{1,3}}) {re.escape(title)}\n", text, re.M)
        if match:
            level = len(match.group(1))
            after = re.search(rf"^#{{1,{level}}} ", text[match.end() :], re.M)
            return text[match.start() : match.end() + after.start() if after else len(text)]
    raise AssertionError(f"no page has a section {title!r}")


def fenced(text: str, language: str) -> list[str]:
    """The bodies of the ``language`` code blocks in ``text``."""
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


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
            raise AssertionError(f"the docs promise {wanted!r}; the output was:\n{printed}")
