"""`make release`: the manifest of a release folder: SHA-256 sums and a software bill of materials.

    python -m authorizer_tools.release release/0.1.0

``make release`` first builds every artefact of the version into the folder (the function
zips and layers for both architectures, the wheel and the sdist); this writes beside them
``SHA256SUMS`` (``sha256sum --check`` format, every file but itself and the per-zip
``.sha256`` files) and ``sbom.cdx.json``, a CycloneDX 1.5 bill of materials: the project and
the pinned runtime packages the zips carry, each with its version, package URL and the
hashes ``requirements.txt`` pins.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from authorizer import __version__

ROOT = Path(__file__).resolve().parent.parent
SUMS = "SHA256SUMS"
SBOM = "sbom.cdx.json"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pinned(requirements: str) -> list[dict[str, Any]]:
    """Each ``name==version`` of a hash-pinned requirements file, with its SHA-256 hashes."""
    packages: list[dict[str, Any]] = []
    for line in requirements.splitlines():
        match = _PIN.match(line)
        if match:
            packages.append({"name": match[1].lower(), "version": match[2], "hashes": []})
        elif packages and "--hash=sha256:" in line:
            packages[-1]["hashes"].append(line.split("--hash=sha256:")[1].split()[0])
    return packages


def bill_of_materials(requirements: str) -> dict[str, Any]:
    """The CycloneDX document for this version and its pinned runtime packages."""
    components = [
        {
            "type": "library",
            "name": package["name"],
            "version": package["version"],
            "purl": f"pkg:pypi/{package['name']}@{package['version']}",
            "hashes": [{"alg": "SHA-256", "content": digest} for digest in package["hashes"]],
        }
        for package in pinned(requirements)
    ]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "name": "apigw-oidc-authorizer",
                "version": __version__,
                "purl": f"pkg:pypi/apigw-oidc-authorizer@{__version__}",
                "licenses": [{"license": {"id": "Apache-2.0"}}],
            }
        },
        "components": components,
    }


def write_manifest(folder: Path) -> list[str]:
    """Write SHA256SUMS and the bill of materials into ``folder``; return what was summed."""
    (folder / SBOM).write_text(
        json.dumps(bill_of_materials((ROOT / "requirements.txt").read_text()), indent=1) + "\n"
    )
    names = sorted(
        path.name
        for path in folder.iterdir()
        if path.is_file() and path.name != SUMS and not path.name.endswith(".sha256")
    )
    lines = [f"{_sha256(folder / name)}  {name}" for name in names]
    (folder / SUMS).write_text("\n".join(lines) + "\n")
    return names


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m authorizer_tools.release FOLDER (it must exist)", file=sys.stderr)
        return 2
    for name in write_manifest(Path(args[0])):
        print(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
