"""The one place portfolios asks for prices. Everything else takes prices as arguments."""

from collections.abc import Iterable
from decimal import Decimal
from uuid import UUID

from marketdata.models import Asset


def prices_for(assets: Iterable[Asset]) -> tuple[dict[UUID, Decimal], dict[UUID, Decimal]]:
    """(latest price, previous session close) per asset id.

    WIRE AT MERGE: marketdata.selectors — replace both with
    `marketdata.selectors.latest_prices(assets)` and `marketdata.selectors.previous_closes(assets)`.
    Until then the asset's reference price stands in for both.
    """
    assets = list(assets)
    reference = {asset.pk: asset.reference_price for asset in assets}
    return reference, dict(reference)
