"""A web worker, a Celery worker, the simulated feed and the order engine start without pandas and numpy (issue 22:
web worker RSS ≤ 200 MB; they cost every process ~70 MB): the XNYS sessions come from a committed table, not
exchange_calendars, and TA-Lib (with numpy and pandas) is imported when a chart's indicators are first computed."""

import json

import pytest

from speedtrade.tests.test_settings_modes import DEVELOPMENT, run

HEAVY = ("pandas", "numpy", "exchange_calendars", "talib")

LOADED = """
import json, sys
{imports}
print(json.dumps([name for name in {heavy!r} if name in sys.modules]))
"""

PROCESSES = {
    "web worker": "import speedtrade.asgi",
    "celery worker": (
        "import django; django.setup()\nfrom speedtrade.celery import app\napp.loader.import_default_modules()"
    ),
    "feed": (
        "import django; django.setup()\nimport marketdata.management.commands.run_feed, marketdata.feeds.simulated"
    ),
    "order engine": "import django; django.setup()\nimport trading.management.commands.run_engine",
    "calendar answers": (
        "import django; django.setup()\n"
        "from datetime import UTC, date, datetime\n"
        "from marketdata import calendars\n"
        "calendars.market_clock(datetime.now(UTC)), calendars.session_before(date.today())\n"
        "calendars.equity_sessions(date.today(), date.today())"
    ),
}


@pytest.mark.parametrize("process", PROCESSES)
def test_a_process_starts_without_pandas_or_numpy(process):
    result = run(DEVELOPMENT, "-c", LOADED.format(imports=PROCESSES[process], heavy=HEAVY))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_drawing_indicators_loads_ta_lib_without_pandas():
    code = (
        "import django; django.setup()\n"
        "from marketdata.indicators import INDICATOR_NAMES, indicators_compute\n"
        "indicators_compute([], INDICATOR_NAMES)"
    )
    result = run(DEVELOPMENT, "-c", LOADED.format(imports=code, heavy=HEAVY))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["numpy", "talib"]
