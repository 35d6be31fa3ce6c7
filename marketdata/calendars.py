"""Market sessions: XNYS from a table generated out of exchange_calendars — no hand-written holiday tables.

US equities: regular hours from the exchange calendar (holidays and early closes
included), pre-market from 04:00 ET and after-hours until 20:00 ET (17:00 ET on
early-close days). Crypto trades around the clock. Trading, portfolios and the API
all ask these functions; nothing else decides whether a market is open.

The sessions come from `xnys_sessions.json`, which `manage.py calendar_sessions` writes from exchange_calendars
(a test holds them equal): exchange_calendars imports pandas and numpy, ~70 MB in every web worker, feed and
Celery worker, for a few hundred dates. A date outside the calendar's window is refused (`CalendarOutOfRange`), as
exchange_calendars refused it, rather than guessed.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings

ET = ZoneInfo("America/New_York")
US_EQUITY = "us_equity"
CRYPTO = "crypto"
PRE_MARKET_OPEN = time(4, 0)
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
AFTER_HOURS_CLOSE = time(20, 0)
EARLY_CLOSE_AFTER_HOURS_CLOSE = time(17, 0)
CALENDAR_FIRST_DAY = date(2016, 1, 1)
# Sessions are answered this many years past the current one, about as far ahead as NYSE announces its holidays
# (the table itself reaches further, so it need not be regenerated every year).
CALENDAR_YEARS_AHEAD = 2
SESSIONS_FILE = Path(__file__).with_name("xnys_sessions.json")


class CalendarOutOfRange(ValueError):
    """A date outside the sessions the calendar answers for."""


@dataclass(frozen=True)
class SessionTable:
    """XNYS as `manage.py calendar_sessions` wrote it: every weekday is a regular session except the holidays;
    sessions with other hours (early closes) are listed with their hours."""

    first_day: date
    last_day: date
    regular_hours: tuple[time, time]  # open and close, Eastern time
    holidays: frozenset[date]
    special_hours: Mapping[date, tuple[time, time]]

    def hours(self, day: date) -> tuple[time, time] | None:
        """The regular open and close (Eastern time) of the session on `day`, or None when there is none."""
        special = self.special_hours.get(day)
        if special is not None:
            return special
        if day.weekday() >= 5 or day in self.holidays:
            return None
        return self.regular_hours


def _hours(pair: list[str]) -> tuple[time, time]:
    return time.fromisoformat(pair[0]), time.fromisoformat(pair[1])


@cache
def session_table() -> SessionTable:
    raw = json.loads(SESSIONS_FILE.read_text())
    return SessionTable(
        first_day=date.fromisoformat(raw["first_day"]),
        last_day=date.fromisoformat(raw["last_day"]),
        regular_hours=_hours(raw["regular_hours_et"]),
        holidays=frozenset(date.fromisoformat(day) for day in raw["holidays"]),
        special_hours={date.fromisoformat(day): _hours(pair) for day, pair in raw["special_hours_et"].items()},
    )


@cache
def covered_sessions() -> tuple[date, date]:
    """The first and the last session the calendar answers for: from CALENDAR_FIRST_DAY to the end of the year
    CALENDAR_YEARS_AHEAD from now (fixed when a process first asks, as exchange_calendars' window was)."""
    table = session_table()
    end = min(date.today().replace(month=12, day=31) + timedelta(days=365 * CALENDAR_YEARS_AHEAD), table.last_day)
    first, last = max(CALENDAR_FIRST_DAY, table.first_day), end
    while table.hours(first) is None:
        first += timedelta(days=1)
    while table.hours(last) is None:
        last -= timedelta(days=1)
    return first, last


def _check_covered(day: date) -> None:
    first, last = covered_sessions()
    if not first <= day <= last:
        raise CalendarOutOfRange(f"{day} is outside the XNYS calendar, which covers the sessions {first} to {last}.")


@dataclass(frozen=True)
class EquitySession:
    date: date
    open: datetime  # regular-hours open (aware, UTC)
    close: datetime  # regular-hours close, early closes respected
    session_open: datetime  # pre-market open
    session_close: datetime  # after-hours close

    @property
    def is_early_close(self) -> bool:
        return self.close.astimezone(ET).time() < REGULAR_CLOSE


@dataclass(frozen=True)
class Clock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


def _at_et(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=ET).astimezone(ZoneInfo("UTC"))


# Remembered per date: every order entry, clock and valuation asks.
@lru_cache(maxsize=4096)
def equity_session(day: date) -> EquitySession | None:
    """The session on `day`, or None on weekends and holidays."""
    _check_covered(day)
    hours = session_table().hours(day)
    if hours is None:
        return None
    open_, close = hours
    after_hours_close = EARLY_CLOSE_AFTER_HOURS_CLOSE if close < REGULAR_CLOSE else AFTER_HOURS_CLOSE
    return EquitySession(
        date=day,
        open=_at_et(day, open_),
        close=_at_et(day, close),
        session_open=_at_et(day, PRE_MARKET_OPEN),
        session_close=_at_et(day, after_hours_close),
    )


def equity_sessions(start: date, end: date) -> list[EquitySession]:
    _check_covered(start)
    _check_covered(end)
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [session for day in days if (session := equity_session(day)) is not None]


def _session_on_or_after(day: date) -> EquitySession:
    while (session := equity_session(day)) is None:
        day += timedelta(days=1)
    return session


def is_open(asset_class: str, at: datetime, *, extended_hours: bool = False) -> bool:
    if asset_class == CRYPTO or settings.MARKET_ALWAYS_OPEN:
        return True
    session = equity_session(at.astimezone(ET).date())
    if session is None:
        return False
    if extended_hours:
        return session.session_open <= at < session.session_close
    return session.open <= at < session.close


def next_session(at: datetime) -> EquitySession:
    """The first session whose regular hours have not yet ended at `at`."""
    day = at.astimezone(ET).date()
    while True:
        session = equity_session(day)
        if session is not None and at < session.close:
            return session
        day += timedelta(days=1)


@lru_cache(maxsize=4096)
def session_before(day: date) -> EquitySession:
    """The newest session on a date before `day` (the previous session's close is measured from it)."""
    previous = day - timedelta(days=1)
    _check_covered(previous)  # so the walk back ends at the first session at the latest
    while (session := equity_session(previous)) is None:
        previous -= timedelta(days=1)
    return session


def last_closed_session(at: datetime) -> EquitySession:
    """The newest session whose regular hours have ended at `at`."""
    day = at.astimezone(ET).date()
    today = equity_session(day)
    return today if today is not None and today.close <= at else session_before(day)


def market_clock(at: datetime) -> Clock:
    """Alpaca's `/clock` for US equities: regular hours only."""
    session = next_session(at)
    if session.open <= at:
        following = next_session(session.close)
        return Clock(timestamp=at, is_open=True, next_open=following.open, next_close=session.close)
    return Clock(timestamp=at, is_open=False, next_open=session.open, next_close=session.close)


def settlement_date(asset_class: str, trade_date: date) -> date:
    """When a trade's cash settles: T+1 exchange business days for stocks, at once for crypto."""
    if asset_class == CRYPTO:
        return trade_date
    # A trade on a non-session day (a weekend) counts as a trade of the next session.
    trade_session = _session_on_or_after(trade_date)
    return _session_on_or_after(trade_session.date + timedelta(days=1)).date
