"""`python -m authorizer_tools`: every command end to end, and one-line errors for bad input."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from authorizer.config.settings import SETTING_PREFIXES
from authorizer_tools.cli import main
from authorizer_tools.eventgen import KINDS
from tests import ROOT
from tests.ports import child_port
from tests.processes import run

AUDIENCE = "https://api.example.test"


class DevIssuerProcess:
    def __init__(self, state: Path, port: int) -> None:
        self.state, self.port = state, port
        self.issuer = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "authorizer_tools",
                "dev-issuer",
                "serve",
                "--state",
                str(state),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        self.banner = self.process.stdout.readline()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def dev_issuer(tmp_path: Path) -> Iterator[DevIssuerProcess]:
    running = DevIssuerProcess(tmp_path / "state", child_port())
    try:
        assert running.banner.startswith(f"dev issuer {running.issuer}"), running.banner
        yield running
    finally:
        running.stop()


def config(issuer: DevIssuerProcess, *extra: str) -> list[str]:
    return [
        "--template",
        str(ROOT / "template.yaml"),
        "--parameter",
        f"Issuer={issuer.issuer}",
        "--parameter",
        f"Audience={AUDIENCE}",
        *extra,
    ]


def mint(issuer: DevIssuerProcess, *extra: str) -> str:
    result = run("mint", "--state", str(issuer.state), *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def jwks_kids(issuer: DevIssuerProcess) -> set[str]:
    import urllib.request

    with urllib.request.urlopen(f"{issuer.issuer}/jwks", timeout=5) as response:  # noqa: S310
        return {key["kid"] for key in json.load(response)["keys"]}


# --- the whole loop ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_mint_event_invoke_allows_a_good_token(
    dev_issuer: DevIssuerProcess, tmp_path: Path, kind: str
) -> None:
    token = mint(dev_issuer, "--sub", "alice", "--scope", "read:orders", "--role", "admin")
    event_file = tmp_path / "event.json"
    made = run(
        "event",
        kind,
        "--token",
        token,
        "--method",
        "post",
        "--path",
        "/orders/7",
        "-o",
        str(event_file),
    )
    assert made.returncode == 0, made.stderr
    result = run("invoke", str(event_file), *config(dev_issuer))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ALLOW (200)  reason: allowed")
    assert '"sub": "alice"' in result.stdout
    assert '"roles": [\n    "admin"\n  ]' in result.stdout  # read back downstream, typed


def test_invoke_exit_codes_follow_api_gateway(dev_issuer: DevIssuerProcess, tmp_path: Path) -> None:
    cases = {
        "expired": (mint(dev_issuer, "--expires-in", "-3600"), [], 1, "expired"),
        "missing scope": (
            mint(dev_issuer, "--scope", "read"),
            ["--env", "JWT_REQUIRED_SCOPES=admin"],
            3,
            "insufficient_scope",
        ),
        "wrong audience": (
            mint(dev_issuer, "--aud", "https://other.example"),
            [],
            1,
            "wrong_audience",
        ),
    }
    for name, (token, extra, code, reason) in cases.items():
        event_file = tmp_path / "event.json"
        run("event", "rest_token", "--token", token, "-o", str(event_file))
        result = run("invoke", str(event_file), *config(dev_issuer, *extra))
        assert result.returncode == code, (name, result.stdout, result.stderr)
        assert f"reason: {reason}" in result.stdout, name


def test_invoke_applies_the_rules_file_named_by_the_template_parameter(
    dev_issuer: DevIssuerProcess, tmp_path: Path
) -> None:
    token = mint(dev_issuer, "--scope", "orders:read", "--role", "admin")
    roles = ("--parameter", "Provider=generic", "--parameter", "RolesClaims=roles")
    answers = {}
    for method, path in (("GET", "/orders/7"), ("DELETE", "/orders/7"), ("GET", "/nowhere")):
        event_file = tmp_path / "event.json"
        run("event", "rest_token", "--token", token, "--method", method, "--path", path,
            "-o", str(event_file))  # fmt: skip
        result = run(
            "invoke", str(event_file), *config(dev_issuer),
            "--parameter", "RulesFile=rules/example.toml", *roles,
        )  # fmt: skip
        answers[method, path] = (result.returncode, result.stdout.split("\n", 1)[0])
    assert answers == {
        ("GET", "/orders/7"): (0, "ALLOW (200)  reason: allowed"),
        # an admin, but the token has no auth_time: the step-up rule denies it
        ("DELETE", "/orders/7"): (3, "FORBIDDEN (403)  reason: authentication_too_old"),
        ("GET", "/nowhere"): (3, "FORBIDDEN (403)  reason: no_matching_route"),
    }


# A configuration whose issuer is a closed loopback port.
ISSUER_DOWN = [
    "--template",
    str(ROOT / "template.yaml"),
    "--parameter",
    "Issuer=http://127.0.0.1:9",
    "--parameter",
    f"Audience={AUDIENCE}",
]


def test_invoke_answers_500_when_the_issuer_is_down(tmp_path: Path) -> None:
    down = ISSUER_DOWN
    event_file = tmp_path / "event.json"
    header = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ"  # {"alg":"RS256","kid":"k"}: any kid will do
    run("event", "rest_token", "--token", f"{header}.e30.c2ln", "-o", str(event_file))
    result = run("invoke", str(event_file), *down)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "ERROR (500)  reason: jwks_unavailable" in result.stdout
    assert "issuer keys fetch failed" in result.stdout  # the handler's own warning


def test_rotation_publishes_a_new_key_to_the_running_issuer(dev_issuer: DevIssuerProcess) -> None:
    before = jwks_kids(dev_issuer)
    rotated = run("dev-issuer", "rotate", "--state", str(dev_issuer.state))
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split()[1]
    after = jwks_kids(dev_issuer)
    assert new_kid in after and new_kid not in before
    assert len(after) == len(before)  # the old RS256 key was withdrawn
    header = json.loads(_b64(mint(dev_issuer).split(".")[0]))
    assert header["kid"] == new_kid


def test_keys_are_kept_between_runs(tmp_path: Path) -> None:
    state, port = tmp_path / "state", child_port()
    first = DevIssuerProcess(state, port)
    first.stop()
    second = DevIssuerProcess(state, port)
    try:
        assert first.banner.split("keys:")[1] == second.banner.split("keys:")[1]
    finally:
        second.stop()


def test_doctor_passes_a_good_setup_and_explains_a_bad_token(dev_issuer: DevIssuerProcess) -> None:
    good = run("doctor", *config(dev_issuer, "--token", mint(dev_issuer)))
    assert good.returncode == 0, good.stdout + good.stderr
    for line in (
        "discovery reachable",
        "discovery names the same issuer",
        "usable signing key(s)",
        "RSA 2048 bits",
        "clock skew",
        "token: valid",
    ):
        assert line in good.stdout, line
    bad = run("doctor", *config(dev_issuer, "--token", mint(dev_issuer, "--aud", "x")))
    assert bad.returncode == 1
    assert "FAIL  token: refused (wrong_audience): its aud is 'x'" in bad.stdout
    es = run("doctor", *config(dev_issuer, "--token", mint(dev_issuer, "--alg", "ES256")))
    assert "its alg 'ES256' is not in JWT_ALGORITHMS (RS256)" in es.stdout


def test_doctor_lists_what_the_route_rules_make_of_a_token(dev_issuer: DevIssuerProcess) -> None:
    token = mint(dev_issuer, "--scope", "orders:read")
    result = run(
        "doctor", *config(dev_issuer, "--parameter", "RulesFile=rules/example.toml",
                          "--parameter", "RolesClaims=roles"),
        "--token", token,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "route rules: 4 rule(s)" in result.stdout
    assert "ok    token: valid for this configuration" in result.stdout
    assert "ok      GET /orders, GET /orders/{id}: allowed" in result.stdout
    assert "warn    POST /orders: denied (insufficient_scope:" in result.stdout
    assert "ok      any other route: denied (default = deny)" in result.stdout


def test_doctor_reports_an_unreachable_issuer() -> None:
    result = run("doctor", *ISSUER_DOWN)
    assert result.returncode == 1
    assert "FAIL  discovery: GET http://127.0.0.1:9/.well-known/openid-configuration failed" in (
        result.stdout
    )


# --- event and events ----------------------------------------------------------------------


def test_event_takes_headers_cookies_and_query(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "event",
                "http_v2",
                "--token",
                "t.t.t",
                "--header",
                "X-Trace=abc",
                "--cookie",
                "theme=dark",
                "--query",
                "page=2",
            ]
        )
        == 0
    )
    event = json.loads(capsys.readouterr().out)
    assert event["headers"]["x-trace"] == "abc"
    assert event["cookies"] == ["theme=dark"]
    assert event["queryStringParameters"] == {"page": "2"}
    assert event["headers"]["authorization"] == "Bearer t.t.t"
    assert main(["event", "websocket", "--query", "access_token=t.t.t"]) == 0
    ws = json.loads(capsys.readouterr().out)
    assert ws["queryStringParameters"] == {"access_token": "t.t.t"}
    assert "Authorization" not in ws["headers"]


def test_events_writes_positive_and_negative_samples(tmp_path: Path) -> None:
    assert main(["events", str(tmp_path), "--token", "x.y.z"]) == 0
    for kind in KINDS:
        assert "Bearer x.y.z" in (tmp_path / f"{kind}.json").read_text()
        for case in ("no-token", "wrong-scheme", "malformed"):
            assert (tmp_path / "negative" / f"{kind}-{case}.json").is_file()


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--nope"],
        ["frobnicate"],
        ["event"],
        ["event", "sqs"],
        ["event", "rest_token", "--header", "X=1"],
        ["event", "http_v2", "--header", "no-equals-sign"],
        ["event", "http_v2", "-o", "/nonexistent/dir/event.json"],
        ["mint", "--state", "/nonexistent/state"],
        ["mint", "--expires-in", "soon"],
        ["dev-issuer", "rotate", "--state", "/nonexistent/state"],
        ["invoke", "/nonexistent/event.json"],
        ["invoke", "README.md"],
        ["invoke", "events/http_v2.json", "--template", "/nonexistent/template.yaml"],
        ["invoke", "events/http_v2.json"],
        ["invoke", "events/http_v2.json", "--parameter", "Nope=1"],
        ["doctor", "--parameter", "Issuer=http://idp.example", "--parameter", "Audience=a"],
        ["doctor", "--token", "a.b.c", "--dpop", "p.r.f"],
        ["doctor", "--dpop", "p.r.f"],
        ["doctor", "--token", "a.b.c", "--certificate", "/nonexistent/cert.pem"],
        ["dpop"],
        ["dpop", "key", "--alg", "HS256"],
        ["dpop", "key", "-o", "/nonexistent/dir/key"],
        ["dpop", "proof", "--url", "https://x/y", "--key", "/nonexistent/key"],
        ["dpop", "proof", "--url", "https://x/y", "--key", "README.md"],
        ["dpop", "proof", "--key", "README.md"],
        ["mint", "--dpop-key", "/nonexistent/key"],
        ["invoke", "events/http_v2.json", "--parameter", "SenderConstraint=dpop"],
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode != 0
    output = (result.stderr or result.stdout).strip()
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 1, result.stderr
    assert output, args


def test_a_malformed_state_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "issuer.json").write_text("{not json")
    result = run("mint", "--state", str(tmp_path))
    assert result.returncode == 2
    assert "is not a dev issuer state file" in result.stderr


def test_a_busy_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(
            "dev-issuer", "serve", "--state", str(tmp_path), "--port", str(port), timeout=20
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_a_failed_start_leaves_the_recorded_port_and_every_tokens_issuer_alone(
    dev_issuer: DevIssuerProcess,
) -> None:
    dev_issuer.stop()
    issued_by = _issuer_of(run("mint", "--state", str(dev_issuer.state)).stdout.strip())
    assert issued_by == dev_issuer.issuer
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = str(busy.getsockname()[1])
        for port in ("99999", "0", "http", taken):
            failed = run("dev-issuer", "serve", "--state", str(dev_issuer.state), "--port", port)
            assert failed.returncode == 2, port
            assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
            minted = run("mint", "--state", str(dev_issuer.state)).stdout.strip()
            assert _issuer_of(minted) == dev_issuer.issuer, port


def _issuer_of(token: str) -> str:
    issuer = json.loads(_b64(token.split(".")[1]))["iss"]
    assert isinstance(issuer, str)
    return issuer


def test_every_command_and_option_has_help_and_there_is_a_version() -> None:
    from authorizer import __version__
    from authorizer_tools.cli import _build_parser

    parser = _build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == {
        "dev-issuer",
        "mint",
        "event",
        "events",
        "invoke",
        "doctor",
        "serve",
        "keys",
        "dpop",
    }

    def without_help(parser: argparse.ArgumentParser, name: str) -> Iterator[str]:
        for action in parser._actions:
            if not action.help:
                yield f"{name} {action.option_strings or action.dest}"
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    yield from without_help(subparser, f"{name} {sub}")

    assert list(without_help(parser, "authorizer_tools")) == []
    issuer = commands.choices["dev-issuer"]
    actions = next(a for a in issuer._actions if isinstance(a, argparse._SubParsersAction))
    assert set(actions.choices) == {"serve", "rotate"}
    result = run("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"authorizer_tools {__version__}")


def test_debug_shows_the_traceback_of_an_unexpected_error(tmp_path: Path) -> None:
    state = tmp_path / "issuer.json"
    state.write_text('{"port": 1, "keys": [{"kid": "k", "alg": "RS256", "pem": "not a key"}]}')
    quiet = run("mint", "--state", str(tmp_path))
    assert quiet.returncode != 0 and "Traceback" not in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1
    loud = run("--debug", "mint", "--state", str(tmp_path))
    assert loud.returncode != 0 and "Traceback (most recent call last)" in loud.stderr


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (
            ["dev-issuer"],
            "authorizer_tools dev-issuer: error: the following arguments are required",
        ),
        (["dev-issuer", "serve", "--keep-old"], "unrecognized arguments: --keep-old"),
        (["dev-issuer", "rotate", "--port", "1"], "unrecognized arguments: --port 1"),
        (["invoke"], "authorizer_tools invoke: error: the following arguments are required"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_a_usage_error_is_one_line_that_names_the_help_to_read(
    argv: list[str], wanted: str
) -> None:
    result = run(*argv)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert wanted in line
    command = line.split(": error:")[0]
    assert line.endswith(f"(try: {command} --help)")
    assert run(*command.split()[1:], "--help").returncode == 0


def test_a_dpop_key_binds_minted_tokens_and_signs_proofs_for_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from authorizer.binding.dpop import token_hash
    from authorizer_tools.dpopclient import DpopKey

    key_file = tmp_path / "client.key"
    assert main(["dpop", "key", "-o", str(key_file), "--alg", "EdDSA"]) == 0
    thumbprint = capsys.readouterr().out.split()[0]
    assert DpopKey.load(key_file).thumbprint == thumbprint
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    url = "https://api.example.com/v1/orders"
    assert main(["dpop", "proof", "--key", str(key_file), "--url", url, "--token", "t.t.t"]) == 0
    proof = capsys.readouterr().out.strip()
    header = json.loads(_b64decode(proof.split(".")[0]))
    claims = json.loads(_b64decode(proof.split(".")[1]))
    assert (header["typ"], header["alg"], header["jwk"]["kty"]) == ("dpop+jwt", "EdDSA", "OKP")
    assert (claims["htm"], claims["htu"], claims["ath"]) == ("GET", url, token_hash("t.t.t"))
    assert main(["event", "rest_request", "--token", "t.t.t", "--dpop", proof]) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["headers"]["Authorization"] == "DPoP t.t.t"
    assert event["multiValueHeaders"]["DPoP"] == [proof]


def _b64decode(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.parametrize(
    ("pasted", "said"),
    [
        ("Bearer {token}", "starts with its scheme 'Bearer': give the token alone"),
        ('"{token}"', "is in quotes"),
        ("{token} extra", "holds white space"),
        ("", "the token is empty"),
        ("abc.def", "has 2 dot-separated parts"),
        ("dGhpcyBpcyBhbiBvcGFxdWUgdG9rZW4", "an opaque access token: have its issuer introspect"),
    ],
)
def test_doctor_and_invoke_say_what_is_wrong_with_a_pasted_token(
    dev_issuer: DevIssuerProcess, tmp_path: Path, pasted: str, said: str
) -> None:
    token = pasted.format(token=mint(dev_issuer))
    event = tmp_path / "event.json"
    assert run("event", "rest_token", "--token", token, "-o", str(event)).returncode == 0
    invoked = run("invoke", str(event), *config(dev_issuer))
    assert invoked.returncode == 1, invoked.stderr  # 401
    lines = invoked.stdout.splitlines()
    assert lines[0].startswith("UNAUTHORIZED (401)")
    assert said in lines[1], invoked.stdout
    doctor = run("doctor", *config(dev_issuer), "--token", token)
    assert doctor.returncode == 1
    refused = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL  token:")]
    assert len(refused) == 1 and said in refused[0], doctor.stdout
    assert not refused[0].rstrip().endswith(":")  # never an empty explanation


def test_invoke_into_a_closed_pipe_exits_quietly(
    dev_issuer: DevIssuerProcess, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    assert run("event", "rest_token", "--token", mint(dev_issuer), "-o", str(event)).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    command = [sys.executable, "-m", "authorizer_tools", "invoke", str(event), *config(dev_issuer)]
    invoke = " ".join(f"'{part}'" for part in command)

    def piped(reader: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", f"{invoke} | {reader}"],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # `true` is gone before invoke has imported anything: its first line meets a closed pipe.
    closed = piped("true")
    assert (closed.returncode, closed.stderr) == (141, "")  # 128 + SIGPIPE, as other tools end
    # `head` may close it before or after invoke is done: quiet either way.
    first = piped("head -n 1")
    assert first.stdout == "ALLOW (200)  reason: allowed\n"
    assert first.stderr == "" and first.returncode in (0, 141)


@pytest.mark.parametrize(
    ("args", "route_key"),
    [
        (["--method", "DELETE", "--path", "/orders/7"], "DELETE /orders/{id}"),
        (["--path", "/orders/7"], "GET /orders/{id}"),
        (["--path", "/orders"], "GET /orders"),
        (["--path", "/nowhere"], "$default"),
        (["--path", "/orders/7", "--route-key", "ANY /orders/{id}"], "ANY /orders/{id}"),
    ],
)
def test_an_http_v2_event_carries_the_route_template_api_gateway_sends(
    args: list[str], route_key: str
) -> None:
    made = run("event", "http_v2", *args)
    assert made.returncode == 0, made.stderr
    event = json.loads(made.stdout)
    assert event["routeKey"] == event["requestContext"]["routeKey"] == route_key
    assert event["rawPath"] == "/prod" + args[args.index("--path") + 1]
