import django_filters
from django.db.models import Q

from marketdata.models import Asset
from marketdata.selectors import latest_prices


class AssetFilter(django_filters.FilterSet):
    asset_class = django_filters.ChoiceFilter(choices=Asset.AssetClass.choices)
    status = django_filters.ChoiceFilter(choices=Asset.Status.choices)
    tradable = django_filters.BooleanFilter()
    fractionable = django_filters.BooleanFilter()
    q = django_filters.CharFilter(method="filter_search", label="Search in symbol and name")
    min_price = django_filters.NumberFilter(method="filter_noop", label="Latest price at least")
    max_price = django_filters.NumberFilter(method="filter_noop", label="Latest price at most")

    class Meta:
        model = Asset
        fields = ["asset_class", "status", "tradable", "fractionable"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(symbol__icontains=value) | Q(name__icontains=value))

    def filter_noop(self, queryset, name, value):
        return queryset  # applied together in filter_queryset, after the database filters

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        low, high = self.form.cleaned_data.get("min_price"), self.form.cleaned_data.get("max_price")
        if low is None and high is None:
            return queryset
        # The latest price lives in the quote store, not the database: price the
        # (already narrowed) candidates in one batch, then keep the matching ids.
        prices = latest_prices(queryset)
        matching = [
            pk for pk, price in prices.items() if (low is None or price >= low) and (high is None or price <= high)
        ]
        return queryset.filter(pk__in=matching)
