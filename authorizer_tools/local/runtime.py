"""The built artifact in AWS's Lambda runtime, on this machine, without a container.

:class:`LambdaRuntime` runs one function the way the Lambda Python runtime does:
AWS's Runtime Interface Emulator (shipped in the pinned ``aws-sam-cli`` package)
starts ``python3.13 -m awslambdaric <handler>`` (the runtime interface client of
AWS's Python images) with the artifact as working directory and on the path,
and serves the Lambda invoke API on a loopback port. :func:`build_artifact`
builds, or reuses while its sources are unchanged, the host-platform artifact
with the Makefile's own build target (the one ``sam build`` runs).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

from .artifact import host_architecture, platform_flags

CHECKOUT = Path(__file__).resolve().parents[2]  # authorizer_tools/local/runtime.py
LOCAL = CHECKOUT / ".aws-sam" / "local"
RUNTIME_VENV = CHECKOUT / ".venv-runtime"
LAMBDA_PYTHON = "3.13"

#: What each function's artifact is built from: a change to any of these rebuilds it.
SOURCES: Mapping[str, tuple[str, ...]] = {
    "AuthorizerFunction": ("authorizer", "rules", "requirements.txt", "Makefile"),
    "WhoAmIFunction": ("authorizer/__init__.py", "authorizer/claims.py", "examples/whoami"),
    "ResourceMetadataFunction": ("authorizer", "rules", "requirements.txt", "Makefile"),
}
HANDLERS: Mapping[str, str] = {
    "AuthorizerFunction": "authorizer.app.lambda_handler",
    "WhoAmIFunction": "whoami.lambda_handler",
    "ResourceMetadataFunction": "authorizer.wellknown.lambda_handler",
}
_PLATFORM_LINE = re.compile(r"^(START|END|REPORT) RequestId: |^\d\d \w{3} \d{4} [\d:,]+ \[\w+\] \(")
_INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: ([\d.]+)\)")
_REPORT = re.compile(
    r"^REPORT RequestId: (\S+)\s+(?:Init Duration: [\d.]+ ms\s+)?Duration: ([\d.]+) ms"
)


class RuntimeFailure(Exception):
    """The runtime could not be set up or reached; the message is one line saying what to do."""


# --- what it needs ----------------------------------------------------------------


def emulator() -> Path:
    """The Runtime Interface Emulator for this machine, from the pinned SAM CLI (``make sam``)."""
    machine = host_architecture()
    if machine is None:
        raise RuntimeFailure(f"no Runtime Interface Emulator for {platform.machine()} machines")
    found = sorted(
        CHECKOUT.glob(
            f".venv-sam/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-{machine}"
        )
    )
    if not found:
        raise RuntimeFailure(
            "the Runtime Interface Emulator comes with SAM CLI: run `make sam` first"
        )
    return found[-1]


def find_python(explicit: str | None = None) -> str:
    """A Python 3.13, the Lambda runtime's: ``explicit``, ``$PY313``, pyenv's, or on PATH."""
    candidates = [explicit] if explicit else []
    candidates.append(os.environ.get("PY313", ""))
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        pyenv = subprocess.run(
            ["pyenv", "which", "python3"],
            env={**os.environ, "PYENV_VERSION": f"{LAMBDA_PYTHON}.0"},
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        candidates.append(pyenv.stdout.strip())
    candidates.append(f"python{LAMBDA_PYTHON}")
    for candidate in filter(None, candidates):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if probe.stdout.strip() == LAMBDA_PYTHON:
                return candidate
        if explicit:
            break
    raise RuntimeFailure(
        f"no Python {LAMBDA_PYTHON} found (the Lambda runtime's version):"
        f" pass --python /path/to/python{LAMBDA_PYTHON}, or set PY313"
    )


def runtime_python(python: str) -> Path:
    """The interpreter of ``.venv-runtime`` (Python 3.13 with ``awslambdaric``), made if missing."""
    # make rebuilds it only when requirements-runtime.txt changed: a no-op otherwise.
    with _exclusive("runtime-venv"):
        _run(["make", "--no-print-directory", "runtime", f"PY313={python}"], "the runtime venv")
    return RUNTIME_VENV / "bin" / "python"


@contextlib.contextmanager
def _exclusive(name: str) -> Iterator[None]:
    """Held by one process at a time (two `serve`s, or the test suite's workers, at once)."""
    LOCAL.mkdir(parents=True, exist_ok=True)
    with (LOCAL / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def build_artifact(function: str) -> Path:
    """The host-platform artifact of ``function``, built by the Makefile, reused while unchanged.

    One build at a time per function, across processes: the others wait for it and then
    reuse what it built.
    """
    if function not in SOURCES:
        raise RuntimeFailure(f"no such function in the template: {function}")
    target = LOCAL / function
    stamp = LOCAL / f"{function}.source"
    with _exclusive(function):
        digest = _digest([CHECKOUT / path for path in SOURCES[function]])
        if stamp.is_file() and stamp.read_text() == digest and target.is_dir():
            return target
        tags = platform_flags(host_architecture() or "arm64")
        stamp.unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        _run(
            ["make", "--no-print-directory", f"build-{function}", f"ARTIFACTS_DIR={target}",
             f"LAMBDA_PLATFORM={tags}"],
            f"the {function} artifact",
        )  # fmt: skip
        stamp.write_text(digest)
    return target


def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            sha.update(str(file.relative_to(CHECKOUT)).encode() + b"\0" + file.read_bytes())
    return sha.hexdigest()


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, cwd=CHECKOUT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [
            line for line in (done.stderr + done.stdout).splitlines()
            if line.strip() and not line.startswith("WARNING: ")
        ]  # fmt: skip
        last = lines[-1] if lines else f"exit status {done.returncode}"
        raise RuntimeFailure(f"building {what} failed: {last}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- one function in the runtime --------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """One invoke: what the handler returned or raised, the runtime's figures and log lines."""

    payload: Any
    error_type: str | None = None  # set when the handler raised (payload is then the error)
    error_message: str | None = None
    duration_ms: float | None = None
    init_ms: float | None = None  # this invoke started the runtime (a cold start)
    logs: list[str] = field(default_factory=list)  # the function's own lines
    platform_lines: list[str] = field(default_factory=list)  # START, END, REPORT, INIT ...

    def decision(self) -> dict[str, Any]:
        """The authorizer's decision line of this invoke (``{}`` when it wrote none)."""
        for line in self.logs:
            if '"authorization decision"' in line:
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict):
                        return record
        return {}


class LambdaRuntime:
    """One function, in the emulator and the runtime client, on a loopback port.

    The emulator starts the runtime at the first invoke (its init), as Lambda
    does for an on-demand cold start; :meth:`invoke` is safe from several threads,
    one invoke at a time, as one Lambda execution environment takes them.
    """

    def __init__(
        self,
        function: str,
        artifact: Path,
        environment: Mapping[str, str],
        *,
        python: Path,
        port: int | None = None,
        handler: str | None = None,
    ) -> None:
        """``handler`` overrides the function's own (``module.function`` on the path)."""
        self.function = function
        self.port = port or free_port()
        self._command = [
            str(emulator()),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            # The Runtime API the runtime client talks to: its own port, so that
            # several functions can run side by side (the default is 9001 for all).
            "--runtime-api-address",
            f"127.0.0.1:{free_port()}",
            str(python),
            "-m",
            "awslambdaric",
            handler or HANDLERS[function],
        ]
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only where HOME is unset
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(artifact),
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_REGION": "us-east-1",
            **environment,
        }
        self._artifact = artifact
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def peak_rss_kib(self) -> int | None:
        """The runtime client's peak resident memory (VmHWM), once its init has run; Linux only."""
        if self.pid is None:
            return None
        for children in Path(f"/proc/{self.pid}/task").glob("*/children"):
            for child in children.read_text().split():
                with contextlib.suppress(OSError):
                    status = Path(f"/proc/{child}/status").read_text()
                    if "python" in Path(f"/proc/{child}/comm").read_text():
                        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
                        return int(match[1]) if match else None
        return None

    def start(self) -> LambdaRuntime:
        """Start the emulator; a port taken meanwhile by another process gets two more tries."""
        for attempt in range(3):
            try:
                return self._start()
            except RuntimeFailure:
                if attempt == 2:
                    raise
                self.port = free_port()
                self._command[self._command.index("--runtime-api-address") + 1] = (
                    f"127.0.0.1:{free_port()}"
                )
                address = self._command.index("--runtime-interface-emulator-address") + 1
                self._command[address] = f"127.0.0.1:{self.port}"
        raise RuntimeFailure(f"the emulator for {self.function} did not start")

    def _start(self) -> LambdaRuntime:
        self._process = subprocess.Popen(
            self._command,
            cwd=self._artifact,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="backslashreplace",
            start_new_session=True,  # its own process group: stop() ends the runtime too
        )
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"{self.function}-log")
        self._reader.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                lines = self._drain()
                why = next((line for line in lines if "panic" in line or "error" in line), None)
                raise RuntimeFailure(
                    f"the emulator for {self.function} exited at start: {why or lines[-1:]}"
                )
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeFailure(f"the emulator for {self.function} did not listen on {self.port}")

    def _answers(self) -> bool:
        """True once the emulator answers HTTP on its port (not merely something listening)."""
        try:
            self._http.request("GET", f"http://127.0.0.1:{self.port}/", timeout=0.3)
        except urllib3.exceptions.HTTPError:
            return False
        return True

    def invoke(self, event: Any) -> Invocation:
        """Send ``event`` to the function; return its result, figures and log lines."""
        with self._lock:
            self._drain()  # lines left by an earlier invoke's tail
            try:
                response = self._http.request(
                    "POST",
                    f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
                    body=json.dumps(event).encode(),
                    headers={"Content-Type": "application/json"},
                )
            except urllib3.exceptions.HTTPError as exc:
                raise RuntimeFailure(f"{self.function} did not answer: {exc}") from None
            lines = self._until_report()
        try:
            payload = json.loads(response.data or b"null")
        except ValueError:
            payload = response.data.decode("utf-8", "backslashreplace")
        error = isinstance(payload, dict) and "errorMessage" in payload and "errorType" in payload
        platform_lines = [line for line in lines if _PLATFORM_LINE.search(line)]
        logs = [line for line in lines if not _PLATFORM_LINE.search(line)]
        init = next((float(m[1]) for m in map(_INIT_REPORT.search, platform_lines) if m), None)
        report = next((m for m in map(_REPORT.search, platform_lines) if m), None)
        return Invocation(
            payload=payload,
            error_type=str(payload["errorType"]) if error else None,
            error_message=str(payload["errorMessage"]) if error else None,
            duration_ms=float(report[2]) if report else None,
            init_ms=init,
            logs=logs,
            platform_lines=platform_lines,
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)  # it ends at the output's end, the process gone
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> LambdaRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        for line in process.stdout:
            self._lines.put(line.rstrip("\n"))

    def _drain(self) -> list[str]:
        lines = []
        with contextlib.suppress(queue.Empty):
            while True:
                lines.append(self._lines.get_nowait())
        return lines

    def _until_report(self, wait: float = 3.0) -> list[str]:
        """The lines of the invoke just answered, up to its REPORT line."""
        lines: list[str] = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            lines.append(line)
            if line.startswith("REPORT RequestId: "):
                break
        return lines


@contextlib.contextmanager
def running(
    function: str, environment: Mapping[str, str], *, python: str | None = None
) -> Iterator[LambdaRuntime]:
    """``function``'s artifact (built or reused) in the runtime, for the ``with`` block."""
    interpreter = runtime_python(find_python(python))
    with LambdaRuntime(
        function, build_artifact(function), environment, python=interpreter
    ) as runtime:
        yield runtime
