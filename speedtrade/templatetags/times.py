"""How the dashboard prints a moment: in the customer's zone (accounts.middleware.UserTimeZoneMiddleware
activates it) and always labelled with that zone, so "3:05 PM EST" is never mistaken for exchange or UTC time."""

from django import template
from django.template.defaultfilters import date

register = template.Library()

FORMATS = {
    "datetime": "M j, Y, g:i A T",  # Dec 4, 2026, 3:05 PM EST
    "short": "M j, g:i A T",  # Dec 4, 3:05 PM EST (lists of recent things)
    "seconds": "M j, g:i:s A T",  # order times, where seconds matter
    "time": "g:i:s A T",  # fills within an order's day
}


@register.filter(expects_localtime=True)
def when(value, style: str = "datetime") -> str:
    """An aware datetime in the active zone with the zone's abbreviation; "—" for none."""
    if not value:
        return "—"
    return date(value, FORMATS[style])
