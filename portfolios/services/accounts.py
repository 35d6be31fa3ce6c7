"""Accounts: opening, activation on KYC approval, restrictions (trading, transfers, freezes), the tax lot method."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.audit import audit_event_record
from accounts.models import AccountRestriction, User
from portfolios.models import Account, LedgerAccount
from portfolios.services.common import Kind
from speedtrade.auth_cache import credentials_revoke
from speedtrade.errors import Conflict, InvalidInput, full_clean


@transaction.atomic
def account_open(*, user: User, account_type: str = Account.Type.CASH) -> Account:
    account = Account(user=user, type=account_type)
    full_clean(account)
    account.save()
    LedgerAccount.objects.bulk_create(
        [
            LedgerAccount(account=account, kind=Kind.CASH, allow_negative=account_type == Account.Type.MARGIN),
            LedgerAccount(account=account, kind=Kind.WITHDRAWAL_HOLD),
        ]
    )
    audit_event_record(
        action="account.opened", actor=None, target=account, subject_user=user, after={"type": account_type}
    )
    return account


def accounts_activate(*, user: User, actor: User | None, request=None) -> list[Account]:
    """KYC approved: the user's onboarding accounts become active (and so may trade). Runs in the
    approval's transaction, which has locked the application (application, then accounts)."""
    activated = []
    for account in Account.objects.select_for_update().filter(user_id=user.pk, status=Account.Status.ONBOARDING):
        account.status = Account.Status.ACTIVE
        account.save(update_fields=["status"])
        audit_event_record(
            action="account.activated",
            actor=actor,
            target=account,
            subject_user=user,
            before={"status": Account.Status.ONBOARDING},
            after={"status": Account.Status.ACTIVE},
            request=request,
        )
        activated.append(account)
    return activated


@transaction.atomic
def account_restriction_apply(
    *,
    account: Account,
    kind: str,
    blocked: bool,
    actor: User | None,
    reason: str,
    customer_message: str = "",
    request=None,
) -> AccountRestriction | None:
    """Block or unblock trading, transfers or the whole account (`kind`, an `AccountRestriction.Kind`).

    Returns the restriction placed or lifted: None when lifting a flag that no restriction row records.

    Writes the `Account` flag (what enforcement reads) and an `AccountRestriction` row (the
    reason and its history), cancels open orders when trading stops, and audits it with the
    actor (None: the system, e.g. a returned deposit). Locks the account row. Who may do it
    is checked by the caller (`accounts.services.account_restriction_set` for staff).
    """
    account = Account.objects.select_for_update().select_related("user").get(pk=account.pk)
    # `kind` is one of the Kind values, which are the strs that key ACCOUNT_FLAG (Kind is a str enum).
    flag = AccountRestriction.ACCOUNT_FLAG[kind]  # type: ignore[index]
    active = AccountRestriction.objects.filter(account=account, kind=kind, lifted_at__isnull=True).first()
    label = AccountRestriction.Kind(kind).label.lower()
    if blocked and (active or getattr(account, flag)):
        raise Conflict(f"Already in place: {label}.", code="restriction_exists")
    if not blocked and not (active or getattr(account, flag)):
        raise Conflict(f"Not in place: {label}.", code="restriction_missing")
    before = {flag: getattr(account, flag)}
    restriction: AccountRestriction | None
    if blocked:
        restriction = AccountRestriction.objects.create(
            account=account, kind=kind, reason=reason, customer_message=customer_message, created_by=actor
        )
    else:
        restriction = active
        if restriction is not None:
            restriction.lifted_at = timezone.now()
            restriction.lifted_by = actor
            restriction.lift_reason = reason
            restriction.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    setattr(account, flag, blocked)
    account.save(update_fields=[flag])
    credentials_revoke(account.user_id, everything=True)  # who may trade changed: no process keeps the old view
    canceled = []
    if blocked and kind in (AccountRestriction.Kind.TRADING, AccountRestriction.Kind.ACCOUNT):
        # No order keeps working on a frozen account or one blocked from trading. Orders are
        # trading's, which builds on this app: it is named in settings, not imported.
        orders_cancel = import_string(settings.ACCOUNT_RESTRICTED_ORDERS_CANCEL)
        canceled = [str(order.pk) for order in orders_cancel(account=account)]
    verbs: dict[str, tuple[str, str]] = {AccountRestriction.Kind.ACCOUNT: ("frozen", "unfrozen")}
    verb = verbs.get(kind, (f"{kind}_blocked", f"{kind}_unblocked"))
    audit_event_record(
        action=f"account.{verb[0] if blocked else verb[1]}",
        actor=actor,
        target=account,
        subject_user=account.user,
        before=before,
        after={
            flag: blocked,
            "reason": reason,
            **({"customer_message": customer_message, "orders_canceled": canceled} if blocked else {}),
        },
        request=request,
    )
    return restriction


def account_lot_method_set(*, account: Account, lot_method: str, actor: User, request=None) -> Account:
    """The customer's choice of which tax lots a sale closes when they choose none on the ticket.

    Applies to sales booked from now on; lots already closed keep the method they were closed by."""
    if lot_method not in Account.LotMethod.values:
        raise InvalidInput({"lot_method": [f"Choose one of {', '.join(Account.LotMethod.values)}."]})
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        before = account.lot_method
        if before != lot_method:
            account.lot_method = lot_method
            account.save(update_fields=["lot_method"])
            audit_event_record(
                action="account.lot_method_changed",
                actor=actor,
                target=account,
                subject_user=account.user,
                before={"lot_method": before},
                after={"lot_method": lot_method},
                request=request,
            )
    return account
