"""Machine names shown to people: "pending_new" → "Pending new"."""

from django import template

register = template.Library()


@register.filter
def spaced(code: str) -> str:
    return str(code).replace("_", " ").capitalize()
