"""Who an access token or API key is, remembered per process so a hot API request reads no database for auth.

An entry is written only after the full check (allauth's JWT validation with its session lookup, or the
API key's digest and its owner's `is_active` from the database) by the DRF authentication classes, and is
used by the lean request path (`speedtrade/lean_api.py`) until it expires (AUTH_CACHE_SECONDS, no longer than
allauth's session-activity interval, so activity is still tracked through the full path) or is revoked.

Revocation is at once and in every process: whatever ends a credential or changes who may trade
(logout, a session ended elsewhere, an API key revoked, a password or MFA change, a user deactivated,
an account restricted, a KYC decision) calls `credentials_revoke`, which after commit publishes one
message on Redis pub/sub (in the embedded default: straight to this process's cache). Each process
listens in a daemon thread; when that listener (re)connects it empties its cache, since it may have
missed messages. An entry validated before a revocation it has not yet seen is never stored
(`_revoked_since`).
"""

import hashlib
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import redis
from allauth.headless.tokens.strategies.jwt import internal as allauth_jwt
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

CHANNEL = "speedtrade.auth.revoked"
_MAX_ENTRIES = 50_000


@dataclass
class Principal:
    """What authenticated a request, as the API checks it: the user (active when stored), how, and the account."""

    user_id: uuid.UUID
    session: str | None = None  # access tokens: their session's key, digested (it is a credential itself)
    api_key_id: str | None = None  # API keys
    can_trade: bool = True  # an API key's scope; access tokens always may
    client: tuple[str, str] = ("", "")  # (IP, user agent) when stored: another client goes the full way
    # The user's primary account as its first lean request read it (`speedtrade.lean_api.AccountSnapshot`):
    # revoked with the principal whenever who may trade changes.
    account: Any = None
    expires_at: float = field(default=0.0)  # monotonic


class AuthCache:
    """A bounded, expiring map of credentials to principals, with revocation by user, session or key."""

    def __init__(self, *, max_entries: int = _MAX_ENTRIES):
        self._entries: OrderedDict[str, tuple[str, Principal]] = OrderedDict()  # credential -> (check, principal)
        self._verified_tokens: OrderedDict[str, dict] = OrderedDict()  # access token -> its verified claims
        self._revoked: dict[str, float] = {}  # "user:<id>" / "session:<digest>" / "key:<id>" -> monotonic time revoked
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, credential: str, check: str, *, client: tuple[str, str]) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(credential)
            if found is None:
                return None
            stored_check, principal = found
            if principal.expires_at <= now:
                del self._entries[credential]
                return None
        if not hmac.compare_digest(stored_check, check) or principal.client != client:
            return None
        return principal

    def put(self, credential: str, check: str, principal: Principal, *, validated_at: float) -> None:
        """Remember a principal checked in full, unless something revoked it after `validated_at` (monotonic).

        The account snapshot of the entry it replaces is kept, with that entry's expiry (a snapshot lives no longer
        than AUTH_CACHE_SECONDS): an entry still here was not revoked since its snapshot was read, and a client that
        also calls routes Django answers (each one checks its credential in full and puts it again) would otherwise
        read its account again on its next lean request."""
        principal.expires_at = validated_at + settings.AUTH_CACHE_SECONDS
        with self._lock:
            if self._revoked_since(principal, validated_at):
                return
            replaced = self._entries.get(credential)
            if replaced is not None and replaced[1].account is not None and replaced[1].user_id == principal.user_id:
                principal.account = replaced[1].account
                principal.expires_at = min(principal.expires_at, replaced[1].expires_at)
            self._entries[credential] = (check, principal)
            self._entries.move_to_end(credential)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def revoke(self, *, user_id: str, everything: bool, session: str | None, api_key_id: str | None) -> None:
        """Forget the user's entries: all of them, or those of one session (its digest) or one key."""
        now = time.monotonic()
        marks = [f"user:{user_id}"] if everything else []
        marks += [f"session:{session}"] if session else []
        marks += [f"key:{api_key_id}"] if api_key_id else []
        with self._lock:
            horizon = now - settings.AUTH_CACHE_SECONDS
            self._revoked = {mark: at for mark, at in self._revoked.items() if at > horizon}
            self._revoked.update(dict.fromkeys(marks, now))
            for credential, (_, principal) in list(self._entries.items()):
                if self._marks(principal) & set(marks):
                    del self._entries[credential]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _revoked_since(self, principal: Principal, validated_at: float) -> bool:
        return any(self._revoked.get(mark, -1.0) >= validated_at for mark in self._marks(principal))

    @staticmethod
    def _marks(principal: Principal) -> set[str]:
        marks = {f"user:{principal.user_id}"}
        if principal.session:
            marks.add(f"session:{principal.session}")
        if principal.api_key_id:
            marks.add(f"key:{principal.api_key_id}")
        return marks

    # --- filling it (the DRF authentication classes, after the full check) and reading it (the lean path) ---

    def access_token_remember(
        self, *, payload: dict, session_key: str, user_id, client: tuple[str, str], validated_at: float
    ) -> None:
        """An access token allauth validated (signature, expiry, use, its session alive and the user's)."""
        principal = Principal(user_id=user_id, session=_digest(session_key), client=client)
        self.put(f"jwt:{payload['sid']}", payload["sub"], principal, validated_at=validated_at)

    def access_token_principal(self, token: str, *, client: tuple[str, str]) -> Principal | None:
        """The principal of a remembered access token, verified here as allauth does (signature, expiry, the
        token's use and claims); its session's validity is the cache's. None: "check it in full"."""
        payload = self._verified_access_token(token)
        if payload is None:
            return None
        return self.get(f"jwt:{payload['sid']}", payload["sub"], client=client)

    def _verified_access_token(self, token: str) -> dict | None:
        """allauth's verification of the token (signature, expiry, use, claims; about a millisecond of CPU),
        remembered for the same token: of that answer only the expiry can change (time passes `iat`, never back)."""
        with self._lock:
            payload = self._verified_tokens.get(token)
        if payload is None:
            payload = allauth_jwt.decode_token(token, "access")
            if payload is None:
                return None
            with self._lock:
                self._verified_tokens[token] = payload
                while len(self._verified_tokens) > self._max_entries:
                    self._verified_tokens.popitem(last=False)
        if payload["exp"] <= time.time():
            with self._lock:
                self._verified_tokens.pop(token, None)
            return None
        return payload

    def api_key_remember(self, *, key, secret: str, validated_at: float) -> None:
        """An API key whose secret matched and whose owner is active (keys have no session to track: any client)."""
        principal = Principal(user_id=key.user_id, api_key_id=key.key_id, can_trade=key.can_trade)
        self.put(f"key:{key.key_id}", _digest(secret), principal, validated_at=validated_at)

    def api_key_principal(self, key_id: str, secret: str) -> Principal | None:
        return self.get(f"key:{key_id}", _digest(secret), client=("", ""))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def request_client(meta) -> tuple[str, str]:
    """(IP, user agent): what allauth's session tracking records; a request from another client is checked in full."""
    return meta.get("REMOTE_ADDR", ""), meta.get("HTTP_USER_AGENT", "")


auth_cache = AuthCache()  # this process's


# --- revocation --------------------------------------------------------------------------------------------


def credentials_revoke(
    user_id, *, everything: bool = False, session_key: str | None = None, api_key_id: str | None = None
) -> None:
    """After the current transaction commits, every process forgets the user's cached credentials (all of
    them, or one session's, or one key's)."""
    session = _digest(session_key) if session_key else None  # never a usable session key on the wire
    message = {"user_id": str(user_id), "everything": everything, "session": session, "api_key_id": api_key_id}
    transaction.on_commit(lambda: _publish(message), robust=True)


def _publish(message: dict) -> None:
    auth_cache.revoke(**message)  # this process at once, whether or not its listener runs
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.publish(CHANNEL, json.dumps(message))
        finally:
            client.close()


class RevocationListener:
    """Applies other processes' revocations to a cache: one daemon thread per process (again after a fork)."""

    def __init__(self, cache: AuthCache, redis_url: str):
        self.cache = cache
        self.redis_url = redis_url
        self._pid: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.subscribed = threading.Event()

    def ensure_running(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._stop.clear()
        self.subscribed.clear()
        self._thread = threading.Thread(target=self._run, name="auth-revocations", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=None)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                # Anything published while no one listened is unknown: start from nothing.
                self.cache.clear()
                self.subscribed.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self.cache.revoke(**json.loads(message["data"]))
            except redis.RedisError:
                logger.warning("Auth revocation listener lost Redis; retrying.", exc_info=True)
                self.subscribed.clear()
                self.cache.clear()
                self._stop.wait(1.0)
            finally:
                client.close()


_listener: RevocationListener | None = None


def revocations_listen(*, wait: float = 0.0) -> bool:
    """Start (or restart after a fork) this process's listener; whether it hears revocations now (waiting up to
    `wait` seconds for it to subscribe). False when there is no Redis to hear from: then only this process
    revokes (the embedded default is one process)."""
    global _listener
    if not settings.REDIS_URL:
        return False
    if _listener is None:
        _listener = RevocationListener(auth_cache, settings.REDIS_URL)
    _listener.ensure_running()
    return _listener.subscribed.wait(wait) if wait else _listener.subscribed.is_set()
