"""The XNYS table every process answers from (marketdata/xnys_sessions.json) says what exchange_calendars says, day
by day, and refuses what it does not cover, as exchange_calendars did."""

from bisect import bisect_left, bisect_right
from datetime import date, timedelta

import exchange_calendars
import pytest

from marketdata import calendars
from marketdata.calendars import SESSIONS_FILE, US_EQUITY, CalendarOutOfRange, covered_sessions, session_table
from marketdata.management.commands.calendar_sessions import table_json, xnys_sessions_table


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def xnys():
    table = session_table()
    return exchange_calendars.get_calendar("XNYS", start=table.first_day.isoformat(), end=table.last_day.isoformat())


def test_the_committed_table_is_what_the_command_writes_from_exchange_calendars():
    table = session_table()
    written = table_json(xnys_sessions_table(table.first_day, table.last_day))
    assert written == SESSIONS_FILE.read_text(), "exchange_calendars changed: run `manage.py calendar_sessions`"


def test_every_day_of_the_table_has_exchange_calendars_hours(xnys):
    table = session_table()
    expected = {
        session.date(): (open_.to_pydatetime(), close.to_pydatetime())
        for session, open_, close in zip(xnys.sessions, xnys.opens, xnys.closes, strict=True)
    }
    for day in days(table.first_day, table.last_day):
        hours = table.hours(day)
        answer = None if hours is None else tuple(calendars._at_et(day, clock_time) for clock_time in hours)
        assert answer == expected.get(day), day


def test_every_answer_in_the_window_is_exchange_calendars_answer(xnys):
    first, last = covered_sessions()
    sessions = [session.date() for session in xnys.sessions]
    for day in days(first, last):
        session = calendars.equity_session(day)
        if xnys.is_session(day):
            open_, close = xnys.session_open_close(day)
            assert (session.open, session.close) == (open_.to_pydatetime(), close.to_pydatetime())
        else:
            assert session is None, day
        if day > first:
            assert calendars.session_before(day).date == sessions[bisect_left(sessions, day) - 1]
        trade_session = sessions[bisect_left(sessions, day)]  # a weekend trade counts in the next session
        if trade_session < last:
            assert calendars.settlement_date(US_EQUITY, day) == sessions[bisect_right(sessions, trade_session)]
    assert [s.date for s in calendars.equity_sessions(first, last)] == [s for s in sessions if s <= last]


def test_the_table_reaches_as_far_ahead_as_the_calendar_answers():
    promised = date.today().replace(month=12, day=31) + timedelta(days=365 * calendars.CALENDAR_YEARS_AHEAD)
    assert session_table().last_day >= promised, (
        f"The sessions table ends before {promised}: run `manage.py calendar_sessions --through <a later day>`"
    )


def test_days_outside_the_window_are_refused_not_guessed():
    first, last = covered_sessions()
    assert first == date(2016, 1, 4)  # the first session on or after CALENDAR_FIRST_DAY
    for refused in (
        lambda: calendars.equity_session(first - timedelta(days=1)),
        lambda: calendars.equity_session(last + timedelta(days=1)),
        lambda: calendars.equity_sessions(first - timedelta(days=3), first + timedelta(days=3)),
        lambda: calendars.session_before(first),
        lambda: calendars.settlement_date(US_EQUITY, last),
    ):
        with pytest.raises(CalendarOutOfRange):
            refused()
