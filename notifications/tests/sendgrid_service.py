"""A local stand-in for SendGrid's v3 Mail Send API (`POST /v3/mail/send`), answering as SendGrid documents:
202 Accepted with an empty body and `X-Message-Id` for a message it takes; 401 with `{"errors": [...]}` for a
wrong key. It records each request."""

import json
import uuid

from speedtrade.tests.local_http import LocalHTTPService, request_body, request_headers, respond

API_KEY = "SG.local-test-key"


class SendGridService(LocalHTTPService):
    def __init__(self):
        self.received: list[tuple[str, dict, dict]] = []
        super().__init__()

    def handle_post(self, request):
        headers = request_headers(request)
        self.received.append((request.path, headers, json.loads(request_body(request))))
        if headers.get("authorization") != f"Bearer {API_KEY}":
            refused = {"errors": [{"message": "The provided authorization grant is invalid.", "field": None}]}
            return respond(request, 401, refused)
        respond(request, 202, headers={"X-Message-Id": uuid.uuid4().hex[:22]})
