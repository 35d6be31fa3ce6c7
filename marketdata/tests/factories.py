from decimal import Decimal

import factory

from marketdata.models import Asset


class AssetFactory(factory.django.DjangoModelFactory):
    """A fractionable US stock under $100."""

    class Meta:
        model = Asset
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"TST{n}")
    name = factory.LazyAttribute(lambda asset: f"{asset.symbol} Test Corp.")
    asset_class = Asset.AssetClass.US_EQUITY
    exchange = "NYSE"
    price_increment = Decimal("0.01")
    reference_price = Decimal("25.00")


class CryptoAssetFactory(AssetFactory):
    symbol = "BTC/USD"
    name = "Bitcoin"
    asset_class = Asset.AssetClass.CRYPTO
    exchange = "CRYPTO"
    min_order_size = Decimal("0.0001")
    price_increment = Decimal("1")
    reference_price = Decimal("65000")
