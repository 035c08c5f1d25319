"""Check the synthesised CDK template: three authorizers on the imported function, each API scoped.

python examples/cdk/check.py .aws-sam/cdk.out/ProtectedApis.template.json
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


if __name__ == "__main__":
    found = problems(json.loads(Path(sys.argv[1]).read_text()))
    for problem in found:
        print(f"examples/cdk: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
