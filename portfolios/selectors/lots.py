"""Tax lots: the open lots of an account, its realized gains (lot closings) over a period, and the
lots' check against positions and the ledger (`verify_ledger`)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Q, QuerySet, Sum

from marketdata.calendars import ET
from marketdata.models import Asset
from portfolios.models import Account, JournalEntry, LedgerAccount, LotClosing, Position, TaxLot
from speedtrade.money import ZERO, to_cents, to_price

LOTS_MIGRATION = "0008_tax_lots"


def open_lots(*, account: Account, asset: Asset | None = None) -> QuerySet[TaxLot]:
    """The lots with shares still held, oldest first (FIFO's order), asset selected."""
    lots = TaxLot.objects.filter(account=account, open_qty__gt=0).select_related("asset")
    if asset is not None:
        lots = lots.filter(asset=asset)
    return lots.order_by("acquired_at", "id")


@dataclass(frozen=True)
class LotValuation:
    """An open lot as the customer reads it: its basis per share and its gain or loss at `price`."""

    lot: TaxLot
    basis_per_share: Decimal
    market_value: Decimal | None
    unrealized_gain: Decimal | None
    term_if_sold: str  # the holding period a sale on the day valued would have


def lot_valuations(*, account: Account, asset: Asset, price: Decimal | None, on: date) -> list[LotValuation]:
    """The account's open lots of `asset`, oldest first, valued at `price` (None: no price known)."""
    valuations = []
    for lot in open_lots(account=account, asset=asset):
        value = None if price is None else to_cents(lot.open_qty * price)
        valuations.append(
            LotValuation(
                lot=lot,
                basis_per_share=to_price(lot.open_basis / lot.open_qty),
                market_value=value,
                unrealized_gain=None if value is None else value - lot.open_basis,
                term_if_sold=lot.term_if_sold_on(on),
            )
        )
    return valuations


def lot_closings(*, account: Account, since: datetime, until: datetime) -> QuerySet[LotClosing]:
    """Sales of lots with `since <= sold_at < until`, in the order sold, asset and lot selected."""
    return (
        LotClosing.objects.filter(account=account, sold_at__gte=since, sold_at__lt=until)
        .select_related("asset", "lot")
        .order_by("sold_at", "id")
    )


def tax_year_bounds(year: int) -> tuple[datetime, datetime]:
    """The tax year as `lot_closings`' `since` and `until`: from New York's midnight of 1 January
    (a trade's date is its New York date)."""
    return datetime(year, 1, 1, tzinfo=ET), datetime(year + 1, 1, 1, tzinfo=ET)


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


def lots_kept_since() -> datetime | None:
    """When lots began to be kept: migration 0008, which opened lots for the positions then held."""
    applied = MigrationRecorder.Migration.objects.filter(app="portfolios", name=LOTS_MIGRATION).first()
    return applied.applied if applied else None


def lot_discrepancies() -> list[str]:
    """Everything wrong with the tax lots, as sentences; empty when they agree with the books.

    Each check is an identity the booking keeps exactly, so any difference is a fault:
    * per account and asset, the open lots' shares equal the position's quantity;
    * per lot, open shares = shares − shares closed, and open basis = cost + wash-sale adjustment
      − the closings' cost basis (basis is conserved: splits move shares and cost between lots);
    * per closing, the loss disallowed equals the adjustments of the lots that replaced it;
    * per fill booked since lots were kept (grouped with its fee entry by cause, time and side):
      a buy's lots hold its shares and cost its cash plus fee; a sell's closings hold its shares
      and share its cash less fee as proceeds. Fills before then are covered by the lot migration
      0008 opened per held position, at the position's cost.
    """
    problems = []
    held = {(p.account_id, p.asset_id): p.qty for p in Position.objects.filter(qty__gt=0)}
    in_lots = {
        (row["account_id"], row["asset_id"]): row["qty"]
        for row in TaxLot.objects.filter(open_qty__gt=0).values("account_id", "asset_id").annotate(qty=Sum("open_qty"))
    }
    for key in held.keys() | in_lots.keys():
        if held.get(key, ZERO) != in_lots.get(key, ZERO):
            problems.append(
                f"account {key[0]} asset {key[1]}: open lots hold {in_lots.get(key, ZERO)}, "
                f"the position {held.get(key, ZERO)}"
            )
    closed = {
        row["lot_id"]: row
        for row in LotClosing.objects.values("lot_id").annotate(qty=Sum("qty"), basis=Sum("cost_basis"))
    }
    replaced = dict(
        TaxLot.objects.filter(wash_sale_of__isnull=False)
        .values("wash_sale_of_id")
        .annotate(total=Sum("wash_sale_adjustment"))
        .values_list("wash_sale_of_id", "total")
    )
    for lot in TaxLot.objects.all():
        closing = closed.get(lot.pk, {"qty": ZERO, "basis": ZERO})
        if lot.open_qty != lot.qty - closing["qty"]:
            problems.append(f"lot {lot.pk}: {lot.open_qty} open ≠ {lot.qty} − {closing['qty']} closed")
        if lot.open_basis != lot.cost + lot.wash_sale_adjustment - closing["basis"]:
            problems.append(
                f"lot {lot.pk}: open basis {lot.open_basis} ≠ {lot.cost} + {lot.wash_sale_adjustment} − "
                f"{closing['basis']} closed"
            )
    for closing_id, disallowed in LotClosing.objects.values_list("pk", "wash_sale_disallowed"):
        if disallowed != replaced.get(closing_id, ZERO):
            problems.append(
                f"lot closing {closing_id}: {disallowed} disallowed ≠ {replaced.get(closing_id, ZERO)} "
                "added to replacement lots"
            )
    since = lots_kept_since()
    if since is not None:
        problems += _fill_discrepancies(since)
    return problems


def _fill_discrepancies(since: datetime) -> list[str]:
    lots = {
        row["opened_by_id"]: (row["qty"], row["cost"])
        for row in TaxLot.objects.filter(opened_by__isnull=False)
        .values("opened_by_id")
        .annotate(qty=Sum("qty"), cost=Sum("cost"))
    }
    closings = {
        row["closed_by_id"]: (row["qty"], row["proceeds"])
        for row in LotClosing.objects.values("closed_by_id").annotate(qty=Sum("qty"), proceeds=Sum("proceeds"))
    }
    customer_cash = Sum("lines__amount", filter=Q(lines__ledger_account__kind=LedgerAccount.Kind.CASH))

    def key(row: dict, side: str) -> tuple:
        return (row["account_id"], row["cause_content_type_id"], row["cause_object_id"], row["effective_at"], side)

    # What the books say, per fill and its fee: shares, and cash (fill cash less fee, signed for the customer).
    booked: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    recorded: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    fills = (
        JournalEntry.objects.filter(cause_type=JournalEntry.Cause.FILL, created_at__gte=since)
        .values("id", "account_id", "cause_content_type_id", "cause_object_id", "effective_at", "side", "qty")
        .annotate(cash=customer_cash)
    )
    for fill in fills:
        group = key(fill, fill["side"])
        booked[group][0] += fill["qty"]
        booked[group][1] += fill["cash"]
        if fill["side"] == JournalEntry.Side.BUY:
            qty, cost = lots.get(fill["id"], (ZERO, ZERO))
            recorded[group][0] += qty
            recorded[group][1] -= cost
        else:
            qty, proceeds = closings.get(fill["id"], (ZERO, ZERO))
            recorded[group][0] += qty
            recorded[group][1] += proceeds
    fees = (
        JournalEntry.objects.filter(cause_type=JournalEntry.Cause.FEE, created_at__gte=since)
        .values("account_id", "cause_content_type_id", "cause_object_id", "effective_at", "memo")
        .annotate(cash=customer_cash)
    )
    for fee in fees:
        group = key(fee, fee["memo"].split(" ", 1)[0])  # the fee's memo starts with the fill's side
        if group in booked:
            booked[group][1] += fee["cash"]
    return [
        f"{group[4]} fill(s) of account {group[0]} at {group[3]:%Y-%m-%d %H:%M:%S}: lots record "
        f"{recorded[group][0]} shares and {recorded[group][1]} cash, the ledger {shares} and {cash}"
        for group, (shares, cash) in booked.items()
        if recorded[group] != [shares, cash]
    ]
