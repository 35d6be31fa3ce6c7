"""A local HTTP server answering GETs with recorded provider responses, queued per path
(for clients that do not use `requests`, so requests-mock cannot reach them: massive uses
urllib3). Binds 127.0.0.1 on a free port; use it as a context manager so it stops."""

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class RecordedHTTPServer:
    def __init__(self) -> None:
        self.answers: dict[str, deque] = defaultdict(deque)
        self.requests: list[tuple[str, dict, dict]] = []
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                recorded.requests.append((url.path, parse_qs(url.query), dict(self.headers)))
                queue = recorded.answers.get(url.path)
                status, payload = queue.popleft() if queue else (404, {"status": "NOT_FOUND", "path": url.path})
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

    def answer(self, path: str, payload, status: int = 200) -> None:
        self.answers[path].append((status, payload))

    def queries_to(self, path: str) -> list[dict]:
        return [query for request_path, query, _ in self.requests if request_path == path]

    def __enter__(self) -> "RecordedHTTPServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
