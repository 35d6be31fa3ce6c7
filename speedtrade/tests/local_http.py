"""What the local stand-ins for providers' HTTP APIs share (Web Push service, FCM, SendGrid): a threaded server
on 127.0.0.1 and a free port, its URL, `close()`, and answers with a JSON or empty body. A subclass says how it
answers a POST in `handle_post(request)`."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalHTTPService:
    def __init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                service.handle_post(self)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle_post(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def request_body(request: BaseHTTPRequestHandler) -> bytes:
    return request.rfile.read(int(request.headers.get("Content-Length", 0)))


def request_headers(request: BaseHTTPRequestHandler) -> dict[str, str]:
    return {key.lower(): value for key, value in request.headers.items()}


def respond(request: BaseHTTPRequestHandler, status: int, payload=None, headers: dict | None = None) -> None:
    """Answer with `payload` as JSON (no body when None) and any extra headers."""
    data = b"" if payload is None else json.dumps(payload).encode()
    request.send_response(status)
    if payload is not None:
        request.send_header("Content-Type", "application/json; charset=UTF-8")
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
