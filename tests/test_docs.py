"""The documentation's commands, run as written; its links, settings and reason codes, checked."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from authorizer.config.settings import KNOWN_VARIABLES, load_settings
from authorizer.errors import ConfigError
from authorizer_tools.cli import main
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from authorizer_tools.local import cfnyaml
from tests import ROOT, docs
from tests.conftest import FakeClock, build_authorizer, mint
from tests.docs import ALL, PAGES, README, assert_shows, fenced, section
from tests.ports import child_port

#: The README is the landing page: read in five minutes, the details on the docs/ pages.
MAX_README_LINES = 450


def walkthrough() -> str:
    match = re.search(
        r"<!-- walkthrough:.*?-->\n```sh\n(.*?)```\n<!-- /walkthrough -->", ALL, re.DOTALL
    )
    assert match, "the docs lost their walkthrough block"
    return match.group(1)


def test_the_quick_start_shows_the_two_commands_first() -> None:
    first = fenced(section("Quick start"), "sh")[0]
    assert "make demo" in first and "make test" in first


def test_the_readme_is_a_landing_page_that_links_every_docs_page() -> None:
    assert len(README.splitlines()) <= MAX_README_LINES
    pages = sorted(name for name in PAGES if name.startswith("docs/"))
    assert [page for page in pages if f"]({page})" not in README] == []


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_every_link_between_the_pages_reaches_a_file_and_its_heading() -> None:
    broken = []
    for name, text in PAGES.items():
        here = (ROOT / name).parent
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (here / path).resolve() if path else ROOT / name
            if not file.exists():
                broken.append(f"{name}: {target}")
            elif anchor and file.suffix == ".md":
                headings = re.findall(r"^#{1,6} (.+)$", file.read_text(encoding="utf-8"), re.M)
                if anchor not in {_slug(heading) for heading in headings}:
                    broken.append(f"{name}: {target}")
    assert broken == []


def test_every_setting_is_in_the_configuration_reference() -> None:
    reference = PAGES["docs/configuration.md"]
    assert sorted(name for name in KNOWN_VARIABLES if f"`{name}`" not in reference) == []


def test_every_reason_code_is_in_the_operations_reference() -> None:
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "authorizer").rglob("*.py")
    )
    codes = set(re.findall(r'reason(?::\s*str)?\s*=\s*"([a-z_]+)"', source))
    assert len(codes) > 25
    operations = PAGES["docs/operations.md"]
    assert sorted(code for code in codes if f"`{code}`" not in operations) == []


def run_example(script: str, tmp_path: Path) -> str:
    """Run a docs shell block in a fresh folder, its dev issuer on a free port; its output.

    ``tmp_path/bin`` leads the block's ``PATH``, which the runtimes it starts inherit:
    :func:`runtime_processes` tells them apart from other tests' by it.
    """
    port = str(child_port())
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JWT_", "JWKS_", "AUTHORIZER_", "POWERTOOLS_"))
    }
    env["PATH"] = os.pathsep.join(
        [str(tmp_path / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]
    )
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


def test_the_local_walkthrough_runs_as_written_and_prints_what_the_docs_show(
    tmp_path: Path,
) -> None:
    printed = run_example(walkthrough(), tmp_path)
    assert_shows(docs.output("walkthrough"), printed)
    assert (tmp_path / ".dev-issuer" / "issuer.json").is_file()


def test_the_dpop_example_runs_as_written_and_prints_what_the_docs_show(
    tmp_path: Path,
) -> None:
    assert_shows(docs.output("dpop"), run_example(docs.example("dpop"), tmp_path))


def test_the_route_rules_example_prints_what_the_docs_show(tmp_path: Path) -> None:
    assert_shows(docs.output("route-rules"), run_example(docs.example("route-rules"), tmp_path))


def test_the_walkthrough_uses_the_scopes_of_the_example_rules() -> None:
    rules = (ROOT / "rules" / "example.toml").read_text(encoding="utf-8")
    scripts = walkthrough() + docs.example("route-rules")
    for scope in re.findall(r'--scope "([^"]+)"', scripts):
        for name in scope.split():
            assert f'"{name}"' in rules, name


def test_every_make_target_in_the_docs_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in sorted(set(re.findall(r"`make ([A-Za-z0-9-]+)", ALL))):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target


def test_every_cli_command_in_the_docs_exists() -> None:
    commands = set(re.findall(r"python -m authorizer_tools ([a-z-]+)", ALL))
    commands |= {
        row.split()[0]
        for row in re.findall(r"^\| `([a-z-]+ [^`]*)` \|", ALL, re.M)
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


@pytest.mark.parametrize("title", ["Route rules", "Several issuers"])
def test_the_rules_files_in_the_docs_load(title: str, tmp_path: Path) -> None:
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


def test_every_provider_example_in_the_docs_is_a_valid_configuration() -> None:
    presets = ("Authgear", "Auth0", "Amazon Cognito", "Okta", "Keycloak", "Microsoft Entra ID")
    blocks = [block for title in presets for block in fenced(section(title), "sh")]
    assert len(blocks) >= len(presets)  # one at least; Cognito's replicated pool has its own
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
    quoted = re.search(r"\(`(AUTHORIZER_RULES \(rules/api\.toml\): route 3[^`]*)`\)", ALL)
    assert quoted, "the docs lost its example of a rules-file error"
    rules = tmp_path / "api.toml"
    rules.write_text(
        '[[route]]\nmatch = "GET /a"\n[[route]]\nmatch = "GET /b"\n'
        '[[route]]\nname = "refunds"\nmatch = "POST /refunds"\nscope = ["refunds"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings({"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": "api",
                       "AUTHORIZER_RULES": str(rules)})  # fmt: skip
    promised = " ".join(quoted.group(1).split())  # the page wraps it across lines
    assert str(caught.value) == promised.replace("rules/api.toml", str(rules))


def test_every_command_of_the_authgear_walkthrough_sets_the_authgear_preset() -> None:
    steps = section("From zero to a protected API with Authgear").split("\n\nWhat each")[0]
    commands = re.findall(r"`((?:python -m authorizer_tools|sam )[^`]*)`", steps)
    issuer_commands = [command for command in commands if "Issuer=" in command]
    assert len(issuer_commands) == 3
    for command in issuer_commands:
        assert "Provider=authgear" in command, command
    assert "Provider=authgear" in steps.split("4. Deploy")[1].split("\n5.")[0]


@pytest.mark.runtime_emulator
def test_the_serve_example_prints_what_the_docs_show(tmp_path: Path) -> None:
    script = docs.example("serve")
    rest = child_port(2)  # serve takes the port and the next one
    script = script.replace("3000", str(rest)).replace("3001", str(rest + 1))
    assert_shows(docs.output("serve"), run_example(script, tmp_path))
    deadline = time.monotonic() + 15
    while runtime_processes(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)  # serve stops its runtimes once killed
    assert not runtime_processes(tmp_path)  # `kill` left no runtime behind


def runtime_processes(started_in: Path) -> set[int]:
    """Runtime emulators an example in ``started_in`` started (its PATH marks them)."""
    marker = f"PATH={started_in / 'bin'}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
                environment = (
                    (entry / "environ").read_bytes() if b"aws-lambda-rie" in command else b""
                )
            except OSError:
                continue
            if marker in environment:
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


def test_the_downstream_snippet_reads_the_claims_the_authorizer_passed(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    (snippet,) = fenced(section("Reading the claims downstream"), "python")
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the page's own example, as a user would paste it
    authorizer = build_authorizer(issuer, clock)
    token = mint(issuer, clock, sub="alice", roles=["admin"])
    answer = authorizer.handle(make_event("http_v2", f"Bearer {token}"))
    event = {"requestContext": {"authorizer": {"lambda": answer["context"]}}}
    assert namespace["lambda_handler"](event, None) == {"statusCode": 200, "body": "alice"}


def test_the_attach_snippet_imports_what_the_template_exports() -> None:
    (snippet,) = fenced(PAGES["docs/deployment.md"], "yaml")
    resource = next(iter(cfnyaml.load(snippet).values()))
    assert resource["Type"] == "AWS::Lambda::Permission"
    imported = resource["Properties"]["FunctionName"]["Fn::ImportValue"]
    stack = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["global"]["parameters"]
    template = cfnyaml.load((ROOT / "template.yaml").read_text())
    exported = template["Outputs"]["AuthorizerFunctionArn"]["Export"]["Name"]["Fn::Sub"]
    assert imported == exported.replace("${AWS::StackName}", stack["stack_name"])


def test_the_log_line_in_the_operations_page_has_the_fields_a_deny_is_logged_with(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    (example,) = fenced(PAGES["docs/operations.md"], "json")
    shown = json.loads(example)
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_REQUIRED_SCOPES="orders:write")
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handle(make_event("rest_token", "Bearer nonsense"))
    authorizer.handle(make_event("rest_token", f"Bearer {mint(issuer, clock)}"))
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    denied = next(line for line in lines if line.get("decision") == "deny")
    assert denied["reason"] == shown["reason"] == "insufficient_scope"
    context_keys = {"cold_start", "function_request_id"}  # added per invocation by app.py
    assert sorted(set(shown) - set(denied) - context_keys) == []


def test_the_integration_challenge_snippet_refuses_a_tool_its_token_lacks_the_scope_for(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    (snippet,) = fenced(section("Challenges from the integration"), "python")
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the page's own example, as a user would paste it
    resource = "https://mcp.example.com/mcp"
    authorizer = build_authorizer(issuer, clock, JWT_AUDIENCE="", AUTHORIZER_RESOURCE=resource)

    def call(scope: str, tool: str) -> dict[str, Any]:
        token = mint(issuer, clock, aud=resource, scope=scope)
        decided = authorizer.handle(make_event("http_v2", f"Bearer {token}"))
        event = make_event("http_v2", f"Bearer {token}", method="POST", path="/mcp")
        event["requestContext"]["authorizer"] = {"lambda": decided["context"]}
        event["body"] = json.dumps({"method": "tools/call", "params": {"name": tool}})
        answer: dict[str, Any] = namespace["lambda_handler"](event, None)
        return answer

    refused = call("mcp:tools", "cancel_order")
    assert refused["statusCode"] == 403
    assert refused["headers"]["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="mcp:tools orders:admin", resource_metadata='
        f'"{resource}/.well-known/oauth-protected-resource"'
    )
    assert call("mcp:tools orders:admin", "cancel_order")["statusCode"] == 200
    assert call("mcp:tools", "list_orders")["statusCode"] == 200
