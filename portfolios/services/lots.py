"""Tax lots: a buy fill opens a lot, a sell fill closes lots; wash sales; the lots chosen on a ticket.

Called inside the fill's transaction (`fill_apply`) or the order's (`lot_selection_record`), with
the Account row locked; lot rows are locked after it (docs/notes/tax-lots.md has the rules and
worked examples).

Money is conserved to the cent: a closing takes `pro_rata_cents` of the lot's open basis for its
shares (the last shares take what is left), and of the sale's net proceeds; a wash sale moves the
disallowed loss of a closing into the basis of its replacement shares.
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum

from marketdata.calendars import ET
from marketdata.models import Asset
from portfolios.models import Account, JournalEntry, LotClosing, LotSelection, TaxLot
from speedtrade.errors import InvalidInput
from speedtrade.money import ZERO, pro_rata_cents

# IRS Publication 550: a purchase within 30 days before or after a loss sale is a wash sale.
WASH_SALE_WINDOW = timedelta(days=30)


def wash_sale_window(field: str, day: date) -> Q:
    """`field` from New York's midnight 30 days before `day` until the midnight after the 30th day after.

    Both ends matter when a fill is booked late (reconciliation): the sale or the purchase already
    booked may be later than the one being booked."""
    start = datetime.combine(day - WASH_SALE_WINDOW, datetime.min.time(), tzinfo=ET)
    end = datetime.combine(day + WASH_SALE_WINDOW + timedelta(days=1), datetime.min.time(), tzinfo=ET)
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


Method = Account.LotMethod


def lot_build(
    *, account: Account, asset: Asset, entry: JournalEntry, qty: Decimal, cost: Decimal, acquired_at: datetime
) -> TaxLot:
    """The lot of one buy fill (`cost`: its cash and fee), unsaved: `lot_open` saves one, a batch many together."""
    return TaxLot(
        account=account,
        asset=asset,
        opened_by=entry,
        acquired_at=acquired_at,
        holding_period_start=acquired_at.astimezone(ET).date(),
        qty=qty,
        open_qty=qty,
        cost=cost,
        open_basis=cost,
    )


def lot_open(
    *, account: Account, asset: Asset, entry: JournalEntry, qty: Decimal, cost: Decimal, acquired_at: datetime
) -> TaxLot:
    """Open the lot of one buy fill (`cost`: its cash and fee). Its shares first replace the
    unreplaced shares of loss sales of the last 30 days (wash sales), oldest sale first."""
    lot = lot_build(account=account, asset=asset, entry=entry, qty=qty, cost=cost, acquired_at=acquired_at)
    lot.save(force_insert=True)
    if asset.is_crypto:
        return lot
    bought_on = lot.holding_period_start
    earlier_losses = LotClosing.objects.select_for_update().filter(
        wash_sale_window("sold_at", bought_on), account=account, asset=asset, gain__lt=0
    )
    candidate: TaxLot | None = lot
    for closing in earlier_losses.order_by("sold_at", "id"):
        if candidate is None:
            break
        candidate = _wash_sale_replace(closing, candidate)
    return lot


def lots_close(
    *,
    account: Account,
    asset: Asset,
    entry: JournalEntry,
    qty: Decimal,
    net_proceeds: Decimal,
    sold_at: datetime,
    order_ref: str,
) -> list[LotClosing]:
    """Close `qty` shares of lots for one sell fill: the lots chosen for the order first, then the
    account's method. `net_proceeds` (the fill's cash less its fee) is shared pro rata by shares.
    A closing at a loss is then a wash sale for as many shares as were bought within 30 days before
    and are still held (not crypto)."""
    sold_on = sold_at.astimezone(ET).date()
    taken = _lots_for_sale(account=account, asset=asset, qty=qty, order_ref=order_ref)
    closings = lot_closings_build(taken, entry=entry, qty=qty, net_proceeds=net_proceeds, sold_at=sold_at)
    for closing in closings:
        closing.lot.save(update_fields=["open_qty", "open_basis"])
        closing.save(force_insert=True)
    if not asset.is_crypto:
        for closing in closings:
            if closing.gain < 0:
                _replace_with_recent_purchases(closing, sold_on)
    return closings


def lot_closings_build(
    taken: list[tuple[TaxLot, Decimal]], *, entry: JournalEntry, qty: Decimal, net_proceeds: Decimal, sold_at: datetime
) -> list[LotClosing]:
    """The closings (unsaved) of a sale of `qty` for `net_proceeds` that takes `taken` (lot, shares); each lot's
    open shares and basis are reduced in memory. Wash sales are the caller's (`lots_close`)."""
    sold_on = sold_at.astimezone(ET).date()
    closings = []
    qty_left, proceeds_left = qty, net_proceeds
    for lot, shares in taken:
        proceeds = pro_rata_cents(proceeds_left, shares, qty_left)
        basis = pro_rata_cents(lot.open_basis, shares, lot.open_qty)
        lot.open_qty -= shares
        lot.open_basis -= basis
        closings.append(
            LotClosing(
                account_id=lot.account_id,
                asset_id=lot.asset_id,
                lot=lot,
                closed_by=entry,
                qty=shares,
                acquired_at=lot.acquired_at,
                sold_at=sold_at,
                proceeds=proceeds,
                cost_basis=basis,
                gain=proceeds - basis,
                term=lot.term_if_sold_on(sold_on),
            )
        )
        qty_left -= shares
        proceeds_left -= proceeds
    return closings


def lot_selection_record(
    *,
    account: Account,
    asset: Asset,
    order_ref: str,
    side: str,
    qty: Decimal | None,
    lots: Sequence[tuple[int, Decimal]],
) -> list[LotSelection]:
    """Record the lots the customer chose for a sell order (`(lot id, shares)` in the order chosen).

    Refused (InvalidInput on `lots`) unless the order sells a quantity and each lot is one of this
    account's open lots of the asset, named once, with that many shares open, and the shares add up
    to the order's `qty`. Call in the order's transaction, with the Account row locked.
    """
    if side != JournalEntry.Side.SELL or qty is None:
        raise InvalidInput({"lots": ["Lots are chosen for a sale of a number of shares only."]})
    lot_ids = [lot_id for lot_id, _ in lots]
    held = {
        lot.pk: lot
        for lot in TaxLot.objects.select_for_update().filter(
            account=account, asset=asset, open_qty__gt=0, pk__in=lot_ids
        )
    }
    problems = []
    if len(set(lot_ids)) != len(lot_ids):
        problems.append("Name each lot once.")
    for lot_id, shares in lots:
        lot = held.get(lot_id)
        if lot is None:
            problems.append(f"Lot {lot_id} is not an open {asset.symbol} lot of this account.")
        elif not 0 < shares <= lot.open_qty:
            problems.append(f"Lot {lot_id} has {lot.open_qty.normalize():f} shares open; {shares} cannot be sold.")
    chosen = sum((shares for _, shares in lots), ZERO)
    if chosen != qty:
        problems.append(
            f"The lots chosen add up to {chosen.normalize():f} shares, not the order's {qty.normalize():f}."
        )
    if problems:
        raise InvalidInput({"lots": problems})
    return LotSelection.objects.bulk_create(
        LotSelection(account=account, order_ref=order_ref, lot=held[lot_id], qty=shares, open_qty=shares)
        for lot_id, shares in lots
    )


def _lots_for_sale(*, account: Account, asset: Asset, qty: Decimal, order_ref: str) -> list[tuple[TaxLot, Decimal]]:
    """Which lots a sale of `qty` closes, and how many shares of each (the lots and selections locked)."""
    lots = list(TaxLot.objects.select_for_update().filter(account=account, asset=asset, open_qty__gt=0))
    selections = (
        list(LotSelection.objects.select_for_update().filter(order_ref=order_ref, open_qty__gt=0)) if order_ref else []
    )
    open_before = [selection.open_qty for selection in selections]
    taken = lots_chosen(lots, qty=qty, method=account.lot_method, selections=selections)
    for selection, before in zip(selections, open_before, strict=True):
        if selection.open_qty != before:
            selection.save(update_fields=["open_qty"])
    return taken


def lots_chosen(
    lots: list[TaxLot], *, qty: Decimal, method: str, selections: Sequence[LotSelection] = ()
) -> list[tuple[TaxLot, Decimal]]:
    """Which of the open `lots` a sale of `qty` closes, and how many shares of each: the lots the customer
    chose for the order (`selections`, whose open shares are reduced in memory) first, then `method`'s order."""
    by_pk = {lot.pk: lot for lot in lots}
    chosen: dict[int, Decimal] = {}
    left = qty

    def take(lot: TaxLot, at_most: Decimal) -> Decimal:
        nonlocal left
        taken = min(at_most, lot.open_qty - chosen.get(lot.pk, ZERO), left)
        if taken > 0:
            chosen[lot.pk] = chosen.get(lot.pk, ZERO) + taken
            left -= taken
        return max(taken, ZERO)

    for selection in selections:
        lot = by_pk.get(selection.lot_id)
        if lot is not None and left:
            selection.open_qty -= take(lot, selection.open_qty)
    for lot in _in_method_order(lots, method):
        if not left:
            break
        take(lot, lot.open_qty)
    if left:
        raise ValueError(f"The open lots hold {qty - left}, not the {qty} sold: lots out of step.")
    return [(by_pk[lot_id], taken) for lot_id, taken in chosen.items()]


def _in_method_order(lots: list[TaxLot], method: str) -> list[TaxLot]:
    oldest_first = sorted(lots, key=lambda lot: (lot.acquired_at, lot.pk))
    if method == Method.LIFO:
        return oldest_first[::-1]
    if method == Method.HIFO:
        # Highest basis per open share first; among equals, the oldest.
        return sorted(oldest_first, key=lambda lot: lot.open_basis / lot.open_qty, reverse=True)
    return oldest_first


def _replace_with_recent_purchases(closing: LotClosing, sold_on: date) -> None:
    """A loss sale after purchases of the same security in the last 30 days: their held shares,
    oldest purchase first, replace the sold shares (never shares of the lot sold)."""
    candidates = (
        TaxLot.objects.select_for_update()
        .filter(
            wash_sale_window("acquired_at", sold_on),
            account=closing.account,
            asset=closing.asset,
            open_qty__gt=0,
            wash_sale_of__isnull=True,
        )
        .exclude(pk=closing.lot_id)
        .order_by("acquired_at", "id")
    )
    sold_purchase = closing.lot.opened_by_id
    for candidate in candidates:
        if sold_purchase is not None and candidate.opened_by_id == sold_purchase:
            continue  # shares of the same purchase are not replacements (Rev. Rul. 56-602)
        if _wash_sale_replace(closing, candidate) is not None:
            break


def _wash_sale_replace(closing: LotClosing, candidate: TaxLot) -> TaxLot | None:
    """Let `candidate`'s open shares replace the closing's unreplaced shares; returns what is left of
    the candidate (None when it was all used, or the closing is already fully replaced).

    The replacement shares become a lot of their own (split off unless they are the whole lot), whose
    basis takes the disallowed loss, pro rata to the shares replaced, and whose holding period
    starts earlier by the days the sold shares were held.
    """
    replaced = TaxLot.objects.filter(wash_sale_of=closing).aggregate(qty=Sum("qty"))["qty"] or ZERO
    unreplaced = closing.qty - replaced
    if unreplaced <= 0:
        return candidate
    shares = min(unreplaced, candidate.open_qty)
    if shares == candidate.qty:
        replacement, rest = candidate, None
    else:
        moved = pro_rata_cents(candidate.open_basis, shares, candidate.open_qty)
        replacement = TaxLot.objects.create(
            account=candidate.account,
            asset=candidate.asset,
            opened_by=candidate.opened_by,
            split_from=candidate,
            acquired_at=candidate.acquired_at,
            holding_period_start=candidate.holding_period_start,
            qty=shares,
            open_qty=shares,
            cost=moved,
            open_basis=moved,
        )
        candidate.qty -= shares
        candidate.open_qty -= shares
        candidate.cost -= moved
        candidate.open_basis -= moved
        candidate.save(update_fields=["qty", "open_qty", "cost", "open_basis"])
        rest = candidate if candidate.open_qty else None
    loss = -closing.gain
    disallowed = pro_rata_cents(loss, replaced + shares, closing.qty) - closing.wash_sale_disallowed
    sold_for = closing.sold_at.astimezone(ET).date() - closing.lot.holding_period_start
    replacement.wash_sale_of = closing
    replacement.wash_sale_adjustment = disallowed
    replacement.open_basis += disallowed
    replacement.holding_period_start -= sold_for
    replacement.save(update_fields=["wash_sale_of", "wash_sale_adjustment", "open_basis", "holding_period_start"])
    closing.wash_sale_disallowed += disallowed
    closing.save(update_fields=["wash_sale_disallowed"])
    return rest
