"""What the portfolio reads share: the ledger kinds, the trading date, ratios."""

from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from marketdata.calendars import ET
from portfolios.models import LedgerAccount
from speedtrade.money import ZERO, to_ratio

Kind = LedgerAccount.Kind


def today_et(at: datetime | None = None) -> date:
    """The trading date (New York) settlement is counted in."""
    return (at or timezone.now()).astimezone(ET).date()


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return to_ratio(numerator / denominator) if denominator else ZERO
