"""The per-process quote hub: it stops when its task is cancelled, whatever the channel layer swallowed; it encodes
each tick once for all its sockets; a slow socket is conflated and holds up no other."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from redis.asyncio.client import PubSub

from marketdata import fanout
from marketdata.consumers import QuoteFanOut, QuoteStreamConsumer
from marketdata.fanout import FannedQuote, QuoteHub, quote_hub
from marketdata.quotes import Quote, quote_message, quote_to_dict


async def test_the_hub_stops_when_cancelled_even_if_subscribing_swallowed_the_cancellation(monkeypatch):
    # On Python 3.11 redis-py's wait_for can finish a command and drop the CancelledError that
    # arrived meanwhile: subscribe then returns normally into a hub that must stop anyway.
    entered = asyncio.Event()

    async def subscribe_swallowing_the_cancellation(self, *channels):
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return

    monkeypatch.setattr(PubSub, "subscribe", subscribe_swallowing_the_cancellation)
    hub = QuoteHub()
    listening = asyncio.create_task(hub._listen())
    await entered.wait()

    listening.cancel()
    done, _ = await asyncio.wait([listening], timeout=3)

    assert listening in done and listening.cancelled()


def tick(symbol: str, last: str) -> dict:
    return quote_to_dict(
        Quote(
            symbol=symbol,
            bid=Decimal(last) - 1,
            ask=Decimal(last) + 1,
            bid_size=Decimal(1),
            ask_size=Decimal(1),
            last=Decimal(last),
            timestamp=datetime.now(UTC),
        )
    )


class RecordingSocket(QuoteFanOut):
    """A quote stream whose client reads only while `readable` is set, as a slow client's full buffer would."""

    def __init__(self, hub: QuoteHub, symbols: set[str]) -> None:
        self.quotes_setup()
        self.symbols.update(symbols)
        for symbol in symbols:
            hub.subscribers[symbol].add(self)
        self.readable = asyncio.Event()
        self.readable.set()
        self.frames: list[list[tuple[str, str]]] = []
        self.frame_sent = asyncio.Condition()

    async def send_quotes(self, ticks: list[FannedQuote]) -> None:
        await self.readable.wait()
        async with self.frame_sent:
            self.frames.append([(t.quote.symbol, str(t.quote.last)) for t in ticks])
            self.frame_sent.notify_all()

    async def frames_received(self, count: int) -> list[list[tuple[str, str]]]:
        async with self.frame_sent:
            await asyncio.wait_for(self.frame_sent.wait_for(lambda: len(self.frames) >= count), 5)
        return self.frames


@pytest.fixture
async def hub(settings):
    settings.QUOTES_WS_FLUSH_SECONDS = 0.01
    return quote_hub()


async def test_a_slow_client_holds_up_nobody_and_then_gets_the_newest_quote_of_each_symbol(hub):
    fast, slow = RecordingSocket(hub, {"F", "G"}), RecordingSocket(hub, {"F", "G"})
    slow.readable.clear()

    hub.dispatch([tick("F", "1")])
    assert await fast.frames_received(1) == [[("F", "1")]]
    hub.dispatch([tick("F", "2"), tick("G", "1")])
    assert (await fast.frames_received(2))[1] == [("F", "2"), ("G", "1")]
    hub.dispatch([tick("F", "3")])
    assert (await fast.frames_received(3))[2] == [("F", "3")]
    assert slow.frames == []  # still writing its first frame

    slow.readable.set()
    assert await slow.frames_received(2) == [[("F", "1")], [("F", "3"), ("G", "1")]]
    for socket in (fast, slow):
        await socket.quotes_teardown()


async def test_each_socket_has_its_own_window_so_a_quiet_one_gets_its_tick_at_once(hub, settings):
    # The window used to be the process's: a socket with no frame for a long time still waited for the end of the
    # window some other socket had just started (25 ms on average, 50 at worst, of every quote's age).
    settings.QUOTES_WS_FLUSH_SECONDS = 3600
    busy, quiet = RecordingSocket(hub, {"F"}), RecordingSocket(hub, {"G"})
    hub.dispatch([tick("F", "1")])
    assert await busy.frames_received(1) == [[("F", "1")]]

    hub.dispatch([tick("F", "2"), tick("G", "1")])

    assert await quiet.frames_received(1) == [[("G", "1")]]  # its first frame: at once, whatever the others do
    assert busy.frames == [[("F", "1")]]  # its window is not over: F 2 waits (conflated, never dropped)
    hub.dispatch([tick("F", "3")])
    assert busy.pending["F"].quote.last == Decimal("3")
    for socket in (busy, quiet):
        await socket.quotes_teardown()


async def test_each_tick_is_encoded_once_for_all_its_sockets(hub, monkeypatch):
    encoded = []

    def counting_message(quote, **kwargs):
        encoded.append(quote.symbol)
        return quote_message(quote, **kwargs)

    monkeypatch.setattr(fanout, "quote_message", counting_message)
    texts: list[str] = []
    all_sent = asyncio.Event()

    class Socket(QuoteStreamConsumer):
        async def send_frame(self, text: str) -> None:
            texts.append(text)
            if len(texts) == 3:
                all_sent.set()

    sockets = [Socket() for _ in range(3)]
    for socket in sockets:
        socket.quotes_setup()
        socket.symbols.add("F")
        hub.subscribers["F"].add(socket)

    hub.dispatch([tick("F", "10.5")])
    await asyncio.wait_for(all_sent.wait(), 5)
    for socket in sockets:
        await socket.quotes_teardown()

    assert encoded == ["F"]
    assert len(texts) == 3 and len(set(texts)) == 1
    assert [(m["type"], m["symbol"], m["last"]) for m in orjson.loads(texts[0])] == [("quote", "F", "10.5")]


async def test_without_redis_the_feed_hands_its_batches_to_the_hubs_of_its_own_process(hub, settings):
    # The embedded single process: no Redis to publish on, the feed runs in the server's process.
    settings.REDIS_URL = ""
    socket = RecordingSocket(hub, {"F"})
    await hub.subscribe(socket, ["F"])

    await fanout.publish_quote_batch([tick("F", "7")])

    assert await socket.frames_received(1) == [[("F", "7")]]
    await socket.quotes_teardown()
