from datetime import UTC, date, datetime

from marketdata import calendars
from marketdata.calendars import CRYPTO, US_EQUITY


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_thanksgiving_is_a_holiday_and_the_day_after_closes_early():
    assert calendars.equity_session(date(2026, 11, 26)) is None
    black_friday = calendars.equity_session(date(2026, 11, 27))
    assert black_friday.open == utc(2026, 11, 27, 14, 30)  # 09:30 ET
    assert black_friday.close == utc(2026, 11, 27, 18, 0)  # 13:00 ET early close
    assert black_friday.is_early_close
    assert black_friday.session_open == utc(2026, 11, 27, 9, 0)  # 04:00 ET pre-market
    assert black_friday.session_close == utc(2026, 11, 27, 22, 0)  # 17:00 ET on early-close days


def test_a_normal_day_has_extended_hours_until_eight_pm():
    monday = calendars.equity_session(date(2026, 11, 30))
    assert monday.close == utc(2026, 11, 30, 21, 0)
    assert monday.session_close == utc(2026, 12, 1, 1, 0)  # 20:00 ET
    assert not monday.is_early_close


def test_weekends_are_closed_for_stocks_but_not_for_crypto():
    saturday_noon = utc(2026, 11, 28, 17, 0)
    assert calendars.equity_session(saturday_noon.date()) is None
    assert not calendars.is_open(US_EQUITY, saturday_noon)
    assert not calendars.is_open(US_EQUITY, saturday_noon, extended_hours=True)
    assert calendars.is_open(CRYPTO, saturday_noon)


def test_pre_market_is_open_only_for_extended_hours_orders():
    pre_market = utc(2026, 11, 30, 12, 0)  # 07:00 ET
    assert not calendars.is_open(US_EQUITY, pre_market)
    assert calendars.is_open(US_EQUITY, pre_market, extended_hours=True)


def test_clock_after_an_early_close_points_to_the_next_monday():
    clock = calendars.market_clock(utc(2026, 11, 27, 19, 0))
    assert not clock.is_open
    assert clock.next_open == utc(2026, 11, 30, 14, 30)
    assert clock.next_close == utc(2026, 11, 30, 21, 0)


def test_clock_during_the_session():
    clock = calendars.market_clock(utc(2026, 11, 27, 15, 0))
    assert clock.is_open
    assert clock.next_close == utc(2026, 11, 27, 18, 0)
    assert clock.next_open == utc(2026, 11, 30, 14, 30)


def test_sessions_in_a_range_skip_weekends_and_holidays():
    days = [s.date for s in calendars.equity_sessions(date(2026, 11, 24), date(2026, 11, 30))]
    assert days == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]


def test_stock_trades_settle_next_business_day_and_crypto_at_once():
    assert calendars.settlement_date(US_EQUITY, date(2026, 11, 25)) == date(2026, 11, 27)  # over Thanksgiving
    assert calendars.settlement_date(US_EQUITY, date(2026, 11, 27)) == date(2026, 11, 30)  # over the weekend
    assert calendars.settlement_date(US_EQUITY, date(2026, 11, 28)) == date(2026, 12, 1)  # Saturday trade → Mon + 1
    assert calendars.settlement_date(CRYPTO, date(2026, 11, 28)) == date(2026, 11, 28)


def test_market_always_open_makes_stocks_open_on_a_saturday_night(settings):
    # Test-only: the venue instance of the two-instance test trades stocks at any hour.
    settings.MARKET_ALWAYS_OPEN = True
    saturday_night = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)  # 22:00 New York
    assert calendars.is_open(US_EQUITY, saturday_night)
    assert calendars.is_open(US_EQUITY, saturday_night, extended_hours=True)
