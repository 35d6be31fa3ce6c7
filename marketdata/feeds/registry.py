"""Which feed a provider name means.

A provider is a module with a factory `build_feed(settings) -> QuoteFeed`. Names
with an argument, `ccxt:<exchange id>`, call `build_feed(settings, "<exchange id>")`.
Factories are imported lazily, so a provider's library loads only when it is used.
`asset_classes` says which assets `run_feed` asks the provider for.
"""

from dataclasses import dataclass

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from marketdata.calendars import CRYPTO, US_EQUITY
from marketdata.feeds.base import QuoteFeed


@dataclass(frozen=True)
class Provider:
    factory: str  # dotted path of build_feed
    asset_classes: tuple[str, ...]
    takes_argument: bool = False


PROVIDERS = {
    "simulated": Provider("marketdata.feeds.simulated.build_feed", (US_EQUITY, CRYPTO)),
    "alpaca": Provider("marketdata.feeds.alpaca.build_feed", (US_EQUITY, CRYPTO)),
    "ccxt": Provider("marketdata.feeds.ccxt_feed.build_feed", (CRYPTO,), takes_argument=True),
    "polygon": Provider("marketdata.feeds.polygon_feed.build_feed", (US_EQUITY,)),
}


class UnknownProvider(ValueError):
    pass


def provider_for(name: str) -> tuple[Provider, str | None]:
    """`("ccxt", "kraken")` style lookup of a provider name; raises UnknownProvider."""
    base, _, argument = name.partition(":")
    provider = PROVIDERS.get(base)
    if provider is None:
        raise UnknownProvider(f"Unknown feed provider {name!r}; choose from {', '.join(PROVIDERS)} (ccxt:<exchange>).")
    if provider.takes_argument != bool(argument):
        form = f"{base}:<exchange id>" if provider.takes_argument else base
        raise UnknownProvider(f"Feed provider {name!r} must be written {form!r}.")
    return provider, argument or None


def build_feed(name: str, settings=None) -> tuple[QuoteFeed, tuple[str, ...]]:
    """The feed for provider `name` and the asset classes it serves."""
    provider, argument = provider_for(name)
    factory = import_string(provider.factory)
    settings = settings or django_settings
    feed = factory(settings, argument) if argument else factory(settings)
    return feed, provider.asset_classes
