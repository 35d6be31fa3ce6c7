"""A local stand-in for SendGrid's v3 Mail Send API (`POST /v3/mail/send`), answering as SendGrid documents:
202 Accepted with an empty body and `X-Message-Id` for a message it takes; 401 with `{"errors": [...]}` for a
wrong key. It records each request."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "SG.local-test-key"


class SendGridService:
    def __init__(self):
        self.received: list[tuple[str, dict, dict]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                headers = {key.lower(): value for key, value in self.headers.items()}
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                service.received.append((self.path, headers, body))
                if headers.get("authorization") != f"Bearer {API_KEY}":
                    error = {"errors": [{"message": "The provided authorization grant is invalid.", "field": None}]}
                    data = json.dumps(error).encode()
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(202)
                self.send_header("X-Message-Id", uuid.uuid4().hex[:22])
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
