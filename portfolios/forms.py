from django import forms

from portfolios.api.serializers import TransferInputSerializer
from portfolios.models import Account, Transfer
from speedtrade.forms import decimal_input, typed_number


class TransferForm(forms.Form):
    """Deposit or withdraw. The API's serializer parses the amount; the service applies the money rules."""

    direction = forms.ChoiceField(
        label="Transfer type",
        choices=[(Transfer.Direction.INCOMING, "Deposit"), (Transfer.Direction.OUTGOING, "Withdraw")],
        initial=Transfer.Direction.INCOMING,
        widget=forms.RadioSelect,
    )
    amount = decimal_input("Amount ($)", required=True)

    def transfer_data(self) -> dict | None:
        if not self.is_valid():
            return None
        data = {**self.cleaned_data, "amount": typed_number(self.cleaned_data["amount"])}
        serializer = TransferInputSerializer(data=data)
        if not serializer.is_valid():
            for name, messages in serializer.errors.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, str(message))
            return None
        return serializer.validated_data


class WatchlistNameForm(forms.Form):
    name = forms.CharField(label="Watchlist name", max_length=64)


class WatchlistSymbolForm(forms.Form):
    symbol = forms.CharField(label="Symbol", max_length=32, help_text="e.g. AAPL or BTC/USD")


class LotMethodForm(forms.Form):
    lot_method = forms.ChoiceField(
        label="Sell lots by",
        choices=Account.LotMethod.choices,
        help_text="Which shares a sale closes when you do not choose lots on the order's review step.",
    )
