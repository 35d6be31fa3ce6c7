"""The account's watchlists."""

from django.db.models import Prefetch

from portfolios.models import Account, Watchlist, WatchlistEntry


def _watchlists(account: Account):
    entries = WatchlistEntry.objects.select_related("asset").order_by("position")
    return Watchlist.objects.filter(account=account).prefetch_related(Prefetch("entries", queryset=entries))


def watchlist_list(*, account: Account) -> list[Watchlist]:
    """The account's watchlists with their assets in order (three queries, however many lists)."""
    return list(_watchlists(account))


def watchlist_get(*, account: Account, watchlist_id=None, name: str | None = None) -> Watchlist | None:
    """One of the account's watchlists by id or by name; None for anyone else's."""
    watchlists = _watchlists(account)
    if watchlist_id is not None:
        return watchlists.filter(pk=watchlist_id).first()
    return watchlists.filter(name=name).first()
