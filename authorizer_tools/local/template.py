"""The authorizer's environment as `template.yaml` would give it, without deploying.

Reads the template's parameters (defaults, overridden by ``--parameter``),
evaluates the intrinsic functions its environment and grants use (``Ref``,
``Fn::FindInMap``, ``Fn::If``, ``Fn::Split``, ``Fn::Select``, ``Fn::Join``,
``Fn::Sub``, the conditions' ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``,
``AWS::NoValue`` and :data:`PSEUDO_PARAMETERS`), and merges ``Globals`` with the
function's own variables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

FUNCTION = "AuthorizerFunction"
_NO_VALUE = object()


class TemplateError(Exception):
    """The template cannot be read or evaluated; the message says why."""


#: What the local tools take AWS's pseudo parameters to be: SAM CLI's own local values.
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
}


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
        if isinstance(node, list):
            return self._item(node, where)
        if not isinstance(node, dict):
            return node
        if "Ref" in node:
            return self._ref(node["Ref"], where)
        name = next(iter(node), "")
        function = self._FUNCTIONS.get(name)
        if function is not None:
            return function(self, node[name], where)
        if name.startswith("Fn::") or name == "Condition":
            raise TemplateError(f"{where} uses {name}, which this tool cannot evaluate")
        return self._document(node, where)

    def _document(self, node: Mapping[str, Any], where: str) -> dict[str, Any]:
        """A plain mapping (a policy document), its members evaluated, ``AWS::NoValue`` dropped."""
        evaluated = {key: self._item(item, where) for key, item in node.items()}
        return {key: item for key, item in evaluated.items() if item is not _NO_VALUE}

    def _item(self, item: Any, where: str) -> Any:
        if isinstance(item, list):
            values = [self._item(element, where) for element in item]
            return [value for value in values if value is not _NO_VALUE]
        return self.value(item, where)

    def _ref(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name not in self._parameters:
            raise TemplateError(
                f"{where} needs the parameter {name}, which has no default: "
                f"pass --parameter {name}=VALUE"
            )
        return self._parameters[name]

    def _find_in_map(self, arguments: list[Any], where: str) -> Any:
        name, first, second = (self.value(item, where) for item in arguments)
        try:
            return self._mappings[name][str(first)][str(second)]
        except (KeyError, TypeError):
            raise TemplateError(f"{where}: mapping {name} has no {first}/{second}") from None

    def _if(self, arguments: list[Any], where: str) -> Any:
        condition, then, otherwise = arguments
        return self.value(then if self.condition(condition) else otherwise, where)

    def _split(self, arguments: list[Any], where: str) -> list[str]:
        delimiter, source = arguments
        return str(self.value(source, where)).split(delimiter)

    def _select(self, arguments: list[Any], where: str) -> Any:
        index, items = arguments
        chosen = self._list(self.value(items, where))
        if not 0 <= int(index) < len(chosen):
            raise TemplateError(f"{where}: Fn::Select {index} of {len(chosen)} item(s)")
        return chosen[int(index)]

    def _join(self, arguments: list[Any], where: str) -> str:
        delimiter, items = arguments
        return str(delimiter).join(str(item) for item in self._list(self.value(items, where)))

    @staticmethod
    def _list(value: Any) -> list[Any]:
        """A list, or a parameter's comma-delimited text (a CommaDelimitedList's Ref)."""
        return list(value) if isinstance(value, list) else str(value).split(",")

    def _sub(self, spec: Any, where: str) -> str:
        text, names = (spec, {}) if isinstance(spec, str) else (spec[0], spec[1])
        known = {**PSEUDO_PARAMETERS, **self._parameters}
        known.update({name: self.value(item, where) for name, item in names.items()})

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in known:
                raise TemplateError(
                    f"{where}: Fn::Sub names {name}, which this tool cannot resolve"
                )
            return str(known[name])

        return re.sub(r"\$\{([A-Za-z0-9:._]+)\}", substitute, text)

    _FUNCTIONS: Mapping[str, Callable[[_Evaluator, Any, str], Any]] = MappingProxyType(
        {
            "Fn::FindInMap": _find_in_map,
            "Fn::If": _if,
            "Fn::Split": _split,
            "Fn::Select": _select,
            "Fn::Join": _join,
            "Fn::Sub": _sub,
        }
    )

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
