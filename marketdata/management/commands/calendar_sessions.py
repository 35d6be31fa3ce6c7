"""Write `marketdata/xnys_sessions.json`, the XNYS sessions `marketdata.calendars` answers from, out of
exchange_calendars (the only place the app imports it: pandas and numpy cost a web worker ~70 MB).

Run it after upgrading exchange_calendars (a new holiday, a day of mourning) or when the table no longer reaches
`CALENDAR_YEARS_AHEAD` past today; `marketdata/tests/test_calendar_sessions.py` fails in either case.

    python manage.py calendar_sessions [--through 2035-12-31]
"""

import json
from datetime import date, timedelta

from django.core.management.base import BaseCommand

from marketdata.calendars import CALENDAR_FIRST_DAY, ET, REGULAR_CLOSE, REGULAR_OPEN, SESSIONS_FILE, session_table


def xnys_sessions_table(first_day: date, last_day: date) -> dict:
    """The table's JSON: weekdays without a session (holidays) and sessions outside the regular 09:30–16:00 ET
    (early closes; a weekend session would be listed here too), every other weekday a regular session."""
    import exchange_calendars  # here only: it imports pandas

    calendar = exchange_calendars.get_calendar("XNYS", start=first_day.isoformat(), end=last_day.isoformat())
    hours = {
        session.date(): (open_.tz_convert(ET).strftime("%H:%M"), close.tz_convert(ET).strftime("%H:%M"))
        for session, open_, close in zip(calendar.sessions, calendar.opens, calendar.closes, strict=True)
    }
    regular = (REGULAR_OPEN.strftime("%H:%M"), REGULAR_CLOSE.strftime("%H:%M"))
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    return {
        "source": "exchange_calendars XNYS, written by `manage.py calendar_sessions`",
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "regular_hours_et": list(regular),
        "holidays": [day.isoformat() for day in days if day.weekday() < 5 and day not in hours],
        "special_hours_et": {day.isoformat(): list(times) for day, times in hours.items() if times != regular},
    }


def table_json(table: dict) -> str:
    """The table as JSON with one holiday or special session per line, so a regeneration's diff reads as a list of
    the days that changed."""
    scalars = ("source", "first_day", "last_day", "regular_hours_et")
    lines = [f" {json.dumps(key)}: {json.dumps(table[key])}," for key in scalars]
    lines.append(' "holidays": [')
    lines.append(",\n".join(f"  {json.dumps(day)}" for day in table["holidays"]))
    lines.append(" ],")
    lines.append(' "special_hours_et": {')
    special = table["special_hours_et"]
    lines.append(",\n".join(f"  {json.dumps(day)}: {json.dumps(hours)}" for day, hours in special.items()))
    lines.append(" }")
    return "{\n" + "\n".join(lines) + "\n}\n"


class Command(BaseCommand):
    help = "Write marketdata/xnys_sessions.json (the XNYS sessions every process reads) from exchange_calendars."

    def add_arguments(self, parser):
        parser.add_argument(
            "--through",
            type=date.fromisoformat,
            help="Last day the table covers (default: the day the current table ends).",
        )

    def handle(self, *args, through: date | None, **options):
        last_day = through or session_table().last_day
        table = xnys_sessions_table(CALENDAR_FIRST_DAY, last_day)
        SESSIONS_FILE.write_text(table_json(table))
        self.stdout.write(
            f"{SESSIONS_FILE.name}: {CALENDAR_FIRST_DAY} to {last_day}, {len(table['holidays'])} holidays, "
            f"{len(table['special_hours_et'])} sessions with special hours."
        )
