"""The README's commands, run as written."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer_tools.cli import main
from tests import readme
from tests.readme import assert_shows

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def walkthrough() -> str:
    match = re.search(
        r"<!-- walkthrough:.*?-->\n```sh\n(.*?)```\n<!-- /walkthrough -->", README, re.DOTALL
    )
    assert match, "the README lost its walkthrough block"
    return match.group(1)


def test_the_quick_start_shows_the_two_commands_first() -> None:
    head = "\n".join(README.splitlines()[:40])
    assert "make demo" in head and "make test" in head


def run_example(script: str, tmp_path: Path) -> str:
    """Run a README shell block in a fresh folder, its dev issuer on a free port; its output."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JWT_", "JWKS_", "AUTHORIZER_", "POWERTOOLS_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    # Whatever happens, the block's background dev issuer does not outlive it.
    cleanup = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", cleanup + script.replace("8765", port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    return printed


def test_the_local_walkthrough_runs_as_written_and_prints_what_the_readme_shows(
    tmp_path: Path,
) -> None:
    printed = run_example(walkthrough(), tmp_path)
    assert_shows(readme.output("walkthrough"), printed)
    assert (tmp_path / ".dev-issuer" / "issuer.json").is_file()


def test_the_dpop_example_runs_as_written_and_prints_what_the_readme_shows(
    tmp_path: Path,
) -> None:
    assert_shows(readme.output("dpop"), run_example(readme.example("dpop"), tmp_path))


def test_the_route_rules_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    assert_shows(readme.output("route-rules"), run_example(readme.example("route-rules"), tmp_path))


def test_the_walkthrough_uses_the_scopes_of_the_example_rules() -> None:
    rules = (ROOT / "rules" / "example.toml").read_text(encoding="utf-8")
    scripts = walkthrough() + readme.example("route-rules")
    for scope in re.findall(r'--scope "([^"]+)"', scripts):
        for name in scope.split():
            assert f'"{name}"' in rules, name


def test_every_make_target_in_the_readme_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in sorted(set(re.findall(r"`make ([A-Za-z0-9-]+)", README))):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target


def test_every_cli_command_in_the_readme_exists() -> None:
    commands = set(re.findall(r"python -m authorizer_tools ([a-z-]+)", README))
    commands |= {
        row.split()[0]
        for row in re.findall(r"^\| `([a-z-]+ [^`]*)` \|", README, re.M)
        if row.split()[0] in ("dev-issuer", "mint", "event", "events", "invoke", "doctor")
    }
    assert len(commands) >= 6
    for command in sorted(commands):
        with pytest.raises(SystemExit) as finished:
            main([command, "--help"])
        assert finished.value.code == 0, command


def test_make_events_with_a_real_token_writes_events_local() -> None:
    local = ROOT / "events" / "local"
    shutil.rmtree(local, ignore_errors=True)
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "events",
            "TOKEN=aaa.bbb.ccc",
            f"BIN={Path(sys.executable).parent}",
            f"STAMP={ROOT / 'pyproject.toml'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert "Bearer aaa.bbb.ccc" in (local / "http_v2.json").read_text()
        assert (local / "negative" / "websocket-no-token.json").is_file()
    finally:
        shutil.rmtree(local, ignore_errors=True)


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize("title", ["Route rules", "Several issuers"])
def test_the_rules_files_in_the_readme_load(title: str, tmp_path: Path) -> None:
    (block,) = fenced(section(title), "toml")
    path = tmp_path / "rules.toml"
    path.write_text(block)
    env = {"AUTHORIZER_RULES": str(path)}
    if "[[issuer]]" not in block:
        env.update(
            JWT_ISSUER="https://issuer.example", JWT_AUDIENCE="api", AUTHORIZER_ROLES_CLAIMS="roles"
        )
    settings = load_settings(env)
    assert settings.route_rules is not None or len(settings.issuers) == 2


PLACEHOLDERS = {
    "<tenant id>": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "<application (client) id>": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
}


def test_every_provider_example_in_the_readme_is_a_valid_configuration() -> None:
    blocks = fenced(section("Identity providers"), "sh")
    assert len(blocks) == 6
    for block in blocks:
        text = block
        for placeholder, value in PLACEHOLDERS.items():
            text = text.replace(placeholder, value)
        env = dict(
            line.split("#")[0].strip().split("=", 1)
            for line in text.splitlines()
            if line.strip() and not line.startswith("AUTHORIZER_RULES=")
        )
        settings = load_settings(env)
        assert settings.issuers[0].provider == env["JWT_PROVIDER"]


def test_the_rules_error_the_readme_quotes_is_the_one_printed(tmp_path: Path) -> None:
    quoted = re.search(r"\(`(AUTHORIZER_RULES \(rules/api\.toml\): route 3[^`]*)`\)", README)
    assert quoted, "the README lost its example of a rules-file error"
    rules = tmp_path / "api.toml"
    rules.write_text(
        '[[route]]\nmatch = "GET /a"\n[[route]]\nmatch = "GET /b"\n'
        '[[route]]\nname = "refunds"\nmatch = "POST /refunds"\nscope = ["refunds"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings({"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": "api",
                       "AUTHORIZER_RULES": str(rules)})  # fmt: skip
    promised = " ".join(quoted.group(1).split())  # the README wraps it across lines
    assert str(caught.value) == promised.replace("rules/api.toml", str(rules))


def test_every_command_of_the_authgear_walkthrough_sets_the_authgear_preset() -> None:
    steps = section("From zero to a protected API with Authgear").split("\n\nWhat each")[0]
    commands = re.findall(r"`((?:python -m authorizer_tools|sam )[^`]*)`", steps)
    issuer_commands = [command for command in commands if "Issuer=" in command]
    assert len(issuer_commands) == 3
    for command in issuer_commands:
        assert "Provider=authgear" in command, command
    assert "Provider=authgear" in steps.split("4. Deploy")[1].split("\n5.")[0]


def test_the_serve_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    script = readme.example("serve")
    rest = _two_free_ports()
    script = script.replace("3000", str(rest)).replace("3001", str(rest + 1))
    before = runtime_processes()
    assert_shows(readme.output("serve"), run_example(script, tmp_path))
    deadline = time.monotonic() + 15
    while runtime_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)  # serve stops its runtimes once killed
    assert not runtime_processes() - before  # `kill` left no runtime behind


def _two_free_ports() -> int:
    """A port such that it and the next one are free (serve takes both); tries until one is."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            try:
                second.bind(("127.0.0.1", first.getsockname()[1] + 1))
            except OSError:
                continue  # the next port is taken: pick another pair
            port: int = first.getsockname()[1]
            return port
    raise AssertionError("no two consecutive free ports on loopback")


def runtime_processes() -> set[int]:
    """Processes running this checkout's Lambda runtime emulator."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"aws-lambda-rie" in command and str(ROOT).encode() in command:
                found.add(int(entry.name))
    return found


def test_the_quick_start_names_what_a_fresh_machine_needs_and_deploys_with_a_profile() -> None:
    """Python 3.13 (the demo's last step), a supported Node.js, the disk; no --guided trap."""
    quick = section("Quick start")
    assert "Python 3.13" in quick and "Node.js 22 or 24" in quick and "GB" in quick
    assert "sam build && sam deploy --config-env dev" in quick
    with (ROOT / "samconfig.toml").open("rb") as file:
        profiles = tomllib.load(file)
    assert {"dev", "prod"} <= set(profiles)
    assert "--guided" not in quick.replace("`sam deploy --guided` works too", "")
