"""What reaches Sentry: a real sentry_sdk client with the settings' options and a transport that keeps
what would have been sent. No API-key header, token, password, tax id or document byte may be in it."""

import json

import sentry_sdk
from sentry_sdk.transport import Transport

from speedtrade.sentry import sentry_options

KEY_ID = "PKALICEKEY0000000001"
KEY_SECRET = "s3cr3t-alice-api-key-secret-0123456789ab"
ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiJ9.alice-access-token.signature"
TAX_ID = "123-45-6789"
PASSWORD = "hunter2-password"
PASSPORT_BYTES = b"%PDF-1.7 alice passport scan " + bytes(range(256))


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


def sent_events(send) -> list[dict]:
    options = sentry_options(dsn="https://public@sentry.example.com/1", environment="test", traces_sample_rate=0.0)
    client = sentry_sdk.Client(transport=CapturingTransport, **options)
    with sentry_sdk.isolation_scope() as scope:
        scope.set_client(client)
        send()
    client.flush()
    events = [item.payload.json for envelope in client.transport.envelopes for item in envelope.items]
    assert events, "nothing was sent"
    return events


def assert_nothing_sensitive(events):
    text = json.dumps(events)
    for secret in (KEY_ID, KEY_SECRET, ACCESS_TOKEN, TAX_ID, PASSWORD, "sessionid-value", "alice passport"):
        assert secret not in text, secret


def test_an_api_request_error_reaches_sentry_without_keys_tokens_or_tax_ids():
    def send():
        sentry_sdk.capture_event(
            {
                "message": f"order refused for Authorization: Bearer {ACCESS_TOKEN}",
                "level": "error",
                "request": {
                    "method": "POST",
                    "url": "https://speedtrade.example.com/api/v1/kyc",
                    "query_string": f"token={ACCESS_TOKEN}",
                    "headers": {
                        "APCA-API-KEY-ID": KEY_ID,
                        "APCA-API-SECRET-KEY": KEY_SECRET,
                        "Authorization": f"Bearer {ACCESS_TOKEN}",
                        "Cookie": "sessionid=sessionid-value",
                        "User-Agent": "alpaca-py/0.40",
                    },
                    "cookies": {"sessionid": "sessionid-value"},
                    "data": {"tax_id": TAX_ID, "password": PASSWORD, "given_name": "Alice"},
                },
                "extra": {"note": f"customer typed {TAX_ID} into the name field"},
            }
        )

    events = sent_events(send)
    assert_nothing_sensitive(events)
    request = events[0]["request"]
    assert request["headers"]["User-Agent"] == "alpaca-py/0.40"  # what helps debugging stays
    assert request["data"]["given_name"] == "Alice"


def test_an_exception_with_document_bytes_and_secrets_in_its_frames_is_scrubbed():
    def upload_identity_document(content, password, api_secret_key):
        raise ValueError("scanner rejected the document")

    def send():
        try:
            upload_identity_document(PASSPORT_BYTES, PASSWORD, KEY_SECRET)
        except ValueError:
            sentry_sdk.capture_exception()

    events = sent_events(send)
    assert_nothing_sensitive(events)
    frames = events[0]["exception"]["values"][0]["stacktrace"]["frames"]
    assert any(frame.get("vars", {}).get("content") == "[Filtered bytes]" for frame in frames)
