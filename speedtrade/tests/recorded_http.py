"""A local HTTP server answering a provider's client with recorded responses, queued per path
— for clients requests-mock cannot reach (massive and plaid-python use urllib3).

Binds 127.0.0.1 on a free port; use it as a context manager so it stops. GET and POST are
answered alike; POST bodies are parsed as JSON. A path with nothing queued answers 404 naming
it, so a missing recording fails loudly.
"""

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict
    body: dict
    headers: dict


class RecordedHTTPServer:
    def __init__(self) -> None:
        self.answers: dict[str, deque] = defaultdict(deque)
        self.requests: list[RecordedRequest] = []
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                recorded.requests.append(
                    RecordedRequest(self.command, url.path, parse_qs(url.query), body, dict(self.headers))
                )
                queue = recorded.answers.get(url.path)
                status, payload = queue.popleft() if queue else (404, {"error": f"nothing queued for {url.path}"})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, payload, status: int = 200) -> None:
        self.answers[path].append((status, payload))

    def to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    def queries_to(self, path: str) -> list[dict]:
        return [request.query for request in self.to(path)]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
