"""A local stand-in for Plaid's API host: plaid-python (the real client) talks HTTP to it and
gets Plaid's recorded sandbox responses back, in the order a test queues them per endpoint."""

import json
from pathlib import Path

from speedtrade.tests.recorded_http import RecordedHTTPServer

RECORDINGS = Path(__file__).parent / "recordings" / "plaid"


def recording(name: str) -> dict:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


class PlaidSandbox(RecordedHTTPServer):
    def answer(self, path: str, name_or_payload, status: int = 200) -> None:
        payload = recording(name_or_payload) if isinstance(name_or_payload, str) else name_or_payload
        super().answer(path, payload, status)

    def requests_to(self, path: str) -> list[dict]:
        return [request.body for request in self.to(path)]

    def headers_to(self, path: str) -> list[dict]:
        return [request.headers for request in self.to(path)]
