"""Check the synthesised CDK templates.

ProtectedApis: three authorizers on the imported function, each API scoped. OrdersWithRules:
the published application given only parameters template.yaml declares, its rules file the
SSM parameter the stack creates, holding the example rules.

python examples/cdk/check.py .aws-sam/cdk.out
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def problems(template: dict[str, Any]) -> list[str]:
    resources = template["Resources"].values()
    found = []
    kinds = sorted(
        r["Properties"].get("Type") or r["Properties"].get("AuthorizerType")
        for r in resources
        if r["Type"] in ("AWS::ApiGateway::Authorizer", "AWS::ApiGatewayV2::Authorizer")
    )
    if kinds != ["REQUEST", "REQUEST", "TOKEN"]:
        found.append(f"expected a TOKEN and two REQUEST authorizers, got {kinds}")
    imported = {"Fn::ImportValue": "oidc-authorizer-AuthorizerFunctionArn"}
    permissions = [
        r["Properties"]
        for r in resources
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] == imported
    ]
    if len(permissions) < 3:
        found.append(f"expected a permission per authorizer, got {len(permissions)}")
    for permission in permissions:
        if "/authorizers/" not in json.dumps(permission.get("SourceArn")):
            found.append(f"a permission is not scoped to an API's authorizer: {permission}")
    handlers = [
        r["Properties"]
        for r in resources
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "whoami.lambda_handler"
    ]
    if len(handlers) != 1 or "ZipFile" in handlers[0].get("Code", {}):
        found.append("expected the WhoAmI function from its asset (it reads claims_from_event)")
    return found


def rules_problems(template: dict[str, Any], root: Path) -> list[str]:
    resources = template["Resources"].values()
    found = []
    declared = set(_parameters(root / "template.yaml"))
    applications = [r for r in resources if r["Type"] == "AWS::Serverless::Application"]
    parameters = [r["Properties"] for r in resources if r["Type"] == "AWS::SSM::Parameter"]
    if len(applications) != 1 or len(parameters) != 1:
        return [f"expected one application and one parameter, got {applications} {parameters}"]
    if not applications[0].get("DependsOn"):
        found.append("the application does not wait for its rules parameter")
    given = applications[0]["Properties"]["Parameters"]
    unknown = sorted(set(given) - declared)
    found += [f"the application has no parameter {name!r}" for name in unknown]
    if given.get("RulesFile") != f"ssm:{parameters[0]['Name']}":
        found.append(f"RulesFile {given.get('RulesFile')!r} is not the stack's parameter")
    rules = (root / "rules" / "example.toml").read_text(encoding="utf-8")
    if parameters[0].get("Value") != rules:
        found.append("the parameter does not hold rules/example.toml")
    return found


def _parameters(template: Path) -> list[str]:
    """The names under template.yaml's Parameters (its tags need no YAML loader to be read)."""
    lines = template.read_text(encoding="utf-8").split("\nParameters:\n", 1)[1].splitlines()
    names = []
    for line in lines:
        if line and not line.startswith(" "):
            break
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            names.append(line.strip().rstrip(":"))
    return names


if __name__ == "__main__":
    out = Path(sys.argv[1])
    root = Path(__file__).resolve().parents[2]
    found = problems(json.loads((out / "ProtectedApis.template.json").read_text()))
    found += rules_problems(json.loads((out / "OrdersWithRules.template.json").read_text()), root)
    for problem in found:
        print(f"examples/cdk: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
