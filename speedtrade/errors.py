"""The one error every service raises: a well-formed request the business rules refuse.

`DomainError(message, *, code, field=None)` carries a stable machine-readable `code`, a `message` for
people and the input at fault (`field`, or `fields` mapping several inputs to their messages). Its
subclasses say which kind of refusal it is, for the callers that must tell them apart; each edge
(the API's exception handler, the Alpaca renderer, pages and the admin) translates only this type and
is the only place that knows HTTP. Services, selectors and tasks never import `rest_framework`.
"""

from collections.abc import Mapping

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """Refused by the rules: e.g. insufficient buying power, a wrong state, an unknown symbol."""

    default_code = "rejected"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        fields: dict[str, list[str]] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.fields = fields

    def messages_by_field(self) -> dict[str, list[str]]:
        """Each input at fault with its messages; empty when the refusal is about no one input."""
        if self.fields:
            return self.fields
        return {self.field: [self.message]} if self.field else {}


def invalid_input_message(fields: dict) -> str:
    """ "Invalid input: qty: …; side: …", each input's first message (a nested serializer's errors as they are)."""
    return "Invalid input: " + "; ".join(
        f"{name}: {messages[0] if isinstance(messages, list) else messages}" for name, messages in fields.items()
    )


class InvalidInput(DomainError):
    """The input itself is malformed (a form or serializer would have refused it): the API's 400.

    Built from the inputs at fault, as a form's errors are: `InvalidInput({"reason": "A reason is required."})`.
    """

    default_code = "validation_error"

    def __init__(self, fields: Mapping[str, list[str] | str]):
        by_field = {
            name: [messages] if isinstance(messages, str) else list(messages) for name, messages in fields.items()
        }
        super().__init__(invalid_input_message(by_field), fields=by_field)


class NotFound(DomainError):
    """No such thing, or not the caller's: both answer the same so nobody learns of others' records."""

    default_code = "not_found"


class NotPermitted(DomainError):
    """The caller may not do this (a missing staff permission, a failed re-authentication)."""

    default_code = "permission_denied"


class Conflict(DomainError):
    """The thing is in a state that no longer allows the action (already decided, already filled)."""

    default_code = "conflict"


class Unavailable(DomainError):
    """A service the action needs is busy or down; the same request may succeed later."""

    default_code = "unavailable"


class IllegalTransition(Conflict):
    """A state machine (an order's, a plan's) refused a move its table of transitions does not list."""

    default_code = "illegal_transition"

    def __init__(self, record, to_status: str):
        super().__init__(f"{record._meta.model_name} {record.id}: {record.status} → {to_status} is not allowed")
        self.from_status, self.to_status = record.status, to_status


def full_clean(instance) -> None:
    """A model's own validation (`full_clean`), its refusal raised as `InvalidInput` like any other."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise InvalidInput(exc.message_dict) from exc
