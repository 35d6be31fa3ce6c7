"""Schedules across holidays, weekends, DST changes and month ends (XNYS calendar, 2026)."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from marketdata import calendars
from recurring.schedule import next_scheduled, run_at, run_date_for, scheduled_dates


def first(n, **plan):
    return list(islice(scheduled_dates(**plan), n))


def test_monthly_on_the_31st_uses_each_months_last_day_and_rolls_off_weekends():
    dates = first(4, frequency="monthly", start=date(2026, 1, 1), crypto=False, day_of_month=31)

    assert dates == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert [run_date_for(d, crypto=False) for d in dates] == [
        date(2026, 2, 2),  # Saturday → Monday
        date(2026, 3, 2),  # Saturday → Monday
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


def test_a_leap_february_ends_on_the_29th():
    assert first(2, frequency="monthly", start=date(2028, 2, 1), crypto=True, day_of_month=30) == [
        date(2028, 2, 29),
        date(2028, 3, 30),
    ]


def test_weekly_on_good_friday_runs_the_next_trading_day():
    dates = first(2, frequency="weekly", start=date(2026, 3, 30), crypto=False, weekday=4)

    assert dates == [date(2026, 4, 3), date(2026, 4, 10)]
    assert run_date_for(date(2026, 4, 3), crypto=False) == date(2026, 4, 6)
    assert run_date_for(date(2026, 4, 3), crypto=True) == date(2026, 4, 3)  # crypto trades on holidays


def test_every_two_weeks_from_the_first_matching_weekday():
    assert first(3, frequency="biweekly", start=date(2026, 3, 4), crypto=False, weekday=0) == [
        date(2026, 3, 9),
        date(2026, 3, 23),
        date(2026, 4, 6),
    ]


def test_daily_stock_plans_skip_weekends_and_independence_day_observed():
    assert first(3, frequency="daily", start=date(2026, 7, 1), crypto=False) == [
        date(2026, 7, 1),
        date(2026, 7, 2),
        date(2026, 7, 6),  # Fri 3 July is the observed holiday
    ]
    assert first(3, frequency="daily", start=date(2026, 7, 3), crypto=True) == [
        date(2026, 7, 3),
        date(2026, 7, 4),
        date(2026, 7, 5),
    ]


def test_run_times_follow_new_york_across_the_dst_change():
    # DST began Sunday 8 March 2026: 10:00 ET is 15:00 UTC before, 14:00 UTC after; the open moves the same way.
    assert run_at(date(2026, 3, 6), crypto=True, time_of_day=time(10)) == datetime(2026, 3, 6, 15, tzinfo=UTC)
    assert run_at(date(2026, 3, 9), crypto=True, time_of_day=time(10)) == datetime(2026, 3, 9, 14, tzinfo=UTC)
    assert run_at(date(2026, 3, 6), crypto=False, time_of_day=time(10)) == datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
    assert run_at(date(2026, 3, 9), crypto=False, time_of_day=time(10)) == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    # …and back on Sunday 1 November 2026.
    assert run_at(date(2026, 11, 2), crypto=False, time_of_day=time(10)) == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


def test_next_scheduled_is_strictly_after():
    plan: dict[str, Any] = {"frequency": "monthly", "start": date(2026, 1, 15), "crypto": False, "day_of_month": 15}
    assert next_scheduled(after=None, **plan) == date(2026, 1, 15)
    assert next_scheduled(after=date(2026, 1, 15), **plan) == date(2026, 2, 15)


plans = st.one_of(
    st.builds(lambda c: {"frequency": "daily", "crypto": c}, st.booleans()),
    st.builds(
        lambda f, c, w: {"frequency": f, "crypto": c, "weekday": w},
        st.sampled_from(["weekly", "biweekly"]),
        st.booleans(),
        st.integers(0, 6),
    ),
    st.builds(lambda c, d: {"frequency": "monthly", "crypto": c, "day_of_month": d}, st.booleans(), st.integers(1, 31)),
)


# Within the XNYS calendar's window (marketdata.calendars: two years ahead).
@given(plan=plans, start=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)))
def test_runs_fall_on_trading_days_never_before_their_date_and_never_twice_on_one_day(plan, start):
    dates = list(islice(scheduled_dates(start=start, **plan), 20))
    runs = [run_date_for(d, crypto=plan["crypto"]) for d in dates]

    assert dates[0] >= start
    assert all(a < b for a, b in zip(dates, dates[1:], strict=False))  # scheduled dates strictly increase
    assert all(run >= day for run, day in zip(runs, dates, strict=True))
    assert all(run - day < timedelta(days=5) for run, day in zip(runs, dates, strict=True))  # longest XNYS gap: 4 days
    assert all(a < b for a, b in zip(runs, runs[1:], strict=False))  # one run per day at most
    assert all(plan["crypto"] or calendars.equity_session(run) is not None for run in runs)
    if plan["frequency"] == "monthly":
        import calendar

        assert all(d.day == min(plan["day_of_month"], calendar.monthrange(d.year, d.month)[1]) for d in dates)
    if plan["frequency"] in ("weekly", "biweekly"):
        assert all(d.weekday() == plan["weekday"] for d in dates)
