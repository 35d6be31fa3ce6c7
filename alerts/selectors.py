from django.db.models import QuerySet

from alerts.models import PriceAlert


def alert_list(*, user, status: str | None = None, symbol: str | None = None) -> QuerySet[PriceAlert]:
    alerts = PriceAlert.objects.filter(user=user)
    if status:
        alerts = alerts.filter(status=status)
    if symbol:
        alerts = alerts.filter(symbol=symbol)
    return alerts
