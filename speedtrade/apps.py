from django.apps import AppConfig


class SpeedTradeConfig(AppConfig):
    name = "speedtrade"
    verbose_name = "SpeedTrade"

    def ready(self):
        from speedtrade import db  # noqa: F401  (connects the compiled timestamp loader to new connections)
        from speedtrade.api import schema  # noqa: F401  (registers OpenAPI extensions)
