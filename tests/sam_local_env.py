"""Run by SAM CLI's own Python: the environment `sam local invoke` gives AuthorizerFunction.

``python tests/sam_local_env.py TEMPLATE [--function NAME] Name=Value ...`` prints, as JSON, the
variables SAM CLI resolves for the function with those ``--parameter-overrides``
(``--config-env NAME`` instead: the ``parameter_overrides`` of that profile of
``samconfig.toml``, read and converted by SAM CLI's own code):
its stack provider (parameters, Globals, intrinsics), its function provider and
its ``EnvironmentVariables.resolve`` (which writes '' for what it cannot resolve),
the code `sam local invoke` and `sam local start-api` run before starting a container.
"""

import json
import sys

from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.local.lambdafn.env_vars import EnvironmentVariables

template, *pairs = sys.argv[1:]
name = "AuthorizerFunction"
if pairs[:1] == ["--function"]:
    name, pairs = pairs[1], pairs[2:]
if pairs[:1] == ["--config-env"]:
    profile = SamConfig(".").get_all(["deploy"], "parameters", env=pairs[1])
    overrides = CfnParameterOverridesType().convert(profile["parameter_overrides"], None, None)
else:
    overrides = dict(pair.split("=", 1) for pair in pairs)
stacks, _ = SamLocalStackProvider.get_stacks(
    template, parameter_overrides=overrides, global_parameter_overrides={"AWS::Region": "us-east-1"}
)
function = SamFunctionProvider(stacks).get(name)
variables = EnvironmentVariables(
    function.name,
    function.memory,
    function.timeout,
    function.handler,
    function.logging_config,
    variables=(function.environment or {}).get("Variables", {}),
    shell_env_values={},
    override_values={},
).resolve()
json.dump(
    {name: value for name, value in variables.items() if not name.startswith("AWS_")}, sys.stdout
)
