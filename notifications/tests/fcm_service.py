"""A local stand-in for Google's OAuth token endpoint and FCM's HTTP v1 API, answering in their documented formats.

- `POST /token`: the service account's signed JWT (RFC 7523 grant) in, `{"access_token", "expires_in",
  "token_type"}` out; the assertion's signature is checked against the throwaway key's public half.
- `POST /v1/projects/<project>/messages:send`: 200 `{"name": "projects/<project>/messages/<id>"}`; a token starting
  `unregistered-` gets 404 NOT_FOUND with FcmError UNREGISTERED, one starting `malformed-` 400 INVALID_ARGUMENT with a
  BadRequest field violation on `message.token`, one starting `badmessage-` 400 INVALID_ARGUMENT about the message.
"""

import json
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from speedtrade.tests.local_http import LocalHTTPService, request_body, request_headers, respond

ACCESS_TOKEN = "ya29.local-test-token"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def service_account_key(path: Path, *, token_uri: str, project_id: str = "speedtrade-test") -> rsa.RSAPrivateKey:
    """Write a throwaway service-account JSON key (the shape Google's console downloads) to `path`."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project_id,
                "private_key_id": uuid.uuid4().hex,
                "private_key": pem,
                "client_email": f"push@{project_id}.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": token_uri,
            }
        )
    )
    return private_key


def _error(code: int, status: str, message: str, details: list) -> dict:
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


def _fcm_error(code: str) -> dict:
    return {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}


def fcm_answer(token: str, project: str) -> tuple[int, dict]:
    if token.startswith("unregistered-"):
        return 404, _error(404, "NOT_FOUND", "Requested entity was not found.", [_fcm_error("UNREGISTERED")])
    if token.startswith("malformed-"):
        violation = {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
        }
        return 400, _error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            [_fcm_error("INVALID_ARGUMENT"), violation],
        )
    if token.startswith("badmessage-"):
        violation = {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "message.data[0].value", "description": "Invalid value"}],
        }
        return 400, _error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data[0].value'", [violation])
    return 200, {"name": f"projects/{project}/messages/{uuid.uuid4().hex}"}


class FcmService(LocalHTTPService):
    def __init__(self):
        self.public_key = None  # set by the test once the key exists, to check the token request's signature
        self.token_requests: list[dict] = []
        self.sent: list[tuple[str, dict, dict]] = []  # (path, headers, body)
        super().__init__()

    def handle_post(self, request):
        raw = request_body(request)
        if request.path == "/token":
            form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
            # google-auth signs for Google's token endpoint whatever the key's token_uri says.
            claims = jwt.decode(
                form["assertion"], self.public_key, algorithms=["RS256"], audience=GOOGLE_TOKEN_AUDIENCE
            )
            self.token_requests.append({"grant_type": form["grant_type"], **claims})
            return respond(request, 200, {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"})
        headers = request_headers(request)
        body = json.loads(raw)
        self.sent.append((request.path, headers, body))
        if headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return respond(request, 401, _error(401, "UNAUTHENTICATED", "Request had invalid credentials.", []))
        project = request.path.split("/")[3]
        respond(request, *fcm_answer(body["message"]["token"], project))
