from django.db import transaction

from accounts.audit import audit_event_record
from accounts.models import User
from portfolios.models import Account


@transaction.atomic
def account_open(*, user: User, account_type: str = Account.Type.CASH) -> Account:
    account = Account(user=user, type=account_type)
    account.full_clean()
    account.save()
    audit_event_record(
        action="account.opened", actor=None, target=account, subject_user=user, after={"type": account_type}
    )
    return account
