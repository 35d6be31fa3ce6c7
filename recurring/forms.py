from django import forms

from recurring.models import RecurringPlan

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class PlanForm(forms.Form):
    symbol = forms.CharField(max_length=32, label="Symbol")
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=1, label="Amount ($)")
    frequency = forms.ChoiceField(choices=RecurringPlan.Frequency.choices, label="How often")
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, required=False, label="Weekday (weekly plans)")
    day_of_month = forms.IntegerField(
        min_value=1, max_value=31, required=False, label="Day of the month (monthly plans)"
    )
    start_date = forms.DateField(label="Start date", widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(
        required=False, label="End date (optional)", widget=forms.DateInput(attrs={"type": "date"})
    )
    max_runs = forms.IntegerField(min_value=1, required=False, label="Number of buys (optional)")
