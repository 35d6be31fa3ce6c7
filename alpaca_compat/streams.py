"""Alpaca's WebSocket streams, spoken exactly as alpaca-py's clients expect.

- `/stream` (TradingStream): JSON. `{"action": "authenticate", "data": {"key_id", "secret_key"}}`
  (or `{"oauth_token"}`) → `{"stream": "authorization", "data": {"status": "authorized", ...}}`;
  `{"action": "listen", "data": {"streams": ["trade_updates"]}}` → `{"stream": "listening", ...}`;
  then `{"stream": "trade_updates", "data": {event, order, timestamp, price, qty, position_qty,
  execution_id}}` for the user's orders. Alpaca sends this stream as binary frames; so do we.
  The updates are the ones trading already publishes to the user's group (`speedtrade.realtime`).
- `/v2/{feed}` (StockDataStream) and `/v1beta3/crypto/us` (CryptoDataStream): msgpack when the
  handshake says `Content-Type: application/msgpack` (alpaca-py always does), JSON text otherwise.
  Every server frame is an array of messages: `[{"T": "success", "msg": "connected"}]` on connect,
  `{"action": "auth", "key", "secret"}` → `authenticated` (or error 402 and the socket closes),
  `subscribe`/`unsubscribe` of `trades`/`quotes`/`bars` → `{"T": "subscription", ...}`, then `q`
  and `t` messages from the feed's quote publication, conflated per connection like `/ws/quotes`,
  and a `b` message per symbol when a minute ends (the feed's minute-bar publication).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import msgpack
import orjson
from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import User
from accounts.services import ApiKeyInvalid, api_key_authenticate
from alpaca_compat.wire import bar_record, quote_record, to_json, to_msgpack, trade_record
from marketdata.consumers import QuoteFanOut
from marketdata.fanout import FannedQuote
from marketdata.models import Asset, Bar, Timeframe
from marketdata.publishing import BAR_DECIMALS, bar_group
from marketdata.selectors import assets_by_symbols
from speedtrade.consumers import GuardedSocket
from speedtrade.realtime import UserEventsReceiver, user_group
from speedtrade.ws_auth import user_and_session_from_access_token

TRADE_UPDATES = "trade_updates"
MSGPACK = b"application/msgpack"


@dataclass(frozen=True)
class StreamCredential:
    user: User
    api_key_id: str | None = None  # its revocation closes the socket
    session_key: str | None = None  # the OAuth token's session: its logout closes the socket


@database_sync_to_async
def _credential_for_key(key_id, secret) -> StreamCredential | None:
    if not isinstance(key_id, str) or not isinstance(secret, str):
        return None
    try:
        key = api_key_authenticate(key_id=key_id, secret=secret)
    except ApiKeyInvalid:
        return None
    return StreamCredential(user=key.user, api_key_id=key.key_id)


async def stream_credential(*, key_id=None, secret=None, oauth_token=None) -> StreamCredential | None:
    """The active user an API key pair or an OAuth (JWT access) token names, and what to watch; else None."""
    if oauth_token:
        if not isinstance(oauth_token, str):
            return None
        user, session_key = await user_and_session_from_access_token(oauth_token)
        return StreamCredential(user=user, session_key=session_key) if user.is_authenticated else None
    return await _credential_for_key(key_id, secret)


class TradingStreamConsumer(UserEventsReceiver, GuardedSocket):
    """`/stream`: the authenticated user's `trade_updates`."""

    user = None
    listening = False

    async def send_message(self, stream: str, data: dict) -> None:
        await self.send(bytes_data=orjson.dumps({"stream": stream, "data": data}))

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = orjson.loads(text_data if text_data is not None else bytes_data)
            action, data = message["action"], message.get("data") or {}
            if not isinstance(data, dict):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await self.send_message("error", {"error_message": "invalid syntax: send JSON with an action"})
            return
        if action == "authenticate":
            await self.authenticate(data)
        elif action == "listen":
            await self.listen(data)
        else:
            await self.send_message("error", {"error_message": f"unknown action {action!r}"})

    async def authenticate(self, data: dict) -> None:
        credential = await stream_credential(
            key_id=data.get("key_id"), secret=data.get("secret_key"), oauth_token=data.get("oauth_token")
        )
        if credential is None:
            await self.send_message("authorization", {"status": "unauthorized", "action": "authenticate"})
            await self.close()
            return
        if self.user is not None and self.user.pk != credential.user.pk:
            await self.follow_trade_updates(False)
        if not await self.socket_authenticated(
            credential.user, api_key_id=credential.api_key_id, session_key=credential.session_key
        ):
            return
        self.user = credential.user
        await self.send_message("authorization", {"status": "authorized", "action": "authenticate"})

    async def listen(self, data: dict) -> None:
        if self.user is None:
            await self.send_message("authorization", {"status": "unauthorized", "action": "listen"})
            return
        streams = data.get("streams")
        if not isinstance(streams, list):
            await self.send_message("error", {"error_message": 'invalid syntax: "streams" must be a list'})
            return
        await self.follow_trade_updates(TRADE_UPDATES in streams)
        await self.send_message("listening", {"streams": [TRADE_UPDATES] if self.listening else []})

    async def follow_trade_updates(self, follow: bool) -> None:
        """Membership of the user's group is the subscription: trading publishes there after commit."""
        if follow and not self.listening:
            assert self.user is not None  # listen() follows only once authenticated
            await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
        elif not follow and self.listening:
            assert self.user is not None  # listening began authenticated, and the user is never unset
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        self.listening = follow

    async def user_event(self, event) -> None:
        if self.listening and event["stream"] == TRADE_UPDATES:
            await self.send_message(TRADE_UPDATES, event["data"])

    async def disconnect(self, code):
        if self.listening:
            await self.follow_trade_updates(False)


# Alpaca's stream error codes (https://docs.alpaca.markets/docs/streaming-market-data).
INVALID_SYNTAX = (400, "invalid syntax")
NOT_AUTHENTICATED = (401, "not authenticated")
AUTH_FAILED = (402, "auth failed")
ALREADY_AUTHENTICATED = (403, "already authenticated")
SYMBOL_LIMIT = (405, "symbol limit exceeded")
INVALID_SUBSCRIBE = (410, "invalid subscribe action for this feed")

# The channels SpeedTrade streams; the others Alpaca offers are acknowledged as empty.
STREAMED_CHANNELS = ("trades", "quotes", "bars")
OTHER_CHANNELS = {
    Asset.AssetClass.US_EQUITY: (
        "updatedBars",
        "dailyBars",
        "statuses",
        "lulds",
        "corrections",
        "cancelErrors",
    ),
    Asset.AssetClass.CRYPTO: ("updatedBars", "dailyBars", "orderbooks"),
}


class MarketDataStreamConsumer(QuoteFanOut, GuardedSocket):
    """Alpaca's stock data stream (`/v2/{feed}`); the crypto one below differs only in its asset class."""

    asset_class = Asset.AssetClass.US_EQUITY

    async def connect(self):
        headers = dict(self.scope.get("headers", []))
        self.msgpack = headers.get(b"content-type", b"").split(b";")[0].strip().lower() == MSGPACK
        self.user = None
        self.channels: dict[str, set[str]] = {channel: set() for channel in STREAMED_CHANNELS}
        self.assets: dict[str, Asset] = {}
        self.quotes_setup()
        await self.accept()
        await self.send_messages([{"T": "success", "msg": "connected"}])

    async def disconnect(self, code):
        await self.quotes_teardown()
        for symbol in getattr(self, "channels", {}).get("bars", ()):
            await self.channel_layer.group_discard(bar_group(symbol), self.channel_name)

    async def bar_update(self, event) -> None:
        """A minute bar the feed published once its minute ended."""
        data = event["bar"]
        if data["symbol"] not in self.channels["bars"]:
            return  # in flight when the client unsubscribed
        bar = Bar(
            asset=self.assets[data["symbol"]],
            timeframe=Timeframe.MINUTE,
            timestamp=datetime.fromisoformat(data["timestamp"]),
            trade_count=data["trade_count"],
            **{name: None if data[name] is None else Decimal(data[name]) for name in BAR_DECIMALS},
        )
        await self.send_messages([{"T": "b", "S": data["symbol"], **bar_record(bar)}])

    async def send_messages(self, messages: list[dict]) -> None:
        if self.msgpack:
            await self.send(bytes_data=to_msgpack(messages))
        else:
            await self.send(text_data=to_json(messages).decode())

    async def send_error(self, error: tuple[int, str]) -> None:
        await self.send_messages([{"T": "error", "code": error[0], "msg": error[1]}])

    async def receive(self, text_data=None, bytes_data=None):
        try:
            if self.msgpack and bytes_data is not None:
                message = _unpack(bytes_data)
            else:
                message = orjson.loads(text_data if text_data is not None else bytes_data)
            action = message["action"]
        except (ValueError, KeyError, TypeError):
            await self.send_error(INVALID_SYNTAX)
            return
        if action == "auth":
            await self.authenticate(message)
        elif self.user is None:
            await self.send_error(NOT_AUTHENTICATED)
        elif action in ("subscribe", "unsubscribe"):
            await self.change_subscription(message, subscribe=action == "subscribe")
        else:
            await self.send_error(INVALID_SYNTAX)

    async def authenticate(self, message: dict) -> None:
        if self.user is not None:
            await self.send_error(ALREADY_AUTHENTICATED)
            return
        credential = await stream_credential(key_id=message.get("key"), secret=message.get("secret"))
        if credential is None:
            await self.send_error(AUTH_FAILED)
            await self.close()
            return
        if not await self.socket_authenticated(credential.user, api_key_id=credential.api_key_id):
            return
        self.user = credential.user
        await self.send_messages([{"T": "success", "msg": "authenticated"}])

    async def change_subscription(self, message: dict, *, subscribe: bool) -> None:
        requested = {channel: message.get(channel) or [] for channel in STREAMED_CHANNELS}
        lists = list(requested.values()) + [message.get(channel) for channel in OTHER_CHANNELS[self.asset_class]]
        if not all(
            value is None or (isinstance(value, list) and all(isinstance(s, str) for s in value)) for value in lists
        ):
            await self.send_error(INVALID_SYNTAX)
            return
        if subscribe and any(message.get(channel) for channel in OTHER_CHANNELS[self.asset_class]):
            await self.send_error(INVALID_SUBSCRIBE)  # the trades/quotes/bars part still applies
        if subscribe:
            wanted = {channel: await self._resolve(symbols) for channel, symbols in requested.items()}
            followed = set().union(*self.channels.values(), *wanted.values())
            if len(followed) > settings.QUOTES_WS_MAX_SYMBOLS:
                await self.send_error(SYMBOL_LIMIT)
                return
            for symbol in sorted(wanted["bars"] - self.channels["bars"]):
                await self.channel_layer.group_add(bar_group(symbol), self.channel_name)
            for channel, symbols in wanted.items():
                self.channels[channel] |= symbols
            await self.quotes_follow(sorted(self.channels["trades"] | self.channels["quotes"]))
        else:
            for channel, asked in requested.items():
                named = {self._canonical(symbol) for symbol in asked}
                dropped = set(self.channels[channel]) if "*" in named else self.channels[channel] & named
                self.channels[channel] -= dropped
                if channel == "bars":
                    for symbol in sorted(dropped):
                        await self.channel_layer.group_discard(bar_group(symbol), self.channel_name)
            await self.quotes_unfollow(self.symbols - self.channels["trades"] - self.channels["quotes"])
        acknowledgement = {"T": "subscription", **{c: sorted(s) for c, s in self.channels.items()}}
        acknowledgement.update(dict.fromkeys(OTHER_CHANNELS[self.asset_class], []))
        await self.send_messages([acknowledgement])

    def _canonical(self, symbol: str) -> str:
        """The subscribed symbol a client names, also as `btcusd` for `BTC/USD`."""
        wanted = symbol.upper()
        for name in self.assets:
            if wanted in (name.upper(), name.replace("/", "").upper()):
                return name
        return symbol

    async def _resolve(self, symbols: list[str]) -> set[str]:
        """Known symbols of this stream's asset class; "*" is all of them. Unknown ones are left out, as Alpaca does."""
        if not symbols:
            return set()
        found = await database_sync_to_async(self._assets_named)(symbols)
        self.assets.update({asset.symbol: asset for asset in found})
        return {asset.symbol for asset in found}

    def _assets_named(self, symbols: list[str]) -> list[Asset]:
        if "*" in symbols:
            return list(Asset.objects.filter(asset_class=self.asset_class, status=Asset.Status.ACTIVE))
        found, _unknown = assets_by_symbols(symbols)
        return [asset for asset in found.values() if asset.asset_class == self.asset_class]

    async def send_quotes(self, ticks: list[FannedQuote]) -> None:
        messages = []
        for quote in (tick.quote for tick in ticks):
            asset = self.assets[quote.symbol]
            if quote.symbol in self.channels["quotes"]:
                messages.append({"T": "q", "S": quote.symbol, **quote_record(asset, quote)})
            if quote.symbol in self.channels["trades"] and quote.last_size > 0:
                messages.append({"T": "t", "S": quote.symbol, **trade_record(asset, quote)})
        if messages:
            await self.send_messages(messages)


class CryptoDataStreamConsumer(MarketDataStreamConsumer):
    """`/v1beta3/crypto/us`."""

    asset_class = Asset.AssetClass.CRYPTO


def _unpack(data: bytes) -> dict:
    message = msgpack.unpackb(data)
    if not isinstance(message, dict):
        raise TypeError
    return message
