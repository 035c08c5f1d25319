"""The MCP server's Lambda artifact: ``server.py``, the locked SDK and the claims reader.

Built into ``.aws-sam/local/McpFunction`` from ``requirements-mcp.txt`` (hash-checked
wheels for Python 3.13 on this machine's architecture) and rebuilt only when the lock
or the server changes; one build at a time across the suite's workers.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from authorizer_tools.local.artifact import host_architecture, platform_flags
from authorizer_tools.local.runtime import LOCAL, _exclusive
from tests import ROOT

HERE = Path(__file__).resolve().parent
FUNCTION = "McpFunction"
HANDLER = "server.lambda_handler"
LOCK = ROOT / "requirements-mcp.txt"
READER = (ROOT / "authorizer" / "__init__.py", ROOT / "authorizer" / "claims.py")


def mcp_server_artifact() -> Path:
    """The artifact folder, built if the lock or the server changed since the last build."""
    target, stamp = LOCAL / FUNCTION, LOCAL / f"{FUNCTION}.source"
    sources = [LOCK, HERE / "server.py", *READER]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    with _exclusive(FUNCTION):
        if stamp.is_file() and stamp.read_text() == digest and target.is_dir():
            return target
        stamp.unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        flags = platform_flags(host_architecture() or "x86_64").split()
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--require-hashes", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
             "--python-version", "3.13", *flags, "--target", str(target), "-r", str(LOCK)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        shutil.copy(HERE / "server.py", target / "server.py")
        (target / "authorizer").mkdir()
        for path in READER:  # the claims reader, as the claims layer ships it
            shutil.copy(path, target / "authorizer" / path.name)
        stamp.write_text(digest)
    return target
