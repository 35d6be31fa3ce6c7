from datetime import date

from trading.tests.trading_day import _fresh_venue, acme, alice_account, market_open  # noqa: F401  (fixtures)

# Wednesday 4 March 2026, the trading day of trading_day's fixtures: a plan's first scheduled date.
WEDNESDAY = date(2026, 3, 4)
