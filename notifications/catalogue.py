"""What SpeedTrade tells its customers: every kind of notification, its category and its words.

A category is what a customer switches on or off per channel; `security` email cannot be
switched off (`Category.ALWAYS_EMAILED`). Titles and bodies are `str.format` templates over
the event's context (no user input is ever formatted as a template).
"""

from dataclasses import dataclass

from django.db import models


class Category(models.TextChoices):
    ORDERS = "orders", "Orders"
    RECURRING = "recurring", "Recurring investments"
    ALERTS = "alerts", "Price alerts"
    TRANSFERS = "transfers", "Deposits and withdrawals"
    ACCOUNT = "account", "Account and verification"
    SECURITY = "security", "Security"


ALWAYS_EMAILED = frozenset({Category.SECURITY})


class Channel(models.TextChoices):
    IN_APP = "in_app", "In app"
    EMAIL = "email", "Email"
    PUSH = "push", "Push"


@dataclass(frozen=True)
class Kind:
    category: str
    title: str
    body: str
    url: str = ""
    # False: never emailed by this service because another one already emails it (accounts' KYC decision and
    # security emails in accounts/emails.py, allauth's password and MFA notices) — one email per event, not two.
    email: bool = True


KINDS: dict[str, Kind] = {
    "order_filled": Kind(
        Category.ORDERS, "Order filled: {side} {symbol}", "{summary} filled at {price}.", "/orders/{order_id}/"
    ),
    "order_partially_filled": Kind(
        Category.ORDERS,
        "Order partly filled: {side} {symbol}",
        "{qty} of {summary} filled at {price}.",
        "/orders/{order_id}/",
    ),
    "order_rejected": Kind(
        Category.ORDERS, "Order rejected: {side} {symbol}", "{summary} was rejected. {reason}", "/orders/{order_id}/"
    ),
    "order_canceled": Kind(
        Category.ORDERS,
        "Order canceled: {side} {symbol}",
        "{summary} was canceled by SpeedTrade. {reason}",
        "/orders/{order_id}/",
    ),
    "recurring_run_done": Kind(
        Category.RECURRING,
        "Recurring buy placed: {symbol}",
        "Your {amount} buy of {symbol} was placed.",
        "/orders/{order_id}/",
    ),
    "recurring_run_skipped": Kind(
        Category.RECURRING,
        "Recurring buy skipped: {symbol}",
        "Your {amount} buy of {symbol} was skipped: {reason}",
        "/recurring/",
    ),
    "alert_triggered": Kind(
        Category.ALERTS, "{symbol} {condition}", "{symbol} is at {price}: {condition}.", "/trade/{symbol}/"
    ),
    "deposit_settled": Kind(
        Category.TRANSFERS, "Deposit settled", "Your deposit of {amount} has arrived.", "/transfers/"
    ),
    "deposit_returned": Kind(
        Category.TRANSFERS, "Deposit returned", "Your deposit of {amount} was returned by the bank.", "/transfers/"
    ),
    "withdrawal_sent": Kind(
        Category.TRANSFERS, "Withdrawal sent", "Your withdrawal of {amount} was sent to your bank.", "/transfers/"
    ),
    "kyc_approved": Kind(
        Category.ACCOUNT, "Your account is approved", "You can deposit and trade now.", "/", email=False
    ),
    "kyc_rejected": Kind(
        Category.ACCOUNT,
        "We could not approve your account",
        "Your application was not approved.",
        "/onboarding/",
        email=False,
    ),
    "kyc_action_required": Kind(
        Category.ACCOUNT,
        "We need more information",
        "Please check your application: we need more information.",
        "/onboarding/",
        email=False,
    ),
    "document_issued": Kind(
        Category.ACCOUNT, "New document: {title}", "Your {title} is ready in Documents.", "/documents/"
    ),
    "security_password_changed": Kind(
        Category.SECURITY,
        "Your password was changed",
        "If this was not you, reset your password now and contact us.",
        "/settings/security/",
        email=False,
    ),
    "security_mfa_changed": Kind(
        Category.SECURITY,
        "Two-factor authentication changed",
        "{change}. If this was not you, contact us now.",
        "/settings/security/",
        email=False,
    ),
    "security_api_key_changed": Kind(
        Category.SECURITY,
        "API key {change}",
        "API key {key_id} was {change}. If this was not you, revoke it now.",
        "/settings/api-keys/",
        email=False,
    ),
    "security_new_login": Kind(
        Category.SECURITY,
        "New sign-in to your account",
        "A sign-in from {ip_address} ({user_agent}). If this was not you, change your password.",
        "/settings/security/",
    ),
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(kind: str, context: dict) -> tuple[str, str, str]:
    """(title, body, url) of a notification of `kind`, missing context keys left blank."""
    spec = KINDS[kind]
    values = _Blank({k: "" if v is None else v for k, v in context.items()})
    return (
        spec.title.format_map(values)[:200].strip(),
        spec.body.format_map(values)[:1000].strip(),
        spec.url.format_map(values)[:300],
    )
