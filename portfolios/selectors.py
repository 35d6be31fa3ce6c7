from accounts.models import User
from portfolios.models import Account


def primary_account(*, user: User) -> Account | None:
    """The user's first account: the one the dashboard and `/api/v1/account` show."""
    return Account.objects.filter(user=user).order_by("created_at").first()
