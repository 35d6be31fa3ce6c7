"""Logging helpers: keep credentials out of every log line, whatever the formatter."""

import logging
import re

_SECRET_NAMES = r"(?:password|passwd|secret|token|api[_-]?key|authorization|apca-api-secret-key|tax_id|ssn)"
_SECRET_PAIR = re.compile(rf"(?i)({_SECRET_NAMES}[\"']?\s*[:=]\s*[\"']?)(?!bearer\s)([^\s\"',;&}}]+)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
REDACTED = "[REDACTED]"


def redact(text: str) -> str:
    return _BEARER.sub(rf"\1{REDACTED}", _SECRET_PAIR.sub(rf"\1{REDACTED}", text))


class RedactSecretsFilter(logging.Filter):
    """Rewrites the formatted message and any secret-named `extra` fields."""

    _secret_key = re.compile(rf"(?i){_SECRET_NAMES}")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in list(vars(record).items()):
            if self._secret_key.search(key) and isinstance(value, (str, bytes)):
                setattr(record, key, REDACTED)
        return True
