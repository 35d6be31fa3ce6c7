"""The user's own profile and preferences."""

from django.db import transaction

from accounts.models import User
from speedtrade.errors import InvalidInput, full_clean


@transaction.atomic
def user_update_profile(
    *, user: User, first_name: str | None = None, last_name: str | None = None, time_zone: str | None = None
) -> User:
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    if time_zone is not None:
        user.time_zone = time_zone
    full_clean(user)
    user.save(update_fields=["first_name", "last_name", "time_zone"])
    return user


def user_chart_indicators_set(*, user: User, names: list[str]) -> User:
    """Remember which indicators this user's trade chart shows; unknown names are refused, nothing saved."""
    from marketdata.indicators import INDICATOR_NAMES

    unknown = sorted(set(names) - set(INDICATOR_NAMES))
    if unknown:
        raise InvalidInput(
            {"indicators": f"Unknown indicator {unknown[0]!r}; choose among {', '.join(INDICATOR_NAMES)}."}
        )
    user.chart_indicators = [name for name in INDICATOR_NAMES if name in names]
    user.save(update_fields=["chart_indicators"])
    return user
