"""A local stand-in for a Web Push service (RFC 8030), answering as Mozilla's autopush documents:
201 Created with a Location for an accepted message, 410 Gone (errno 106) for an expired subscription.
It records each request so tests can decrypt what was sent."""

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


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


class PushService:
    def __init__(self):
        self.received: list[tuple[str, dict, bytes]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.startswith("/wpush/gone"):
                    payload = json.dumps(
                        {
                            "code": 410,
                            "errno": 106,
                            "error": "Gone",
                            "message": "Request did not validate invalid token",
                        }
                    ).encode()
                    self.send_response(410)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(201)
                self.send_header("Location", f"http://{self.headers['Host']}/m/{len(service.received)}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
