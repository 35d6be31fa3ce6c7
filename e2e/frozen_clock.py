"""`python -m e2e.frozen_clock <ISO moment> manage.py <args>`: run a command whose clock starts at that
moment and runs on from there (freezegun, tick=True), for journeys that depend on the hour — a closed
market on a Sunday — whatever day the suite runs."""

import runpy
import sys

from freezegun import freeze_time


def main() -> None:
    moment, script, *args = sys.argv[1:]
    # C extensions that build on datetime (pandas, under exchange_calendars) must be loaded with the real
    # one: imported while it is patched they crash. freezegun then patches the loaded modules' references.
    import exchange_calendars  # noqa: F401
    import pandas  # noqa: F401

    freeze_time(moment, tick=True).start()
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
