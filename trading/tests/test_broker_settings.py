"""A configured venue without its keys stops every process at startup, naming the setting (never a value)."""

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from trading.apps import broker_configuration_errors


def test_paper_needs_nothing(settings):
    assert broker_configuration_errors({"paper"}) == []


def test_alpaca_without_keys_names_the_missing_settings(settings):
    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = "PKTEST1234", ""
    assert broker_configuration_errors({"alpaca"}) == [
        "alpaca needs ALPACA_SECRET_KEY (set it in the environment or .env)."
    ]


def test_ccxt_needs_a_known_exchange_and_its_keys(settings):
    settings.CCXT_API_KEY, settings.CCXT_SECRET = "", ""
    assert broker_configuration_errors({"ccxt:binanceus", "ccxt:nosuchexchange", "kraken"}) == [
        "ccxt:binanceus needs CCXT_API_KEY (set it in the environment or .env).",
        "ccxt:binanceus needs CCXT_SECRET (set it in the environment or .env).",
        "ccxt:nosuchexchange: ccxt has no exchange 'nosuchexchange'.",
        "Unknown broker 'kraken': use paper, alpaca or ccxt:<exchange id>.",
    ]


def test_startup_fails_with_the_message_and_without_the_secret(settings):
    settings.BROKER_CRYPTO = "ccxt:binanceus"
    settings.CCXT_API_KEY, settings.CCXT_SECRET = "visible-key-id", ""
    with pytest.raises(ImproperlyConfigured, match="CCXT_SECRET") as failed:
        apps.get_app_config("trading").ready()
    assert "visible-key-id" not in str(failed.value)
