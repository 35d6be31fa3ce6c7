from django.apps import AppConfig
from django.core import checks


class PortfoliosConfig(AppConfig):
    name = "portfolios"
    verbose_name = "Portfolios"

    def ready(self) -> None:
        checks.register(bank_rail_settings_check, checks.Tags.compatibility)


def bank_rail_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """BANK_RAIL=plaid without its keys refuses to start (runserver, serve, migrate, celery run checks)."""
    from django.conf import settings

    if settings.BANK_RAIL != "plaid":
        return []
    from portfolios.plaid import missing_settings

    missing = missing_settings()
    if not missing:
        return []
    return [
        checks.Error(f"BANK_RAIL=plaid needs {', '.join(missing)}.", hint="Set them in .env.", id="portfolios.E001")
    ]
