"""Form pieces every page's forms share."""

from django import forms

from speedtrade.errors import DomainError


def decimal_input(label: str, *, required: bool = False) -> forms.CharField:
    """A number typed by a person: text (so "1,000" and "$25" reach the parser), decimal keyboard on phones.

    Parsing stays with the API's serializers, so web and API accept exactly the same numbers.
    """
    attrs = {"inputmode": "decimal", "autocomplete": "off"}
    return forms.CharField(label=label, required=required, widget=forms.TextInput(attrs=attrs))


def typed_number(text: str) -> str:
    """What a person typed, as the API would receive it: no spaces, thousands separators or dollar sign."""
    return text.strip().replace(",", "").lstrip("$")


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """A service's refusal shown where the person can act on it: on each input at fault that the form
    shows, otherwise above the form."""
    by_field = error.messages_by_field()
    if not by_field:
        form.add_error(None, error.message)
    for name, messages in by_field.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
