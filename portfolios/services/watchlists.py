"""Watchlists: create, rename, change their symbols, delete."""

from django.db import models, transaction

from marketdata import selectors as marketdata_selectors
from marketdata.models import Asset
from portfolios.models import Account, Watchlist, WatchlistEntry
from portfolios.services.common import locked_account
from speedtrade.errors import DomainError, NotFound

# Each write locks the watchlist row: concurrent edits of one list apply one after the other.


def _watchlist_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise DomainError("A watchlist name has 1 to 64 characters.", code="invalid_name", field="name")
    return name


def _watchlist_assets(symbols) -> list[Asset]:
    """The assets named, in order, each once; unknown symbols refuse the whole request."""
    found, unknown = marketdata_selectors.assets_by_symbols(symbols)
    if unknown:
        raise DomainError(f"Unknown symbol(s): {', '.join(unknown)}.", code="asset_not_found", field="symbols")
    return list({asset.pk: asset for asset in found.values()}.values())


def _watchlist_require_unique_name(account: Account, name: str, *, exclude=None) -> None:
    others = Watchlist.objects.filter(account=account, name=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise DomainError(f"You already have a watchlist named {name!r}.", code="watchlist_name_taken", field="name")


def _locked_watchlist(watchlist: Watchlist) -> Watchlist:
    return Watchlist.objects.select_for_update().get(pk=watchlist.pk)


def _watchlist_entries_write(watchlist: Watchlist, assets: list[Asset]) -> None:
    WatchlistEntry.objects.filter(watchlist=watchlist).delete()
    WatchlistEntry.objects.bulk_create(
        WatchlistEntry(watchlist=watchlist, asset=asset, position=index) for index, asset in enumerate(assets)
    )


@transaction.atomic
def watchlist_create(*, account: Account, name: str, symbols=()) -> Watchlist:
    name = _watchlist_name(name)
    assets = _watchlist_assets(symbols)
    # The account lock serialises creations, so two lists of one name cannot both pass the check.
    locked_account(account)
    _watchlist_require_unique_name(account, name)
    watchlist = Watchlist.objects.create(account=account, name=name)
    _watchlist_entries_write(watchlist, assets)
    return watchlist


@transaction.atomic
def watchlist_rename(*, watchlist: Watchlist, name: str) -> Watchlist:
    name = _watchlist_name(name)
    locked_account(watchlist.account)
    watchlist = _locked_watchlist(watchlist)
    _watchlist_require_unique_name(watchlist.account, name, exclude=watchlist)
    watchlist.name = name
    watchlist.save(update_fields=["name", "updated_at"])
    return watchlist


@transaction.atomic
def watchlist_symbols_set(*, watchlist: Watchlist, symbols) -> Watchlist:
    """Replace the list's assets with these, in this order."""
    assets = _watchlist_assets(symbols)
    watchlist = _locked_watchlist(watchlist)
    _watchlist_entries_write(watchlist, assets)
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic
def watchlist_symbol_add(*, watchlist: Watchlist, symbol: str) -> Watchlist:
    """Append one asset at the end of the list."""
    (asset,) = _watchlist_assets([symbol])
    watchlist = _locked_watchlist(watchlist)
    entries = WatchlistEntry.objects.filter(watchlist=watchlist)
    if entries.filter(asset=asset).exists():
        raise DomainError(
            f"{asset.symbol} is already in {watchlist.name!r}.", code="symbol_already_in_watchlist", field="symbol"
        )
    last = entries.aggregate(last=models.Max("position"))["last"]
    WatchlistEntry.objects.create(watchlist=watchlist, asset=asset, position=0 if last is None else last + 1)
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic
def watchlist_symbol_remove(*, watchlist: Watchlist, symbol: str) -> Watchlist:
    watchlist = _locked_watchlist(watchlist)
    found, _ = marketdata_selectors.assets_by_symbols([symbol])
    asset = found.get(symbol.strip())
    deleted = 0
    if asset is not None:
        deleted, _ = WatchlistEntry.objects.filter(watchlist=watchlist, asset=asset).delete()
    if not deleted:
        raise NotFound(f"{symbol} is not in {watchlist.name!r}.", code="symbol_not_in_watchlist", field="symbol")
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic
def watchlist_delete(*, watchlist: Watchlist) -> None:
    _locked_watchlist(watchlist).delete()


@transaction.atomic
def watchlist_update(*, watchlist: Watchlist, name: str | None = None, symbols=None) -> Watchlist:
    """Rename and/or replace the assets, all or nothing (Alpaca's PUT)."""
    if name is not None:
        watchlist = watchlist_rename(watchlist=watchlist, name=name)
    if symbols is not None:
        watchlist = watchlist_symbols_set(watchlist=watchlist, symbols=symbols)
    return watchlist
