"""Watchlists: the account's lists of symbols with live prices. Every write goes through
portfolios' watchlist services; another user's list is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from marketdata.selectors import price_changes
from portfolios import selectors, services
from portfolios.forms import WatchlistNameForm, WatchlistSymbolForm
from speedtrade.errors import DomainError
from speedtrade.forms import add_domain_error


def _account_or_404(request):
    account = selectors.primary_account(user=request.user)
    if account is None:
        raise Http404("No brokerage account.")
    return account


def _watchlist_or_404(request, watchlist_id):
    watchlist = selectors.watchlist_get(account=_account_or_404(request), watchlist_id=watchlist_id)
    if watchlist is None:
        raise Http404("No such watchlist.")
    return watchlist


def _page(request, account, *, create_form=None, status=200):
    watchlists = selectors.watchlist_list(account=account)
    assets = {entry.asset.pk: entry.asset for w in watchlists for entry in w.entries.all()}
    # One quote read (MGET) for every list on the page.
    changes = {row.asset.pk: row for row in price_changes(assets.values())}
    rows = {w.pk: [changes[entry.asset.pk] for entry in w.entries.all()] for w in watchlists}
    return render(
        request,
        "portfolios/watchlists.html",
        {
            "watchlists": [(w, rows[w.pk]) for w in watchlists],
            "create_form": create_form or WatchlistNameForm(auto_id="new_%s"),
        },
        status=status,
    )


def _back_to(watchlist):
    return redirect(f"{reverse('watchlists')}#watchlist-{watchlist.pk}")


@login_required
@require_http_methods(["GET", "POST"])
def watchlists(request):
    account = _account_or_404(request)
    if request.method == "GET":
        return _page(request, account)
    form = WatchlistNameForm(request.POST, auto_id="new_%s")
    if form.is_valid():
        try:
            watchlist = services.watchlist_create(account=account, name=form.cleaned_data["name"])
        except DomainError as refusal:
            add_domain_error(form, refusal)
        else:
            messages.success(request, f"Watchlist “{watchlist.name}” created.")
            return _back_to(watchlist)
    return _page(request, account, create_form=form, status=422)


def _write(request, watchlist, write, success: str):
    """Run one service call; a refusal becomes a message and nothing is written."""
    try:
        write()
    except DomainError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, success)
    return _back_to(watchlist)


@login_required
@require_POST
def watchlist_rename(request, watchlist_id):
    watchlist = _watchlist_or_404(request, watchlist_id)
    name = request.POST.get("name", "")
    return _write(
        request, watchlist, lambda: services.watchlist_rename(watchlist=watchlist, name=name), f"Renamed to “{name}”."
    )


@login_required
@require_POST
def watchlist_delete(request, watchlist_id):
    watchlist = _watchlist_or_404(request, watchlist_id)
    services.watchlist_delete(watchlist=watchlist)
    messages.success(request, f"Watchlist “{watchlist.name}” deleted.")
    return redirect("watchlists")


@login_required
@require_POST
def watchlist_symbol_add(request, watchlist_id):
    watchlist = _watchlist_or_404(request, watchlist_id)
    form = WatchlistSymbolForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a symbol to add, e.g. AAPL or BTC/USD.")
        return _back_to(watchlist)
    symbol = form.cleaned_data["symbol"].strip().upper()
    return _write(
        request,
        watchlist,
        lambda: services.watchlist_symbol_add(watchlist=watchlist, symbol=symbol),
        f"{symbol} added to “{watchlist.name}”.",
    )


@login_required
@require_POST
def watchlist_symbol_remove(request, watchlist_id):
    watchlist = _watchlist_or_404(request, watchlist_id)
    symbol = request.POST.get("symbol", "")
    return _write(
        request,
        watchlist,
        lambda: services.watchlist_symbol_remove(watchlist=watchlist, symbol=symbol),
        f"{symbol} removed from “{watchlist.name}”.",
    )
