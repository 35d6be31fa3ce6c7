"""One plain domain error for the issue-23 apps' services, translated only at the edges.

Services raise `RuleViolation(message, code=..., field=...)`; `rule_violations_as_api_errors()` turns it
into the API's error format (`not_found` → 404, anything else → 422 `BusinessRuleViolation` with its
code); pages show `message` on the form field it names.
"""

from contextlib import contextmanager

from rest_framework.exceptions import NotFound

from speedtrade.api.errors import BusinessRuleViolation


class RuleViolation(Exception):
    def __init__(self, message: str, *, code: str, field: str | None = None):
        super().__init__(message)
        self.message, self.code, self.field = message, code, field


@contextmanager
def rule_violations_as_api_errors():
    try:
        yield
    except RuleViolation as exc:
        if exc.code == "not_found":
            raise NotFound(exc.message) from exc
        raise BusinessRuleViolation(exc.message, code=exc.code, field=exc.field) from exc
