"""The authorizer's environment as `template.yaml` would give it, without deploying.

Reads the template's parameters (defaults, overridden by ``--parameter``),
evaluates the few intrinsic functions the function's environment uses
(``Ref``, ``Fn::FindInMap``, ``Fn::If``, ``Fn::Equals``, ``Fn::Not``, ``Fn::And``,
``Fn::Or``, ``AWS::NoValue``), and merges ``Globals`` with the function's own
variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FUNCTION = "AuthorizerFunction"
_NO_VALUE = object()


class TemplateError(Exception):
    """The template cannot be read or evaluated; the message says why."""


def read(path: Path) -> dict[str, Any]:
    try:
        from .cfnyaml import YAMLError, load  # noqa: PLC0415 - PyYAML: the [tools] extra
    except ImportError:
        raise TemplateError(
            f"reading {path} needs PyYAML: pip install 'apigw-oidc-authorizer[tools]'"
        ) from None
    try:
        document = load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}") from None
    except YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict) or FUNCTION not in document.get("Resources", {}):
        raise TemplateError(f"{path} has no {FUNCTION} resource")
    return document


def parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """The template's parameter values: its defaults, overridden by ``overrides``."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        from difflib import get_close_matches  # noqa: PLC0415 - the error path only

        # Not the authorizer's did_you_mean: this package never imports the authorizer.
        close = get_close_matches(unknown[0], list(declared), n=1)
        guess = f" (did you mean {close[0]}?)" if close else f" (it has: {', '.join(declared)})"
        raise TemplateError(f"the template has no parameter {unknown[0]!r}{guess}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = _allowed(name, spec, overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
    return values


def check_rules(template: Mapping[str, Any], values: Mapping[str, str]) -> None:
    """The template's ``Rules``: a failed assertion refuses the parameters, as a deploy would."""
    evaluator = _evaluator(template, values)
    for name, rule in template.get("Rules", {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not evaluator.condition(condition):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluator.condition(assertion["Assert"]):
                raise TemplateError(f"rule {name}: {assertion.get('AssertDescription', 'fails')}")


def _allowed(name: str, spec: Mapping[str, Any], value: str) -> str:
    """``value``, if CloudFormation would accept it for parameter ``name``; else TemplateError."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(item) for item in allowed]:
        choices = ", ".join(repr(str(item)) for item in allowed)
        raise TemplateError(f"parameter {name}: {value!r} is not one of {choices}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(pattern, value) is None:
        raise TemplateError(f"parameter {name}: {value!r} does not match {pattern}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}: {value!r} is not a number") from None
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < low) or (high is not None and number > high):
            raise TemplateError(f"parameter {name}: {value} is not between {low} and {high}")
    return value


def evaluate(template: Mapping[str, Any], values: Mapping[str, str], node: Any, where: str) -> Any:
    """``node`` with its ``Ref`` and ``Fn::If`` resolved (``None`` for ``AWS::NoValue``)."""
    result = _evaluator(template, values).value(node, where)
    return None if result is _NO_VALUE else result


def deployed(template: Mapping[str, Any], values: Mapping[str, str], resource: str) -> bool:
    """Whether ``resource`` is deployed with these parameter values (its ``Condition``)."""
    condition = template.get("Resources", {}).get(resource, {}).get("Condition")
    return condition is None or _evaluator(template, values).condition(condition)


def environment(
    template: Mapping[str, Any],
    overrides: Mapping[str, str],
    function_name: str = FUNCTION,
    *,
    rules: bool = True,
) -> dict[str, str]:
    """The environment variables ``function_name`` would get with these parameters.

    Raises :class:`TemplateError` where a deploy would fail: a value a parameter
    refuses, or (unless ``rules`` is False) one of the template's ``Rules``.
    """
    values = parameters(template, overrides)
    if rules:
        check_rules(template, values)
    evaluator = _evaluator(template, values)
    variables: dict[str, Any] = {}
    globals_ = template.get("Globals", {}).get("Function", {})
    variables.update(globals_.get("Environment", {}).get("Variables", {}))
    function = template["Resources"][function_name].get("Properties", {})
    variables.update(function.get("Environment", {}).get("Variables", {}))
    result = {}
    for name, value in variables.items():
        evaluated = evaluator.value(value, name)
        if evaluated is not _NO_VALUE:
            result[name] = str(evaluated)
    return result


def _evaluator(template: Mapping[str, Any], values: Mapping[str, str]) -> _Evaluator:
    return _Evaluator(values, template.get("Conditions", {}), template.get("Mappings", {}))


class _Evaluator:
    def __init__(
        self,
        parameters: Mapping[str, str],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any],
    ) -> None:
        self._parameters = parameters
        self._conditions = conditions
        self._mappings = mappings

    def value(self, node: Any, where: str) -> Any:
        if not isinstance(node, dict):
            return node
        if "Ref" in node:
            name = node["Ref"]
            if name == "AWS::NoValue":
                return _NO_VALUE
            if name not in self._parameters:
                raise TemplateError(
                    f"{where} needs the parameter {name}, which has no default: "
                    f"pass --parameter {name}=VALUE"
                )
            return self._parameters[name]
        if "Fn::FindInMap" in node:
            name, first, second = (self.value(item, where) for item in node["Fn::FindInMap"])
            try:
                return self._mappings[name][str(first)][str(second)]
            except (KeyError, TypeError):
                raise TemplateError(f"{where}: mapping {name} has no {first}/{second}") from None
        if "Fn::If" in node:
            condition, then, otherwise = node["Fn::If"]
            return self.value(then if self.condition(condition) else otherwise, where)
        raise TemplateError(f"{where} uses {next(iter(node))}, which this tool cannot evaluate")

    def condition(self, node: Any) -> bool:
        if isinstance(node, str):
            if node not in self._conditions:
                raise TemplateError(f"unknown condition {node!r}")
            return self.condition(self._conditions[node])
        if isinstance(node, dict):
            if "Fn::Equals" in node:
                left, right = (self.value(item, "a condition") for item in node["Fn::Equals"])
                return str(left) == str(right)
            if "Fn::Not" in node:
                return not self.condition(node["Fn::Not"][0])
            if "Fn::And" in node:
                return all(self.condition(item) for item in node["Fn::And"])
            if "Fn::Or" in node:
                return any(self.condition(item) for item in node["Fn::Or"])
            if "Condition" in node:
                return self.condition(node["Condition"])
        raise TemplateError(f"cannot evaluate the condition {node!r}")
