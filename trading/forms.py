"""The web order ticket and the replace form.

The forms only shape what the page shows; the API's serializers parse the values and
`trading.services` judges them, so the web and the API can never disagree about an order.
"""

import uuid
from typing import cast

from django import forms

from speedtrade.forms import decimal_input, typed_number
from trading.api.serializers import OrderCreateSerializer, OrderReplaceSerializer
from trading.models import Order
from trading.risk import OrderRequest

T = Order.Type
TIF = Order.TimeInForce
# Which price fields each order type shows (and sends): a hidden field never reaches the service.
PRICE_FIELDS_BY_TYPE = {
    T.MARKET: (),
    T.LIMIT: ("limit_price",),
    T.STOP: ("stop_price",),
    T.STOP_LIMIT: ("stop_price", "limit_price"),
    T.TRAILING_STOP: ("trail_percent",),
}
CRYPTO_TIME_IN_FORCE = [(TIF.GTC, "Good till canceled"), (TIF.IOC, "Immediate or cancel")]
EQUITY_TIME_IN_FORCE = [(TIF.DAY, "Day"), *CRYPTO_TIME_IN_FORCE, (TIF.FOK, "Fill or kill")]
OC = Order.OrderClass
ORDER_CLASSES = [
    (OC.SIMPLE, "Simple"),
    (OC.BRACKET, "Bracket: buy, then take profit and stop loss"),
    (OC.OTO, "One-triggers-other: buy, then one exit"),
    (OC.OCO, "One-cancels-other: two exits for shares you hold"),
]
# The ticket's flat leg fields → the API's nested `take_profit` / `stop_loss` objects (and back, for errors).
LEG_FIELDS = {
    "take_profit_limit_price": ("take_profit", "limit_price"),
    "stop_loss_stop_price": ("stop_loss", "stop_price"),
    "stop_loss_limit_price": ("stop_loss", "limit_price"),
}
LEG_ERROR_FIELD = {"take_profit": "take_profit_limit_price", "stop_loss": "stop_loss_stop_price"}
# The review step's box for the shares to sell from one tax lot: `lot-<lot id>`.
LOT_INPUT_PREFIX = "lot-"
ORDER_TYPES = [
    (T.MARKET, "Market"),
    (T.LIMIT, "Limit"),
    (T.STOP, "Stop"),
    (T.STOP_LIMIT, "Stop limit"),
    (T.TRAILING_STOP, "Trailing stop"),
]


def _apply_serializer_errors(form: forms.Form, errors: dict) -> None:
    visible = getattr(form, "visible_field", lambda name: name)
    for name, messages in errors.items():
        if isinstance(messages, dict):  # a nested leg: {"take_profit": {"limit_price": [...]}}
            for part, inner in messages.items():
                flat = next((f for f, path in LEG_FIELDS.items() if path == (name, part)), None)
                _apply_serializer_errors(form, {flat or name: inner})
            continue
        if isinstance(messages, list) and any(isinstance(item, dict) for item in messages):  # `lots`: one per lot
            per_lot = [str(message) for item in messages if item for inner in item.values() for message in inner]
            _apply_serializer_errors(form, {name: per_lot})
            continue
        field = visible(name) if visible(name) in form.fields else None
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(field, str(message))


def _plain(value) -> str:
    """A decimal as a form box shows it: "2", "10.5" (no exponent, no trailing zeros); "" for none."""
    return "" if value is None else f"{value.normalize():f}"


class OrderTicketForm(forms.Form):
    """Dollars first: a small account buys "$25 of AAPL"; shares are one toggle away."""

    symbol = forms.CharField(widget=forms.HiddenInput)
    client_order_id = forms.CharField(widget=forms.HiddenInput, max_length=128)
    side = forms.ChoiceField(choices=[("buy", "Buy"), ("sell", "Sell")], initial="buy", widget=forms.RadioSelect)
    amount_in = forms.ChoiceField(
        label="Order in",
        choices=[("dollars", "Dollars"), ("shares", "Shares")],
        initial="dollars",
        widget=forms.RadioSelect,
    )
    notional = decimal_input("Amount ($)")
    qty = decimal_input("Quantity")
    type = forms.ChoiceField(label="Order type", choices=ORDER_TYPES, initial=T.MARKET)
    limit_price = decimal_input("Limit price ($)")
    stop_price = decimal_input("Stop price ($)")
    trail_percent = decimal_input("Trail (%)")
    time_in_force = forms.ChoiceField(label="Time in force", choices=EQUITY_TIME_IN_FORCE, initial=TIF.DAY)
    extended_hours = forms.BooleanField(label="Extended hours", required=False)
    order_class = forms.ChoiceField(label="Order class", choices=ORDER_CLASSES, initial=OC.SIMPLE, required=False)
    take_profit_limit_price = decimal_input("Take profit at ($)")
    stop_loss_stop_price = decimal_input("Stop loss at ($)")
    stop_loss_limit_price = decimal_input("Stop loss limit ($, optional)")

    def __init__(self, *args, asset, **kwargs):
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("symbol", asset.symbol)
        # A fresh id per rendered ticket: resending this form returns the order it already placed.
        initial.setdefault("client_order_id", f"web-{uuid.uuid4()}")
        if asset.is_crypto:
            initial.setdefault("time_in_force", TIF.GTC)
        super().__init__(*args, **kwargs)
        self.asset = asset
        if asset.is_crypto:
            # The form declares time_in_force as a ChoiceField; `fields` is typed as plain Field.
            cast(forms.ChoiceField, self.fields["time_in_force"]).choices = CRYPTO_TIME_IN_FORCE
            self.fields["qty"].label = f"Quantity ({asset.symbol.split('/')[0]})"
            del self.fields["extended_hours"]

    def order_payload(self) -> dict:
        """What the API would receive for this ticket: only the fields the chosen order needs."""
        data = self.cleaned_data
        payload = {
            "symbol": self.asset.symbol,
            "side": data["side"],
            "type": data["type"],
            "time_in_force": data["time_in_force"],
            "client_order_id": data["client_order_id"],
        }
        amount_field = "notional" if data["amount_in"] == "dollars" else "qty"
        for name in (amount_field, *PRICE_FIELDS_BY_TYPE[data["type"]]):
            if data.get(name, "").strip():
                payload[name] = typed_number(data[name])
        if amount_field not in payload:
            self.add_error(amount_field, "Enter an amount." if amount_field == "notional" else "Enter a quantity.")
        if data.get("extended_hours"):
            payload["extended_hours"] = True
        lots = self.chosen_lots() if data["side"] == "sell" else []
        if lots:
            payload["lots"] = lots
        if data.get("order_class") and data["order_class"] != OC.SIMPLE:
            payload["order_class"] = data["order_class"]
            for name, (leg, price) in LEG_FIELDS.items():
                if data.get(name, "").strip():
                    payload.setdefault(leg, {})[price] = typed_number(data[name])
        return payload

    def chosen_lots(self) -> list[dict]:
        """The shares typed against tax lots on the review step (`lot-<id>` boxes), for the API's `lots`."""
        chosen = []
        for name, value in self.data.items():
            lot_id = name.removeprefix(LOT_INPUT_PREFIX)
            if name.startswith(LOT_INPUT_PREFIX) and lot_id.isdigit() and value.strip():
                chosen.append({"lot_id": int(lot_id), "qty": typed_number(value)})
        return chosen

    def order_request(self) -> OrderRequest | None:
        """The parsed order, or None with the parsing errors put on the form's fields."""
        if not self.is_valid():
            return None
        payload = self.order_payload()
        if not self.is_valid():
            return None
        serializer = OrderCreateSerializer(data=payload)
        if not serializer.is_valid():
            _apply_serializer_errors(self, serializer.errors)
            return None
        return serializer.to_request()

    def visible_field(self, name: str | None) -> str | None:
        """The field the customer typed the amount in: an error about the amount (the service may name
        either) goes next to the box they can see, never onto the hidden one."""
        if name in ("qty", "notional"):
            return "notional" if self.cleaned_data.get("amount_in", "dollars") == "dollars" else "qty"
        if name is None:
            return None
        return LEG_ERROR_FIELD.get(name, name)

    def add_rule_violation(self, exc) -> None:
        """A service refusal (code, message, field) shown next to the field it is about."""
        field = self.visible_field(exc.field)
        self.add_error(field if field in self.fields else None, exc.message)


class OrderReplaceForm(forms.Form):
    qty = decimal_input("Quantity")
    limit_price = decimal_input("Limit price ($)")
    stop_price = decimal_input("Stop price ($)")

    def __init__(self, *args, order: Order, **kwargs):
        # Starts from the order as it stands: the customer changes one figure, not retypes all three.
        # Its quantity is what is still to trade (the replacement's quantity, as `order_replace` reads it).
        remaining = order.qty - order.filled_qty if order.qty is not None else None
        prices = {name: _plain(getattr(order, name)) for name in ("limit_price", "stop_price")}
        kwargs.setdefault("initial", {"qty": _plain(remaining), **prices})
        super().__init__(*args, **kwargs)
        if order.notional is not None:
            del self.fields["qty"]
        if order.type not in (T.LIMIT, T.STOP_LIMIT):
            del self.fields["limit_price"]
        if order.type not in (T.STOP, T.STOP_LIMIT):
            del self.fields["stop_price"]

    def changes(self) -> dict | None:
        if not self.is_valid():
            return None
        payload = {name: typed_number(value) for name, value in self.cleaned_data.items() if value.strip()}
        serializer = OrderReplaceSerializer(data=payload)
        if not serializer.is_valid():
            _apply_serializer_errors(self, serializer.errors)
            return None
        return serializer.changes()
