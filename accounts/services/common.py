"""What the account services share: the checks every staff action makes (the permission, a reason,
never on one's own records)."""

from accounts.models import User
from speedtrade.errors import DomainError, InvalidInput, NotPermitted


def require_permission(actor: User | None, permission: str) -> None:
    """Staff act only with the permission; `actor=None` is the system (operator commands)."""
    if actor is not None and not actor.has_perm(permission):
        raise NotPermitted(f"You lack the permission {permission}.")


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": "A reason is required."})
    return reason


def require_not_own(actor: User | None, user_id, what: str) -> None:
    """Staff never act on their own records (`what`: "decide on your own KYC application")."""
    if actor is not None and actor.pk == user_id:
        raise DomainError(f"You cannot {what}: ask another Compliance officer to do it.", code="own_record")
