"""Staff acting for customers: a password reset email, and restrictions on an account."""

from django.db import transaction

from accounts.audit import audit_event_record
from accounts.models import AccountRestriction, User
from accounts.services.common import require_not_own, require_permission, require_reason
from portfolios.services import account_restriction_apply
from speedtrade.errors import DomainError, InvalidInput


def customer_password_reset_send(*, customer: User, actor: User, request) -> None:
    """Staff help a customer who cannot log in: allauth's reset email goes to the customer's own
    address (staff never learn or set the password). Audited `account.password_reset_sent`.

    Sent while the request is at hand (allauth builds the link from it), after the audit row is
    committed: an email is never sent without its record.
    """
    from allauth.account.forms import ResetPasswordForm

    require_permission(actor, "accounts.send_password_reset")
    if customer.is_staff:
        raise DomainError("Staff reset their own passwords from the login page.", code="not_a_customer")
    form = ResetPasswordForm(data={"email": customer.email})
    if not form.is_valid():
        raise DomainError(
            "This customer has no active login with a verified email to send a reset to.", code="no_reset_address"
        )
    with transaction.atomic():
        audit_event_record(
            action="account.password_reset_sent", actor=actor, target=customer, subject_user=customer, request=request
        )
    form.save(request)


@transaction.atomic
def account_restriction_set(
    *,
    account,
    kind: str,
    blocked: bool,
    actor: User | None,
    reason: str,
    customer_message: str = "",
    request=None,
) -> AccountRestriction | None:
    """Block or unblock trading, transfers or the whole account, with an internal note (`reason`)
    and, when blocking, the message the customer is shown (`AccountRestriction.CustomerMessage`).

    Staff decide here (permission, reason, the customer's message, never their own account);
    `portfolios.services.account_restriction_apply` changes the account and records it.
    """
    require_permission(actor, "accounts.restrict_account")
    reason = require_reason(reason)
    if kind not in AccountRestriction.Kind.values:
        raise InvalidInput({"kind": f"Choose among: {', '.join(AccountRestriction.Kind.values)}."})
    if blocked and customer_message not in AccountRestriction.CustomerMessage.values:
        raise InvalidInput({"customer_message": "Choose the message the customer will see."})
    require_not_own(actor, account.user_id, "restrict or lift your own account")
    return account_restriction_apply(
        account=account,
        kind=kind,
        blocked=blocked,
        actor=actor,
        reason=reason,
        customer_message=customer_message,
        request=request,
    )
