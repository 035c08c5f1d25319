"""The log formatter: Powertools' JSON lines, without its generic passes for the lines we write.

Powertools' ``LambdaPowertoolsFormatter`` spends about 25 us on a decision line
(its ``format`` scans every record attribute against a tuple, formats every
template key, tries to parse each message as JSON, then builds a new JSON
encoder per line): at the template's defaults that was most of a decision.
:class:`LeanFormatter` is the same formatter, registered through Powertools'
own extension point (``Logger(logger_formatter=...)``), with a ``format`` that
writes the same line for the records this authorizer logs, in about half the
time. Whatever it does not cover (an exception or stack, ``%`` arguments, a
message that is not plain text) goes to Powertools' ``format`` unchanged.
``tests/runtime/test_log_format.py`` checks that both write the same bytes.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter

_RESERVED = frozenset(RESERVED_LOG_ATTRS)
#: First characters of text that ``json.loads`` may accept; Powertools logs such a
#: message as the parsed value, so it takes Powertools' path.
_MAY_BE_JSON = frozenset('{["-0123456789tfnNI \t\r\n')
_TRACE_ID = "_X_AMZN_TRACE_ID"


class LeanFormatter(LambdaPowertoolsFormatter):
    """``LambdaPowertoolsFormatter`` with a shorter ``format`` for plain lines; same output."""

    def __init__(self) -> None:
        super().__init__()
        # One encoder for every line (the default serializer makes one per call), built
        # from the same options: the indent Powertools picks (POWERTOOLS_DEV) included.
        self.json_serializer = json.JSONEncoder(
            default=self.json_default,
            separators=(",", ":"),
            indent=self.json_indent,
            ensure_ascii=False,
        ).encode

    def format(self, record: logging.LogRecord) -> str:
        message = record.msg
        if (
            record.exc_info
            or record.stack_info
            or record.args
            or not isinstance(message, str)
            or message[:1] in _MAY_BE_JSON
        ):
            return super().format(record)
        attributes = record.__dict__
        extras = {key: value for key, value in attributes.items() if key not in _RESERVED}
        values: dict[str, Any] | None = None
        line: dict[str, Any] = {}
        for keys in (self.get_current_keys(), self.thread_safe_get_current_keys()):
            for key, value in keys.items():
                if value and key in _RESERVED:
                    if not isinstance(value, str):
                        return super().format(record)  # Powertools raises its own error
                    if values is None:
                        values = {**attributes, "asctime": self.formatTime(record)}
                    line[key] = value % values
                else:
                    line[key] = value
        line.update(extras)
        # What Powertools fills in after the record's fields, in its order (None is dropped).
        line["message"] = message
        for key in ("exception", "exception_name", "exception_notes"):
            line[key] = line.get(key)
        if self.serialize_stacktrace:
            line["stack_trace"] = None
        line["xray_trace_id"] = self._trace_id()
        return self.serialize(log={key: value for key, value in line.items() if value is not None})

    def _trace_id(self) -> str | None:
        """The X-Ray trace id as Powertools writes it (``None`` when it is turned off or unset)."""
        if self.get_current_keys().get("xray_trace_id", "") is None:
            return None
        header = os.environ.get(_TRACE_ID)
        return header.split(";")[0].replace("Root=", "") if header else None
