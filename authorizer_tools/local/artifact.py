"""Build and check the Lambda artifact: only the authorizer and its runtime dependencies.

    python -m authorizer_tools.local.artifact .aws-sam/build/AuthorizerFunction

Exits non-zero with one line per problem. Used by ``make sam-build``
and the tests.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # authorizer_tools/local/artifact.py

#: Top-level names the artifact must hold (import names of the runtime dependencies).
REQUIRED = (
    "authorizer",
    "rules",
    "jwt",
    "cryptography",
    "urllib3",
    "aws_lambda_powertools",
    "cffi",
)
#: Names that must never ship: dev tools, test code, and what the issue rules out.
FORBIDDEN = (
    "tests",
    "authorizer_tools",
    "benchmarks",
    "events",
    "examples",
    "boto3",
    "botocore",
    "aws_xray_sdk",
    "pytest",
    "hypothesis",
    "mypy",
    "ruff",
    "cfnlint",
    "samcli",
    "pip",
    "setuptools",
    "template.yaml",
    "samconfig.toml",
    "Makefile",
    ".venv",
    ".git",
)


#: Lambda's architectures, and the machine names their wheels are tagged with.
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
_HOST_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def host_architecture() -> str | None:
    """This machine's Lambda architecture (``arm64`` or ``x86_64``), or ``None`` for another."""
    return _HOST_MACHINES.get(platform.machine().lower())


def platform_flags(architecture: str) -> str:
    """pip's ``--platform`` flags for the wheels of ``architecture`` (``LAMBDA_PLATFORM``)."""
    machine = ARCHITECTURES[architecture]
    tags = (f"manylinux_2_34_{machine}", f"manylinux_2_28_{machine}", f"manylinux2014_{machine}")
    return " ".join(f"--platform {tag}" for tag in tags)


def build(target: Path, **variables: str) -> None:
    """Run the Makefile target ``sam build`` runs, into ``target``.

    ``variables`` override Makefile variables (``LAMBDA_PYTHON``, ``LAMBDA_PLATFORM``,
    ``LAMBDA_COMPILER``), e.g. to build for this machine's Python instead of Lambda's.
    """
    overrides = [f"{name}={value}" for name, value in variables.items()]
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "build-AuthorizerFunction",
            f"ARTIFACTS_DIR={target}",
            f"PYTHON={sys.executable}",
            *overrides,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )


def problems(artifact: Path, tag: str = "cpython-313") -> list[str]:
    """Everything wrong with ``artifact`` (empty when it is fine).

    ``tag`` is the bytecode tag of the target runtime: compiled files for any
    other interpreter would be dead weight, never loaded by Lambda.
    """
    if not artifact.is_dir():
        return [f"{artifact} is not a directory"]
    names = {entry.name for entry in artifact.iterdir()}
    found = []
    found += [f"missing {name}" for name in REQUIRED if name not in names]
    found += [f"must not contain {name}" for name in FORBIDDEN if name in names]
    if not (artifact / "authorizer" / "app.py").is_file():
        found.append("missing authorizer/app.py (the Handler authorizer.app.lambda_handler)")
    foreign = [str(path) for path in artifact.rglob("*.pyc") if f".{tag}." not in path.name]
    if foreign:
        found.append(f"contains bytecode for another Python than {tag}, e.g. {foreign[0]}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m authorizer_tools.local.artifact ARTIFACT_DIR", file=sys.stderr)
        return 2
    artifact = Path(argv[0])
    found = problems(artifact)
    for problem in found:
        print(f"artifact {artifact}: {problem}", file=sys.stderr)
    if not found:
        size = sum(path.stat().st_size for path in artifact.rglob("*") if path.is_file())
        print(f"artifact {artifact}: ok ({size / 1e6:.1f} MB unzipped)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
