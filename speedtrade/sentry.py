"""Sentry: what leaves the process is scrubbed first.

`before_send` (and `before_breadcrumb`) walk the whole event — request headers, cookies, body and
query string, stack-frame variables, extra data, breadcrumbs — and replace credentials (API-key
headers, passwords, secrets, tokens, session cookies), tax ids and document bytes. Names come from
the logging filter (`structured_logging`), so logs and Sentry hide the same things; strings are also
passed through its `redact`, which catches `Bearer …` and `password=…` inside messages.
"""

import re

from speedtrade.structured_logging import _SECRET_NAMES, REDACTED, redact

_SENSITIVE_NAME = re.compile(rf"(?i){_SECRET_NAMES}|cookie|session|tax[_-]?id|x-session")
# Identity documents and uploads: their bytes never leave, whatever the variable is called.
_DOCUMENT_NAME = re.compile(r"(?i)^(?:file|files|document|documents|content|uploaded_file|upload|body|raw)$")
_BYTES_REPR = re.compile(r"^b['\"]")
_TAX_ID = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
FILTERED_BYTES = "[Filtered bytes]"


def _scrub(value, name: str | None = None):
    if name is not None and _SENSITIVE_NAME.search(name):
        return REDACTED
    if isinstance(value, dict):
        return {key: _scrub(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        # Headers and cookies may come as [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and _SENSITIVE_NAME.search(value[0]):
            return [value[0], REDACTED]
        return [_scrub(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return FILTERED_BYTES
    if isinstance(value, str):
        if _BYTES_REPR.match(value) or (name is not None and _DOCUMENT_NAME.match(name) and len(value) > 64):
            return FILTERED_BYTES
        return _TAX_ID.sub(REDACTED, redact(value))
    return value


def before_send(event: dict, hint: dict) -> dict:
    return _scrub(event)


def before_breadcrumb(crumb: dict, hint: dict) -> dict:
    return _scrub(crumb)


def sentry_options(*, dsn: str, environment: str, traces_sample_rate: float) -> dict:
    """The options `sentry_sdk.init` gets in settings (and the tests' client)."""
    return {
        "dsn": dsn,
        "environment": environment,
        # No user PII by default (sentry-sdk's default; its `send_default_pii` switch is deprecated).
        "traces_sample_rate": traces_sample_rate,
        "before_send": before_send,
        "before_breadcrumb": before_breadcrumb,
        "max_request_body_size": "small",
    }
