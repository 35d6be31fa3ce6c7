from django import forms

from alerts.models import PriceAlert


class AlertForm(forms.Form):
    symbol = forms.CharField(max_length=32, label="Symbol")
    condition = forms.ChoiceField(choices=PriceAlert.Condition.choices, label="When")
    value = forms.DecimalField(max_digits=20, decimal_places=9, min_value=0, label="Price ($) or move (%)")
    repeat = forms.BooleanField(required=False, label="Repeat (after a cool-down)")
    cooldown_minutes = forms.IntegerField(min_value=1, max_value=30 * 24 * 60, initial=60, label="Cool-down (minutes)")
