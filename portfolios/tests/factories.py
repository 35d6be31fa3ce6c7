from decimal import Decimal

import factory

from marketdata.models import Asset


class AssetFactory(factory.django.DjangoModelFactory):
    """A US stock by default; `crypto=True` for a coin pair."""

    class Meta:
        model = Asset
        django_get_or_create = ("symbol",)

    class Params:
        crypto = factory.Trait(
            asset_class=Asset.AssetClass.CRYPTO, exchange="CRYPTO", symbol="BTC/USD", marginable=False
        )

    symbol = factory.Sequence(lambda n: f"SYM{n}")
    name = factory.LazyAttribute(lambda asset: f"{asset.symbol} Inc.")
    asset_class = Asset.AssetClass.US_EQUITY
    exchange = "NASDAQ"
    marginable = True
    reference_price = Decimal("10.00")
