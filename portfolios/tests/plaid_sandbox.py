"""A local stand-in for Plaid's API host: plaid-python (the real client) talks HTTP to it and
gets Plaid's recorded sandbox responses back, in the order a test queues them per endpoint.

Binds 127.0.0.1 on a free port; the fixture stops it at the end of the test. An endpoint
with nothing queued answers 500 with a message naming it, so a missing recording fails loudly.
"""

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDINGS = Path(__file__).parent / "recordings" / "plaid"


def recording(name: str) -> dict:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


class PlaidSandbox:
    def __init__(self) -> None:
        self.answers: dict[str, deque] = defaultdict(deque)
        self.requests: list[tuple[str, dict, dict]] = []
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                sandbox.requests.append((self.path, body, dict(self.headers)))
                queue = sandbox.answers.get(self.path)
                status, payload = queue.popleft() if queue else (500, {"error": f"nothing queued for {self.path}"})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, name_or_payload, status: int = 200) -> None:
        payload = recording(name_or_payload) if isinstance(name_or_payload, str) else name_or_payload
        self.answers[path].append((status, payload))

    def requests_to(self, path: str) -> list[dict]:
        return [body for request_path, body, _ in self.requests if request_path == path]

    def headers_to(self, path: str) -> list[dict]:
        return [headers for request_path, _, headers in self.requests if request_path == path]

    def __enter__(self) -> "PlaidSandbox":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
