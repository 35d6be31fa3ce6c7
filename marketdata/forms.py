from decimal import Decimal
from typing import cast

from django import forms

from marketdata.models import Asset
from marketdata.selectors import SCREENER_SORT_KEYS

UNDER_100 = Decimal("100")


class ScreenerForm(forms.Form):
    """The screener's filters (GET). Empty means "any"; the price ceiling starts at $100."""

    q = forms.CharField(label="Search", required=False, max_length=64, help_text="Symbol or company name")
    asset_class = forms.ChoiceField(
        label="Asset class",
        required=False,
        choices=[("", "All"), (Asset.AssetClass.US_EQUITY, "Stocks"), (Asset.AssetClass.CRYPTO, "Crypto")],
    )
    min_price = forms.DecimalField(label="Min price ($)", required=False, min_value=0, decimal_places=2)
    max_price = forms.DecimalField(label="Max price ($)", required=False, min_value=0, decimal_places=2)
    sort = forms.ChoiceField(
        label="Sort by", required=False, choices=[(key, key.capitalize()) for key in SCREENER_SORT_KEYS]
    )
    order = forms.ChoiceField(label="Order", required=False, choices=[("asc", "Ascending"), ("desc", "Descending")])

    def __init__(self, data):
        # An untouched screener is the "under $100" universe.
        data = data.copy() if data else {"max_price": str(UNDER_100)}
        super().__init__(data)

    def clean(self):
        cleaned = cast(dict, super().clean())  # Form.clean returns cleaned_data (the stubs allow an override's None)
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The max price must not be below the min price.")
        return cleaned

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "asset_class": data["asset_class"],
            "search": data["q"],
            "min_price": data["min_price"],
            "max_price": data["max_price"],
            "sort": data["sort"] or "symbol",
            "descending": data["order"] == "desc",
        }
