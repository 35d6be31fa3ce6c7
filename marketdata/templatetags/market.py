"""Market truth for any page: `{% load market %}`.

`{% market_status_badge "us_equity" %}` (header, trade page), `{% quote_panel asset %}` (last
price with its time, the change and what it is measured from), `{% order_timing order asset %}`
(when an order is sent and at what kind of price: the review step and the confirmation).
"""

from django import template

from marketdata.calendars import US_EQUITY
from marketdata.market_status import et_label, market_status
from marketdata.market_status import order_timing as timing_of
from marketdata.quotes import is_stale
from marketdata.selectors import quote_summary

register = template.Library()


@register.inclusion_tag("marketdata/_market_status.html")
def market_status_badge(asset_class: str = US_EQUITY, *, compact: bool = False) -> dict:
    return {"status": market_status(asset_class), "compact": compact}


@register.inclusion_tag("marketdata/_quote_panel.html")
def quote_panel(asset) -> dict:
    summary = quote_summary(asset)
    return {
        "summary": summary,
        "asset": asset,
        "quote_stale": summary.quote is None or is_stale(summary.quote),
        "last_at_label": summary.last_at and et_label(summary.last_at),
    }


@register.inclusion_tag("marketdata/_order_timing.html")
def order_timing(order, asset, *, placed: bool = False) -> dict:
    """`order` is an order request (review) or a placed `Order` (confirmation)."""
    timing = timing_of(
        asset_class=asset.asset_class,
        order_type=order.type,
        limit_price=order.limit_price,
        extended_hours=order.extended_hours,
    )
    return {"timing": timing, "placed": placed}


@register.filter
def et_time(value) -> str:
    """A moment as the exchange reads it: "Fri 7:59 PM ET" (with its date beyond this week)."""
    return et_label(value) if value else "—"
