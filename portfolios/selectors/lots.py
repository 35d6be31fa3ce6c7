"""Tax lots: the open lots of an account, and its realized gains (lot closings) over a period."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet, Sum

from marketdata.models import Asset
from portfolios.models import Account, LotClosing, TaxLot
from speedtrade.money import ZERO


def open_lots(*, account: Account, asset: Asset | None = None) -> QuerySet[TaxLot]:
    """The lots with shares still held, oldest first (FIFO's order), asset selected."""
    lots = TaxLot.objects.filter(account=account, open_qty__gt=0).select_related("asset")
    if asset is not None:
        lots = lots.filter(asset=asset)
    return lots.order_by("acquired_at", "id")


def lot_closings(*, account: Account, since: datetime, until: datetime) -> QuerySet[LotClosing]:
    """Sales of lots with `since <= sold_at < until`, in the order sold, asset and lot selected."""
    return (
        LotClosing.objects.filter(account=account, sold_at__gte=since, sold_at__lt=until)
        .select_related("asset", "lot")
        .order_by("sold_at", "id")
    )


@dataclass(frozen=True)
class RealizedGains:
    """Gains as reported (wash-sale disallowed losses added back), split by holding period."""

    short_term: Decimal
    long_term: Decimal
    wash_sale_disallowed: Decimal

    @property
    def total(self) -> Decimal:
        return self.short_term + self.long_term


def realized_gains(*, account: Account, since: datetime, until: datetime) -> RealizedGains:
    figures = {
        term: lot_closings(account=account, since=since, until=until)
        .filter(term=term)
        .aggregate(gain=Sum("gain"), disallowed=Sum("wash_sale_disallowed"))
        for term in LotClosing.Term.values
    }
    short, long = figures[LotClosing.Term.SHORT], figures[LotClosing.Term.LONG]
    return RealizedGains(
        short_term=(short["gain"] or ZERO) + (short["disallowed"] or ZERO),
        long_term=(long["gain"] or ZERO) + (long["disallowed"] or ZERO),
        wash_sale_disallowed=(short["disallowed"] or ZERO) + (long["disallowed"] or ZERO),
    )
