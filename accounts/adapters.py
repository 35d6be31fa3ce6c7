from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from portfolios.services import account_open


class AccountAdapter(DefaultAccountAdapter):
    """Every person who signs up gets a brokerage account (onboarding until KYC approval)."""

    def save_user(self, request, user, form, commit=True):
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                account_open(user=user)
        return user
