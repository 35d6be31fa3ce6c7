from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def broker_configuration_errors(broker_names) -> list[str]:
    """What is missing for the configured venues, naming the settings (never their values)."""
    errors = []
    for name in sorted(broker_names):
        kind, _, exchange_id = name.partition(":")
        if kind == "paper" and not exchange_id:
            continue
        # The venue clients are imported only where their venue is configured (ccxt: ~2 s and tens of MB).
        if kind == "alpaca" and not exchange_id:
            from venues import alpaca as venue_client
        elif kind == "ccxt" and exchange_id:
            import ccxt

            # One name for whichever venue client module this broker uses; mypy wants one module per name.
            from venues import ccxt as venue_client  # type: ignore[no-redef]

            if exchange_id not in ccxt.exchanges:
                errors.append(f"{name}: ccxt has no exchange {exchange_id!r}.")
                continue
        else:
            errors.append(f"Unknown broker {name!r}: use paper, alpaca or ccxt:<exchange id>.")
            continue
        errors += [
            f"{name} needs {setting} (set it in the environment or .env)."
            for setting in venue_client.missing_credentials(settings)
        ]
    return errors


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = "Trading"

    def ready(self) -> None:
        # Every process (web, worker, beat, streams) refuses to start with a venue it cannot use.
        errors = broker_configuration_errors({settings.BROKER_US_EQUITY, settings.BROKER_CRYPTO})
        if errors:
            raise ImproperlyConfigured(" ".join(errors))
