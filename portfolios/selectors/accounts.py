"""The user's account, its cash balance, and whether it may trade or move money (KYC approval,
status, restrictions)."""

from decimal import Decimal

from accounts.models import AccountRestriction, KYCApplication, User
from portfolios.models import Account, LedgerAccount
from portfolios.selectors.common import Kind


def primary_account(*, user: User) -> Account | None:
    """The user's first account: the one the dashboard and `/api/v1/account` show. Its user rides along (one
    join): an order placed on it audits the user as its actor without another read."""
    return Account.objects.filter(user=user).select_related("user").order_by("created_at").first()


def account_cash_balance(*, account: Account) -> Decimal:
    return LedgerAccount.objects.get(account=account, kind=Kind.CASH).balance


def account_active_restrictions(*, account) -> dict[str, AccountRestriction]:
    return {r.kind: r for r in AccountRestriction.objects.filter(account=account, lifted_at__isnull=True)}


def trading_refusal_reason(*, account) -> str | None:
    """Why this account may not trade now, or None. The trading core's pre-trade check."""
    return _approval_refusal(account) or _restriction_refusal(
        account, [AccountRestriction.Kind.ACCOUNT, AccountRestriction.Kind.TRADING]
    )


def transfer_refusal_reason(*, account) -> str | None:
    """Why this account may not move money now, or None: like trading, only an approved, active,
    unrestricted account is funded or withdraws (customer identification comes first)."""
    return _approval_refusal(account) or _restriction_refusal(
        account, [AccountRestriction.Kind.ACCOUNT, AccountRestriction.Kind.TRANSFERS]
    )


def _approval_refusal(account) -> str | None:
    if account.status == Account.Status.CLOSED:
        return "account closed"
    if not owner_kyc_approved(account):
        return "KYC not approved"
    if account.status != Account.Status.ACTIVE:
        return "account not active"
    return None


_KYC_APPROVED = "owner_kyc_approved"


def kyc_approval_known(account: Account, *, approved: bool) -> Account:
    """Mark `account` with its owner's KYC approval, already known: the lean request path's account, rebuilt per
    request from a snapshot that every KYC decision revokes (`speedtrade.auth_cache`), skips the lookup."""
    account.__dict__[_KYC_APPROVED] = approved
    return account


def owner_kyc_approved(account) -> bool:
    """Whether the account's owner passed KYC (known on a lean request's account, else looked up)."""
    known = account.__dict__.get(_KYC_APPROVED)
    if known is not None:
        return known
    # One EXISTS on the order-entry path, not the full status (application + latest decision).
    return KYCApplication.objects.filter(user_id=account.user_id, status=KYCApplication.Status.APPROVED).exists()


_REFUSAL_PREFIX = {
    AccountRestriction.Kind.ACCOUNT: "account frozen",
    AccountRestriction.Kind.TRADING: "trading blocked",
    AccountRestriction.Kind.TRANSFERS: "transfers blocked",
}


def _restriction_refusal(account, kinds) -> str | None:
    # The flags on the (already loaded) account decide; the reason is only looked up when
    # one is set, so an unrestricted account costs no query here on the order-entry path.
    for kind in kinds:
        if getattr(account, AccountRestriction.ACCOUNT_FLAG[kind]):
            # The customer reads this (order ticket, transfers page, API): the message staff chose
            # for them, never the internal note.
            restriction = account_active_restrictions(account=account).get(kind)
            message = AccountRestriction.CustomerMessage(
                restriction.customer_message if restriction else AccountRestriction.CustomerMessage.UNDER_REVIEW
            )
            return f"{_REFUSAL_PREFIX[kind]}: {message.label}"
    return None
