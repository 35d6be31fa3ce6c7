"""When a recurring plan runs: pure functions over dates and marketdata's XNYS calendar.

A plan's *scheduled dates* follow its frequency from its start date (daily: every trading day;
weekly / every two weeks: a weekday; monthly: a day of the month, the last day in shorter months).
Each scheduled date is *run* on the first trading day on or after it — the next trading day when it
falls on a weekend or holiday (crypto trades every day, so it never moves). The scheduled date names
the run (one run, one order per plan and scheduled date); the run date says when it happens: stocks at
the regular open of that session, crypto at the plan's time of day in New York (DST included).
"""

import calendar
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from marketdata import calendars

ET = ZoneInfo("America/New_York")
DAILY, WEEKLY, BIWEEKLY, MONTHLY = "daily", "weekly", "biweekly", "monthly"


def _month_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def is_trading_day(day: date, *, crypto: bool) -> bool:
    return crypto or calendars.equity_session(day) is not None


def run_date_for(scheduled: date, *, crypto: bool) -> date:
    """The first trading day on or after `scheduled`."""
    day = scheduled
    while not is_trading_day(day, crypto=crypto):
        day += timedelta(days=1)
    return day


def scheduled_dates(
    *, frequency: str, start: date, crypto: bool, weekday: int | None = None, day_of_month: int | None = None
) -> Iterator[date]:
    """Every scheduled date from `start` on (endless; the caller stops)."""
    if frequency == DAILY:
        day = start
        while True:
            if is_trading_day(day, crypto=crypto):
                yield day
            day += timedelta(days=1)
    elif frequency in (WEEKLY, BIWEEKLY):
        assert weekday is not None, "weekly plans have a weekday"
        day = start + timedelta(days=(weekday - start.weekday()) % 7)
        step = timedelta(days=7 if frequency == WEEKLY else 14)
        while True:
            yield day
            day += step
    elif frequency == MONTHLY:
        assert day_of_month is not None, "monthly plans have a day of the month"
        year, month = start.year, start.month
        while True:
            day = _month_day(year, month, day_of_month)
            if day >= start:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    else:
        raise ValueError(f"unknown frequency {frequency!r}")


def next_scheduled(
    *, frequency: str, start: date, after: date | None, crypto: bool, weekday=None, day_of_month=None
) -> date:
    """The first scheduled date strictly after `after` (None: the first one)."""
    for day in scheduled_dates(
        frequency=frequency, start=start, crypto=crypto, weekday=weekday, day_of_month=day_of_month
    ):
        if after is None or day > after:
            return day
    raise AssertionError("unreachable: schedules are endless")


def run_at(run_date: date, *, crypto: bool, time_of_day: time) -> datetime:
    """When the run of `run_date` may start (aware, UTC): the regular open for stocks, the plan's ET time for crypto."""
    if crypto:
        return datetime.combine(run_date, time_of_day, tzinfo=ET).astimezone(ZoneInfo("UTC"))
    session = calendars.equity_session(run_date)
    assert session is not None, "run dates are trading days"
    return session.open


def run_deadline(run_date: date, *, crypto: bool, time_of_day: time) -> datetime:
    """After this the run is skipped as missed, not placed late: the session's close (stocks), a day later (crypto)."""
    if crypto:
        return run_at(run_date, crypto=True, time_of_day=time_of_day) + timedelta(days=1)
    session = calendars.equity_session(run_date)
    assert session is not None, "run dates are trading days"
    return session.close
