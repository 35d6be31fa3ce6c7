"""Market sessions, from exchange_calendars (XNYS) — no hand-written holiday tables.

US equities: regular hours from the exchange calendar (holidays and early closes
included), pre-market from 04:00 ET and after-hours until 20:00 ET (17:00 ET on
early-close days). Crypto trades around the clock. Trading, portfolios and the API
all ask these functions; nothing else decides whether a market is open.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import cast
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas as pd
from django.conf import settings

ET = ZoneInfo("America/New_York")
US_EQUITY = "us_equity"
CRYPTO = "crypto"
PRE_MARKET_OPEN = time(4, 0)
AFTER_HOURS_CLOSE = time(20, 0)
EARLY_CLOSE_AFTER_HOURS_CLOSE = time(17, 0)
CALENDAR_FIRST_DAY = date(2016, 1, 1)
CALENDAR_YEARS_AHEAD = 2


@dataclass(frozen=True)
class EquitySession:
    date: date
    open: datetime  # regular-hours open (aware, UTC)
    close: datetime  # regular-hours close, early closes respected
    session_open: datetime  # pre-market open
    session_close: datetime  # after-hours close

    @property
    def is_early_close(self) -> bool:
        return self.close.astimezone(ET).time() < time(16, 0)


@dataclass(frozen=True)
class Clock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@cache
def xnys() -> exchange_calendars.ExchangeCalendar:
    end = date.today().replace(month=12, day=31) + timedelta(days=365 * CALENDAR_YEARS_AHEAD)
    return exchange_calendars.get_calendar("XNYS", start=CALENDAR_FIRST_DAY.isoformat(), end=end.isoformat())


def _at_et(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=ET).astimezone(ZoneInfo("UTC"))


# Sessions are fixed by the calendar, built once per process: remembered per date, since every order entry, clock
# and valuation asks (each pandas lookup costs about a millisecond of CPU).
@lru_cache(maxsize=4096)
def equity_session(day: date) -> EquitySession | None:
    """The session on `day`, or None on weekends and holidays."""
    calendar = xnys()
    if not calendar.is_session(pd.Timestamp(day)):
        return None
    open_, close = calendar.session_open_close(pd.Timestamp(day))
    session = EquitySession(
        date=day,
        open=open_.to_pydatetime(),
        close=close.to_pydatetime(),
        session_open=_at_et(day, PRE_MARKET_OPEN),
        session_close=_at_et(day, AFTER_HOURS_CLOSE),
    )
    if session.is_early_close:
        session = EquitySession(
            date=day,
            open=session.open,
            close=session.close,
            session_open=session.session_open,
            session_close=_at_et(day, EARLY_CLOSE_AFTER_HOURS_CLOSE),
        )
    return session


def equity_sessions(start: date, end: date) -> list[EquitySession]:
    days = xnys().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    # Each day is a session, so each has one (equity_session's None is for other days).
    return [cast(EquitySession, equity_session(day.date())) for day in days]


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
    previous = xnys().date_to_session(pd.Timestamp(day - timedelta(days=1)), direction="previous")
    return cast(EquitySession, equity_session(previous.date()))  # a session date, so not None


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
    calendar = xnys()
    trade_session = calendar.date_to_session(pd.Timestamp(trade_date), direction="next")
    return calendar.next_session(trade_session).date()
