"""`make package` and `make layer`: the deployment zips a user can take without the repository.

    python -m authorizer_tools.package {function,layer} --out DIR [--arch arm64 x86_64]

Each zip is built by the Makefile target ``sam build`` runs (the pinned wheels
for the architecture, the ``authorizer`` package and ``rules/``, bytecode
compiled by Python 3.13 with the paths Lambda will run it from), checked by
:mod:`authorizer_tools.local.artifact`, and written reproducibly (entries sorted,
fixed timestamps and modes, a fixed hash seed for the bytecode), with a
``.sha256`` file beside it in ``sha256sum`` format. The function zip has the
handler ``authorizer.app.lambda_handler`` at its root; the layer holds the same
tree under ``python/`` (Lambda puts it on the path), for functions that read the
claims (``authorizer.claims``) or verify tokens themselves.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from authorizer import __version__

from .local.artifact import ARCHITECTURES, build, platform_flags, problems

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can record: the same bytes every build


def package(kind: str, arch: str, out: Path) -> Path:
    """Build, check and zip one artifact; return the zip's path."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder, "tree")
        root = tree / "python" if kind == "layer" else tree
        root.mkdir(parents=True)
        code_root = "/opt/python" if kind == "layer" else "/var/task"  # where Lambda puts it
        build(root, LAMBDA_PLATFORM=platform_flags(arch), LAMBDA_CODE_ROOT=code_root)
        found = problems(root)
        if not any(root.glob("authorizer/__pycache__/*.cpython-313.pyc")):
            found.append("no bytecode for Python 3.13: make package PY313=/path/to/python3.13")
        if found:
            raise SystemExit(f"package: the {kind} for {arch}: {'; '.join(found)}")
        name = "apigw-oidc-authorizer" + ("-layer" if kind == "layer" else "")
        target = out / f"{name}-{__version__}-{arch}.zip"
        out.mkdir(parents=True, exist_ok=True)
        _zip(tree, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    target.with_name(target.name + ".sha256").write_text(f"{digest}  {target.name}\n")
    return target


def _zip(tree: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), date_time=_EPOCH)
            executable = path.stat().st_mode & 0o111
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m authorizer_tools.package", description=__doc__)
    parser.add_argument("kind", choices=["function", "layer"], help="the function zip, or a layer")
    parser.add_argument("--out", type=Path, default=Path("dist"), help="the folder (default dist)")
    parser.add_argument(
        "--arch", nargs="+", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES),
        help="architectures (default: both)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for arch in args.arch:
        target = package(args.kind, arch, args.out)
        print(f"{target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
