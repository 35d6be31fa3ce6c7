"""Home (account summary, equity curve, positions, open orders, activity), tax lots and transfers. Figures
come from portfolios' selectors only: the page shows the same numbers as `GET /api/v1/account`."""

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.selectors import kyc_status, onboarding_progress
from portfolios import selectors, services
from portfolios.forms import LotMethodForm, TransferForm
from portfolios.models import Transfer
from portfolios.pricing import prices_for, valuation_at_market
from speedtrade.errors import DomainError
from speedtrade.forms import add_domain_error
from trading.selectors import orders_by_status

# Equity-curve choices: period → bucket (portfolio_history's names).
HISTORY_RANGES = {"1D": "15Min", "1W": "1H", "1M": "1D", "3M": "1D", "1A": "1D"}
RECENT_ACTIVITIES = 10
OPEN_ORDERS_SHOWN = 20


def _live_context(account) -> dict:
    """What the live part of Home shows; re-rendered alone when a fill or transfer arrives."""
    valuation = valuation_at_market(account=account)
    open_orders = list(orders_by_status(account=account, status="open").order_by("-created_at")[:OPEN_ORDERS_SHOWN])
    return {
        "valuation": valuation,
        "positions": sorted(valuation.positions, key=lambda p: p.market_value, reverse=True),
        "open_orders": open_orders,
        "activities": selectors.account_activities(account=account, page_size=RECENT_ACTIVITIES),
    }


@login_required
def home(request):
    progress = onboarding_progress(user=request.user)
    account = selectors.primary_account(user=request.user)
    if account is None or not progress.kyc.approved:
        # Nothing to trade or fund until KYC is approved: Home is the checklist that leads there.
        return render(request, "portfolios/home_onboarding.html", {"progress": progress})
    period = request.GET.get("period", "1M")
    if period not in HISTORY_RANGES:
        period = "1M"
    history = selectors.portfolio_history(account=account, period=period, timeframe=HISTORY_RANGES[period])
    context = {
        **_live_context(account),
        "period": period,
        "periods": list(HISTORY_RANGES),
        "equity_curve": [
            {"time": timestamp, "value": str(equity)}
            for timestamp, equity in zip(history.timestamp, history.equity, strict=True)
        ],
    }
    return render(request, "portfolios/home.html", context)


@login_required
def home_live(request):
    account = selectors.primary_account(user=request.user)
    if account is None:
        raise Http404
    return render(request, "portfolios/_account_live.html", _live_context(account))


def _own_account(request):
    account = selectors.primary_account(user=request.user)
    if account is None:
        raise Http404("No brokerage account yet.")
    return account


@login_required
@csp_update(settings.PLAID_LINK_CSP)
def transfers(request):
    account = _own_account(request)
    form = TransferForm(request.POST or None)
    status = 200
    if request.method == "POST":
        data = form.transfer_data()
        if data is not None:
            try:
                transfer = services.transfer_create(account=account, actor=request.user, request=request, **data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                verb = "Deposit" if transfer.direction == Transfer.Direction.INCOMING else "Withdrawal"
                messages.success(request, f"{verb} of ${transfer.amount:,} requested.")
                return redirect("transfers")
        status = 422
    context = {
        "form": form,
        "transfers": Transfer.objects.filter(account=account).order_by("-created_at")[:50],
        "withdrawable": selectors.withdrawable_cash(account=account),
        # The service refuses these accounts; the page says why first (and where to finish onboarding).
        "transfer_refusal": selectors.transfer_refusal_reason(account=account),
        "kyc_approved": kyc_status(user=request.user).approved,
        "bank_rail": settings.BANK_RAIL,
        "bank_links": account.bank_links.all() if settings.BANK_RAIL == "plaid" else [],
        "plaid_link_script": settings.PLAID_LINK_SCRIPT_URL,
    }
    return render(request, "portfolios/transfers.html", context, status=status)


@login_required
@require_POST
def transfer_cancel(request, transfer_id):
    account = _own_account(request)
    transfer = Transfer.objects.filter(account=account, pk=transfer_id).first()
    if transfer is None:
        raise Http404
    try:
        services.transfer_cancel(transfer=transfer, actor=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Transfer canceled.")
    return redirect("transfers")


@login_required
def tax_lots(request):
    """Open lots per holding (basis, wash-sale adjustments, gain at the latest price), this year's realized
    gains, and the lot method (POST changes it)."""
    account = _own_account(request)
    form = LotMethodForm(request.POST or None, initial={"lot_method": account.lot_method})
    if request.method == "POST" and form.is_valid():
        try:
            services.account_lot_method_set(
                account=account, lot_method=form.cleaned_data["lot_method"], actor=request.user, request=request
            )
            messages.success(request, f"Sales now close lots {form.cleaned_data['lot_method'].upper()} by default.")
            return redirect("tax_lots")
        except DomainError as exc:
            add_domain_error(form, exc)
    today = selectors.today_et()
    assets = {lot.asset_id: lot.asset for lot in selectors.open_lots(account=account)}
    prices, _ = prices_for(assets.values())
    holdings = [
        (asset, selectors.lot_valuations(account=account, asset=asset, price=prices.get(asset.pk), on=today))
        for asset in sorted(assets.values(), key=lambda asset: asset.symbol)
    ]
    since, until = selectors.tax_year_bounds(today.year)
    gains = selectors.realized_gains(account=account, since=since, until=until)
    context = {"form": form, "holdings": holdings, "gains": gains, "year": today.year}
    return render(request, "portfolios/tax_lots.html", context, status=422 if form.errors else 200)
