"""`python -m authorizer_tools`: the local loop, from a token to a decision, without AWS.

    dev-issuer serve [--port N] [--algorithms A,B]     serve a local OpenID issuer
    dev-issuer rotate [--algorithm ALG] [--keep-old]   publish a new key
    mint [--sub S] [--scope "a b"] [--role R] ...       print a token from the dev issuer
    dpop key [-o FILE] | dpop proof --key FILE ...      a DPoP client's key and its proofs
    event KIND --token T [--method M] [--path P] ...    write an authorizer event
    events DIR [--token T]                              write every sample event
    invoke EVENT_FILE [--parameter N=V] [--env N=V]     run the real handler on an event
    doctor [--parameter N=V] [--env N=V] [--token T]    check a configuration against its issuer
    keys pin [--parameter N=V] [--env N=V] [--out F]   bundle the issuers' key sets

Every error is one line on stderr and a non-zero exit: 2 for bad input; for
``invoke``, 1 when API Gateway would answer 401, 3 for 403, 4 for 500.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from authorizer import __version__

from .devissuer import state as devstate

if TYPE_CHECKING:
    from .dpopclient import DpopKey
from .devissuer.issuer import DevIssuer, Reply
from .eventgen import KINDS, add_headers, make_event
from .local.template import TemplateError, environment, parameters, read
from .samples import write_all

CHECKOUT = Path(__file__).resolve().parent.parent  # the tools run from a checkout
EXIT_USAGE = 2
STATE_HELP = "the dev issuer's state folder (default: .dev-issuer)"
EXIT_FOR_STATUS = {200: 0, 401: 1, 403: 3, 500: 4}


class CliError(Exception):
    """A problem with the user's input, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line, pointing at the command's help, and exit status 2.

    argparse's own answer is the usage text and then the error; we keep every
    error to one line (a script or a log shows it whole) and say where the usage is.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (try: {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    options = parser.parse_args(argv)
    try:
        result: int = options.run(options)
        return result
    except (CliError, devstate.StateError, TemplateError) as exc:
        if options.debug:
            raise
        print(f"{parser.prog} {options.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`invoke ... | head`): nothing to say, and nowhere to say it.
        # Python would complain again when it flushes stdout at exit: point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception as exc:
        if options.debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"{parser.prog} {options.command}: error: {type(exc).__name__}: {first}",
            file=sys.stderr,
        )
        return 1


def _build_parser() -> _Parser:
    parser = _Parser(prog="authorizer_tools", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, help="the command to run"
    )

    issuer = commands.add_parser("dev-issuer", help="a local OpenID issuer: serve it, rotate keys")
    actions = issuer.add_subparsers(
        dest="action",
        required=True,
        metavar="{serve,rotate}",
        parser_class=_Parser,
        help="what to do with the dev issuer",
    )
    serve = actions.add_parser("serve", help="serve discovery and the key set on 127.0.0.1")
    serve.add_argument("--state", type=Path, default=devstate.DEFAULT_DIR, help=STATE_HELP)
    serve.add_argument(
        "--port", type=_port, default=devstate.DEFAULT_PORT, help="1 to 65535 (default 8765)"
    )
    serve.add_argument(
        "--algorithms",
        default="RS256,ES256",
        help="keys to create on first start (comma-separated; default RS256,ES256)",
    )
    serve.set_defaults(run=_serve_dev_issuer)
    rotate = actions.add_parser("rotate", help="publish a new key (a running issuer serves it)")
    rotate.add_argument("--state", type=Path, default=devstate.DEFAULT_DIR, help=STATE_HELP)
    rotate.add_argument("--algorithm", default="RS256", help="the new key's algorithm")
    rotate.add_argument(
        "--keep-old", action="store_true", help="keep publishing the older keys too"
    )
    rotate.set_defaults(run=_rotate_dev_issuer)

    mint = commands.add_parser("mint", help="print an access token from the dev issuer")
    mint.add_argument("--state", type=Path, default=devstate.DEFAULT_DIR, help=STATE_HELP)
    mint.add_argument("--sub", default="dev-user", help="the subject (default: dev-user)")
    mint.add_argument("--aud", action="append", help="audience (repeat for an array)")
    mint.add_argument("--scope", help='space-separated scopes, e.g. "read:orders write:orders"')
    mint.add_argument("--role", action="append", default=[], help="a role (repeatable)")
    mint.add_argument("--roles-claim", default="roles", help="the claim that holds --role")
    mint.add_argument("--expires-in", type=int, default=300, help="seconds; negative: expired")
    mint.add_argument("--alg", default="RS256", help="signing algorithm (a key of it must exist)")
    mint.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="any claim; the value is JSON if it parses, else a string",
    )
    mint.add_argument(
        "--dpop-key", type=Path, metavar="FILE", help="bind the token to this DPoP key (cnf.jkt)"
    )
    mint.set_defaults(run=_mint)

    _add_dpop_commands(commands)

    event = commands.add_parser("event", help="write an API Gateway authorizer event")
    event.add_argument("kind", choices=KINDS, help="the event shape")
    event.add_argument("--token", help="the access token (omit for an event without one)")
    event.add_argument("--method", default="GET", help="the request's method (default GET)")
    event.add_argument("--path", default="/orders", help="the request's path (default /orders)")
    for flag, what in (("--header", "header"), ("--cookie", "cookie"), ("--query", "query")):
        event.add_argument(
            flag, action="append", default=[], metavar="NAME=VALUE", help=f"a {what} (repeatable)"
        )
    event.add_argument(
        "--dpop", metavar="PROOF", help="send the token as DPoP, with this proof header"
    )
    event.add_argument(
        "--route-key",
        help="http_v2: the routeKey API Gateway sends, a route template such as"
        " 'ANY /orders/{id}' (default: the template's HTTP API route that serves"
        " --method --path, else $default)",
    )
    event.add_argument(
        "--template", type=Path, help="the template whose routes give the default --route-key"
    )
    event.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    event.set_defaults(run=_event)

    events = commands.add_parser("events", help="write every sample event (+ negatives)")
    events.add_argument("directory", type=Path, help="where to write the events")
    events.add_argument("--token", help="a real token instead of the placeholder")
    events.set_defaults(run=_events)

    _add_handler_commands(commands)
    return parser


def _add_dpop_commands(commands: Any) -> None:
    """dpop key and dpop proof: what a DPoP client does, for the local loop."""
    dpop = commands.add_parser("dpop", help="a DPoP client's key and proofs (RFC 9449)")
    dpop_actions = dpop.add_subparsers(
        dest="action",
        required=True,
        metavar="{key,proof}",
        parser_class=_Parser,
        help="what the client does",
    )
    key = dpop_actions.add_parser("key", help="create a DPoP key pair; print its thumbprint")
    key.add_argument("-o", "--output", type=Path, default=Path("dpop.key"), help="dpop.key")
    key.add_argument("--alg", default="ES256", help="the proofs' algorithm (default ES256)")
    key.set_defaults(run=_dpop_key)
    proof = dpop_actions.add_parser("proof", help="print the DPoP proof for one request")
    proof.add_argument("--key", type=Path, default=Path("dpop.key"), help="from dpop key")
    proof.add_argument("--method", default="GET", help="the request's method (default GET)")
    proof.add_argument("--url", required=True, help="the URL the request goes to")
    proof.add_argument("--token", help="the access token sent with it (sets ath)")
    proof.set_defaults(run=_dpop_proof)


def _add_handler_commands(commands: Any) -> None:
    """invoke, doctor and serve: the commands that configure the authorizer from the template."""
    for name, helptext, runner in (
        ("invoke", "run the real handler on an event file", _invoke),
        ("doctor", "check a configuration against its real issuer", _doctor),
        ("serve", "the template's APIs on localhost, each function in the Lambda runtime", _serve),
    ):
        sub = commands.add_parser(name, help=helptext)
        if name == "invoke":
            sub.add_argument("event_file", type=Path, help="the event, as JSON")
            sub.add_argument("--logs", action="store_true", help="show the handler's own log lines")
            sub.add_argument(
                "--runtime",
                action="store_true",
                help="in the Lambda runtime (emulator + awslambdaric), from the built artifact",
            )
        elif name == "doctor":
            sub.add_argument("--token", help="also explain what this token passes or fails")
            sub.add_argument("--dpop", metavar="PROOF", help="the DPoP proof sent with --token")
            sub.add_argument("--url", help="the URL the request went to (what htu must say)")
            sub.add_argument("--method", default="GET", help="the request's method (GET)")
            sub.add_argument(
                "--certificate", type=Path, metavar="PEM_FILE", help="the client certificate"
            )
        else:
            sub.add_argument(
                "--port", type=_port, default=3000, help="the first API's port (default 3000)"
            )
            sub.add_argument("--logs", action="store_true", help="show the functions' log lines")
        if name != "doctor":
            sub.add_argument("--python", help="the Python 3.13 to run the runtime with")
        _configuration_arguments(sub)
        sub.set_defaults(run=runner)
    keys = commands.add_parser("keys", help="bundle issuers' key sets in the artifact")
    actions = keys.add_subparsers(
        dest="action",
        required=True,
        metavar="{pin}",
        parser_class=_Parser,
        help="what to do with the bundled key sets",
    )
    pin = actions.add_parser(
        "pin", help="fetch each issuer's key set and write the file JWT_KEYS_FILE names"
    )
    pin.add_argument("--out", type=Path, help="write here instead (every issuer in one file)")
    _configuration_arguments(pin)
    pin.set_defaults(run=_pin_keys)


def _configuration_arguments(sub: argparse.ArgumentParser) -> None:
    """--template, --parameter and --env: the authorizer's configuration, as deployed."""
    sub.add_argument(
        "--template",
        type=Path,
        help="default: template.yaml here, else the checkout's own",
    )
    sub.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter (overrides its default)",
    )
    sub.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable (overrides the template)",
    )


# --- dev-issuer ----------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 1 to 65535, got {port}")
    return port


def _rotate_dev_issuer(options: argparse.Namespace) -> int:
    new, withdrawn = devstate.rotate(options.state, options.algorithm, options.keep_old)
    gone = f"; withdrawn: {', '.join(withdrawn)}" if withdrawn else ""
    print(f"published {new.kid} ({new.alg}){gone}")
    return 0


def _serve_dev_issuer(options: argparse.Namespace) -> int:
    algorithms = [alg.strip() for alg in options.algorithms.split(",") if alg.strip()]
    state = devstate.load_or_new(options.state, options.port, algorithms)
    try:
        server = DevIssuer(algorithms=(), port=state.port)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{state.port}: {exc.strerror}") from None
    devstate.save(options.state, state)  # only now: the port it records is the one served
    _follow_state(server, options.state)
    # SIGTERM stops the issuer like Ctrl-C does. The handler raises rather than
    # setting an Event: Event.set() from a signal handler can deadlock against
    # an Event.wait() that the signal interrupted while holding its lock.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt), server:
        print(
            f"dev issuer {server.issuer}  keys: "
            f"{', '.join(f'{k.kid} ({k.alg})' for k in server.keys.values())}",
            flush=True,
        )
        print(
            f"  discovery {server.discovery_uri}\n  state     {options.state}/  (Ctrl-C to stop)",
            flush=True,
        )
        while True:
            time.sleep(3600)
    return 0


def _follow_state(server: DevIssuer, directory: Path) -> None:
    """Serve the keys in the state file, reloading it whenever it changes (rotation)."""
    seen: list[float] = [-1.0]

    def reload() -> None:
        mtime = devstate.path_of(directory).stat().st_mtime
        if mtime != seen[0]:
            state = devstate.load(directory)
            server.keys = {key.kid: key for key in state.keys}
            seen[0] = mtime

    def responder(path: str) -> Reply | None:
        with contextlib.suppress(OSError, devstate.StateError):
            reload()
        return None  # then answer as usual, from server.keys

    reload()
    server.responder = responder


# --- mint, event, events -----------------------------------------------------------------


def _mint(options: argparse.Namespace) -> int:
    state = devstate.load(options.state)
    claims: dict[str, Any] = {"sub": options.sub}
    if options.aud:
        claims["aud"] = options.aud[0] if len(options.aud) == 1 else options.aud
    if options.scope is not None:
        claims["scope"] = options.scope
    if options.role:
        claims[options.roles_claim] = options.role
    for name, value in (_pair(item, "--claim") for item in options.claim):
        try:
            claims[name] = json.loads(value)
        except ValueError:
            claims[name] = value
    if options.dpop_key is not None:
        claims["cnf"] = {"jkt": _load_dpop_key(options.dpop_key).thumbprint}
    print(devstate.mint(state, claims, alg=options.alg, lifetime=options.expires_in))
    return 0


def _dpop_key(options: argparse.Namespace) -> int:
    from .dpopclient import DpopKey  # noqa: PLC0415 - only this command needs it

    try:
        key = DpopKey.generate(options.alg)
        key.save(options.output)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {options.output}: {exc.strerror}") from None
    print(f"{key.thumbprint}  (cnf.jkt of tokens bound to {options.output})")
    return 0


def _dpop_proof(options: argparse.Namespace) -> int:
    print(_load_dpop_key(options.key).proof(options.method.upper(), options.url, options.token))
    return 0


def _load_dpop_key(path: Path) -> DpopKey:
    from .dpopclient import DpopKey  # noqa: PLC0415 - only the DPoP options need it

    try:
        return DpopKey.load(path)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise CliError(f"{path} is not a key written by dpop key") from None


def _event(options: argparse.Namespace) -> int:
    scheme = "DPoP" if options.dpop is not None else "Bearer"
    authorization = f"{scheme} {options.token}" if options.token else None
    method = options.method.upper()
    route_key = options.route_key
    if options.kind == "http_v2" and route_key is None:
        route_key = _template_route_key(options, method, options.path)
    event = make_event(
        options.kind,
        authorization,
        method=method,
        path=options.path,
        query=dict(_pair(q, "--query") for q in options.query),
        route_key=route_key,
    )
    headers = dict(_pair(h, "--header") for h in options.header)
    if options.dpop is not None:
        headers["DPoP"] = options.dpop
    if headers:
        _add_headers(event, headers)
    if options.cookie:
        cookies = [
            f"{name}={value}" for name, value in (_pair(c, "--cookie") for c in options.cookie)
        ]
        if options.kind == "http_v2":
            event["cookies"] = cookies
        else:
            _add_headers(event, {"Cookie": "; ".join(cookies)})
    _write_json(event, options.output)
    return 0


def _template_route_key(options: argparse.Namespace, method: str, path: str) -> str:
    """The route key of the template's HTTP API route serving ``method path``, or $default.

    API Gateway sends the route's template (``GET /orders/{id}``), never the request's
    path: it is what a simple response is cached by.
    """
    template = _template(options)
    if template is None:
        return "$default"
    from .local.apis import apis_of, with_examples  # noqa: PLC0415 - reads the template (PyYAML)

    try:
        document = read(template)
        apis = apis_of(document, parameters(document, with_examples(document, {})))
    except TemplateError:
        return "$default"
    for api in apis:
        for route in api.routes if api.kind == "http" else ():
            if route.matches(method, path) is not None:
                return route.key
    return "$default"


def _add_headers(event: dict[str, Any], headers: dict[str, str]) -> None:
    try:
        add_headers(event, headers)
    except ValueError:
        raise CliError(
            "a TOKEN event carries no headers: use rest_request for --header/--cookie"
        ) from None


def _events(options: argparse.Namespace) -> int:
    for path in write_all(options.directory, options.token):
        print(path)
    return 0


# --- invoke and doctor -------------------------------------------------------------------


def resolve_environment(options: argparse.Namespace) -> dict[str, str]:
    """The authorizer's environment: the template's, then --parameter, then --env.

    The template's Rules hold for its parameters; with --env the environment is
    no longer the template's, and the authorizer's own checks are what apply.
    Without a template (the installed tools, outside a checkout) --env is all of it.
    """
    parameters = dict(_pair(p, "--parameter") for p in options.parameter)
    template = _template(options)
    if template is None:
        if parameters:
            raise CliError("--parameter needs a template: run in a checkout or give --template")
        env: dict[str, str] = {}
    else:
        env = environment(read(template), parameters, rules=not options.env)
    env.update(dict(_pair(e, "--env") for e in options.env))
    return env


def _invoke(options: argparse.Namespace) -> int:
    event = _read_json(options.event_file)
    env = resolve_environment(options)
    if options.runtime:
        from .local.runtime import RuntimeFailure  # noqa: PLC0415
        from .runtimeinvoke import run_in_runtime  # noqa: PLC0415

        try:
            return EXIT_FOR_STATUS[run_in_runtime(event, env, options.python, options.logs)]
        except RuntimeFailure as exc:
            raise CliError(str(exc)) from None
    from authorizer.errors import ConfigError  # noqa: PLC0415 - imports the authorizer

    from .invoke import run_invoke  # noqa: PLC0415 - only when needed

    if not options.logs and not any(e.startswith("POWERTOOLS_LOG_LEVEL=") for e in options.env):
        env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    try:
        status = run_invoke(event, env)
    except ConfigError as exc:
        raise CliError(f"configuration: {exc}") from None
    return EXIT_FOR_STATUS[status]


def _serve(options: argparse.Namespace) -> int:
    from .local.runtime import RuntimeFailure  # noqa: PLC0415
    from .local.server import serving  # noqa: PLC0415
    from .sharedanswers import serve_warnings  # noqa: PLC0415 - imports the authorizer

    overrides = dict(_pair(p, "--parameter") for p in options.parameter)
    env = dict(_pair(e, "--env") for e in options.env)
    template = _template(options)
    if template is None:
        raise CliError("serve needs a template.yaml: run it in a checkout or give --template")
    # Ctrl-C and SIGTERM stop every process serve started, even when serve itself was
    # started in the background (where a shell makes it ignore SIGINT). Only the first
    # signal interrupts: a second one must not cut the clean-up short.
    signal.signal(signal.SIGINT, _stop_once)
    signal.signal(signal.SIGTERM, _stop_once)
    try:
        with serving(
            read(template), overrides, env, port=options.port, python=options.python,
            log=lambda line: print(line, flush=True), function_logs=options.logs,
            warnings=serve_warnings,
        ) as served:  # fmt: skip
            for gateway, server in zip(served.gateways, served.servers, strict=True):
                api, port = gateway.api, server.server_address[1]
                cache = f"cache {api.cache_seconds} s" if api.cache_seconds else "no cache"
                print(f"{api.name} ({api.kind.upper()} API, {cache})  http://127.0.0.1:{port}")
                for route in api.routes:
                    print(f"  {route.key:<24} -> {route.function}")
            pids = ", ".join(f"{name} {rt.pid}" for name, rt in served.runtimes.items())
            print(f"runtimes: {pids}  (Ctrl-C to stop)", flush=True)
            while True:
                time.sleep(3600)
    except RuntimeFailure as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        print("stopped", flush=True)
    return 0


def _stop_once(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _template(options: argparse.Namespace) -> Path | None:
    """--template, else ./template.yaml, else the checkout's; None outside a checkout."""
    if options.template is not None:
        return Path(options.template)
    for candidate in (Path("template.yaml"), CHECKOUT / "template.yaml"):
        if candidate.is_file():
            return candidate
    return None


def _pin_keys(options: argparse.Namespace) -> int:
    from authorizer.errors import ConfigError, FetchError  # noqa: PLC0415

    from .keypin import pin_keys  # noqa: PLC0415 - imports the authorizer: only when needed

    try:
        lines = pin_keys(resolve_environment(options), options.out)
    except (ConfigError, FetchError) as exc:
        raise CliError(str(exc)) from None
    for line in lines:
        print(line)
    return 0


def _doctor(options: argparse.Namespace) -> int:
    from .doctor import Presented, run_doctor  # noqa: PLC0415 - imports the authorizer

    presented = None
    if options.token is not None:
        if options.dpop is not None and options.url is None:
            raise CliError("--dpop needs --url, the URL the request went to")
        certificate = _read_text(options.certificate) if options.certificate else None
        presented = Presented(options.token, options.dpop, options.method, options.url, certificate)
    elif options.dpop or options.certificate:
        raise CliError("--dpop and --certificate explain a --token: give one")
    template = _template(options)
    routes = None
    if template is not None:
        from .sharedanswers import template_check  # noqa: PLC0415 - imports the authorizer

        overrides = dict(_pair(p, "--parameter") for p in options.parameter)
        routes = template_check(read(template), overrides)
    return 0 if run_doctor(resolve_environment(options), presented, routes) else 1


# --- helpers -----------------------------------------------------------------------------


def _pair(text: str, flag: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise CliError(f"{flag} expects NAME=VALUE, got {text!r}")
    return name, value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except ValueError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


def _write_json(document: Any, output: Path | None) -> None:
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror}") from None
