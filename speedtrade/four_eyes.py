"""Two-person (four eyes) staff actions: one staff member proposes, a different one decides.

The checks every such action shares — cash adjustments (`portfolios.services.adjustments`), bank-link
reviews (`portfolios.plaid`), document corrections (`documents.services`) — so each states the rule once
and words its refusals the same way. Each model also backs the rule with a CheckConstraint
(decided_by ≠ proposed_by).
"""

from speedtrade.errors import DomainError, NotPermitted


def require_permission(user, permission: str, message: str = "You may not do this.") -> None:
    """`permission` is "app_label.codename"; staff get it only through their group (least privilege)."""
    if not user.has_perm(permission):
        raise NotPermitted(message, code="permission_denied")


def require_not_own_record(user, *, owner_id, message: str) -> None:
    """Staff never propose or decide on their own customer records."""
    if owner_id == user.pk:
        raise NotPermitted(message, code="own_record")


def require_second_person(*, proposed_by_id, decided_by, message: str) -> None:
    """The one who decides is not the one who proposed."""
    if proposed_by_id == decided_by.pk:
        raise DomainError(message, code="four_eyes")
