"""A tick handler the feed tests register through FEED_TICK_HANDLERS, as the paper venue will."""

received: list[list] = []


def record_ticks(quotes) -> None:
    received.append(list(quotes))
