from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from portfolios.selectors import account_cash_balance, primary_account
from portfolios.services import account_open, deposit_settled_post

STAFF_GROUPS = {"compliance": "Compliance", "support": "Support"}


@transaction.atomic
def user_update_profile(*, user: User, first_name: str | None = None, last_name: str | None = None) -> User:
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    user.full_clean()
    user.save(update_fields=["first_name", "last_name"])
    return user


@transaction.atomic
def trader_create(
    *,
    email: str,
    password: str,
    staff_group: str | None = None,
    superuser: bool = False,
    cash: Decimal | None = None,
) -> User:
    """Create or update a user whose email is verified, so they can log in at once.

    `cash` (portfolios): top the trader's cash up to at least this amount with a settled
    deposit, so running it twice does not pay twice.
    """
    email = User.objects.normalize_email(email).strip()
    user = User.objects.filter(email__iexact=email).first() or User(email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from exc
    user.set_password(password)
    user.is_staff = bool(staff_group) or superuser
    user.is_superuser = superuser
    user.full_clean()
    user.save()
    EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    if not staff_group and not superuser and primary_account(user=user) is None:
        account_open(user=user)
    if cash is not None:
        account = primary_account(user=user)
        if account is None:
            raise ValueError("Only traders (not staff) have a brokerage account to fund.")
        shortfall = cash - account_cash_balance(account=account)
        if shortfall > 0:
            deposit_settled_post(account=account, amount=shortfall)
    if staff_group:
        user.groups.add(Group.objects.get(name=STAFF_GROUPS[staff_group]))
    return user
