"""Buying-power and share reservations, called by trading with the Account row locked."""

from decimal import Decimal

from django.db import models
from django.db.models import F

from marketdata.models import Asset
from portfolios.models import Account, LedgerAccount, Position
from portfolios.services.common import Kind, require_positive_cents, require_positive_qty
from speedtrade.errors import DomainError
from speedtrade.money import cents_in_db, qty_in_db

# Counters on one row instead of journal entries: reserving is part of order entry (target
# 1,000 orders/s) and moves no money, so it is one conditional UPDATE. The per-order
# amounts live on trading's order rows; `verify_ledger` compares their sum with these.


def cash_reserve(*, account: Account, amount: Decimal, order_ref: str) -> None:
    """Hold `amount` of buying power for an open buy order. A cash account can never hold
    more than its cash (checked in the same UPDATE); margin checks are trading's."""
    require_positive_cents(amount)
    rows = (
        LedgerAccount.objects.filter(account=account, kind=Kind.CASH)
        .filter(models.Q(allow_negative=True) | models.Q(balance__gte=cents_in_db(F("reserved") + amount)))
        .update(reserved=cents_in_db(F("reserved") + amount))
    )
    if rows != 1:
        raise DomainError(f"Insufficient buying power for order {order_ref}.", code="insufficient_buying_power")


def cash_release(*, account: Account, amount: Decimal, order_ref: str) -> None:
    """Give back buying power an order no longer needs (fill, cancel, rejection)."""
    require_positive_cents(amount)
    rows = LedgerAccount.objects.filter(account=account, kind=Kind.CASH, reserved__gte=amount).update(
        reserved=cents_in_db(F("reserved") - amount)
    )
    if rows != 1:
        raise ValueError(f"Order {order_ref} releases {amount}, more than the account has reserved.")


def position_reserve(*, account: Account, asset: Asset, qty: Decimal, order_ref: str) -> None:
    """Hold shares for an open sell order, so two orders cannot sell the same share."""
    require_positive_qty(qty)
    rows = Position.objects.filter(account=account, asset=asset, qty__gte=qty_in_db(F("reserved_qty") + qty)).update(
        reserved_qty=qty_in_db(F("reserved_qty") + qty)
    )
    if rows != 1:
        raise DomainError(
            f"Order {order_ref} sells more {asset.symbol} than is held and not already on sale.",
            code="insufficient_qty",
            field="qty",
        )


def position_release(*, account: Account, asset: Asset, qty: Decimal, order_ref: str) -> None:
    require_positive_qty(qty)
    rows = Position.objects.filter(account=account, asset=asset, reserved_qty__gte=qty).update(
        reserved_qty=qty_in_db(F("reserved_qty") - qty)
    )
    if rows != 1:
        raise ValueError(f"Order {order_ref} releases {qty} {asset.symbol}, more than is reserved.")
