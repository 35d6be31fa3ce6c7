"""A local stand-in for a Web Push service (RFC 8030), answering as Mozilla's autopush documents:
201 Created with a Location for an accepted message, 410 Gone (errno 106) for an expired subscription.
It records each request so tests can decrypt what was sent."""

import base64
import json
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from speedtrade.tests.local_http import LocalHTTPService, request_body, request_headers, respond


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class BrowserSubscription:
    """The browser's side: its P-256 key pair and auth secret, as PushSubscription.toJSON() gives them."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.p256dh, self.auth_secret = b64url(public), os.urandom(16)
        self.auth = b64url(self.auth_secret)

    def decrypt(self, body: bytes) -> dict:
        import http_ece

        return json.loads(
            http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")
        )


class PushService(LocalHTTPService):
    def __init__(self):
        self.received: list[tuple[str, dict, bytes]] = []
        super().__init__()

    def handle_post(self, request):
        self.received.append((request.path, request_headers(request), request_body(request)))
        if request.path.startswith("/wpush/gone"):
            gone = {"code": 410, "errno": 106, "error": "Gone", "message": "Request did not validate invalid token"}
            return respond(request, 410, gone)
        respond(request, 201, headers={"Location": f"http://{request.headers['Host']}/m/{len(self.received)}"})
