"""Debian's nginx with the compose templates (deploy/nginx/) in front of `manage.py serve` in production mode.

The templates are rendered as the nginx image renders them (envsubst of the container's environment)
with the upstream pointed at a local uvicorn; nginx runs as the current user with its pid, logs and
temporary files in a temporary directory. `make test` installs nginx when it is missing.
"""

import grp
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from websockets.sync.client import connect

from accounts.models import AuditEvent
from accounts.tests.factories import DEFAULT_PASSWORD
from e2e.support import LiveServer, server_environment

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = Path(settings.BASE_DIR) / "deploy" / "nginx"
NO_BALANCER = "0.0.0.0/32"  # docker-compose.yml's default
STARTUP_TIMEOUT_SECONDS = 10
# Every WebSocket route (speedtrade/routing.py), Alpaca's market-data feeds spelled out.
WEBSOCKET_PATHS = ["/ws/trades", "/ws/quotes", "/stream", "/v1beta3/crypto/us"] + [
    f"/v2/{feed}" for feed in ("iex", "sip", "delayed_sip", "test")
]
PRODUCTION = {
    "SPEEDTRADE_ENV": "production",
    "DEBUG": "false",
    "SECRET_KEY": "k8Jq2vP0xW7mZr4tY9bN3cL6hF1sD5gA-uE8iO2pQ7wR4yT0zX",
    "FIELD_ENCRYPTION_KEYS": "mbS9QO2JJ1xvFZ6R0o1n2tY8l4rXq3kK7dVw5cHj0aE=",  # a fixed test key
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "true",
    "TRUSTED_PROXY_IPS": "127.0.0.1",  # nginx, as compose names nginx's fixed address
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def render(template: Path, values: dict[str, str]) -> str:
    """What the nginx image's entrypoint does: envsubst of the defined variables, nginx's own $names untouched."""
    text = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template.read_text())
    missing = set(re.findall(r"\$\{(\w+)\}", "\n".join(line.split("#")[0] for line in text.splitlines())))
    assert not missing, f"{template.name} needs {missing}, which compose does not set"
    return text


@dataclass
class Nginx:
    process: subprocess.Popen
    port: int
    tls_port: int | None
    directory: Path

    def request(self, method: str, path: str, *, host: str | None = None, tls: bool = False, **headers):
        if tls:
            context = ssl.create_default_context(cafile=self.directory / "certs" / "fullchain.pem")
            connection = http.client.HTTPSConnection("127.0.0.1", self.tls_port, timeout=10, context=context)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = headers.pop("body", None)
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        connection.request(method, path, body=body, headers={"Host": host or f"127.0.0.1:{self.port}", **headers})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response


@contextmanager
def nginx(upstream: str, tmp_path: Path, *, trusted_balancer: str = NO_BALANCER, tls: bool = False) -> Iterator[Nginx]:
    port, tls_port = free_port(), free_port() if tls else None
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir(parents=True)
    values = {
        "SPEEDTRADE_UPSTREAM": upstream,
        "NGINX_RESOLVER": "127.0.0.1",  # never asked: the upstream is an address
        "NGINX_PORT": str(port),
        "NGINX_TRUSTED_BALANCER": trusted_balancer,
    }
    templates = {
        path: conf_d / path.name.removesuffix(".template") for path in (DEPLOY / "templates").glob("*.template")
    }
    if tls:
        values |= {
            "NGINX_TLS_PORT": str(tls_port),
            "NGINX_TLS_CERTIFICATE": str(tmp_path / "certs" / "fullchain.pem"),
            "NGINX_TLS_CERTIFICATE_KEY": str(tmp_path / "certs" / "privkey.pem"),
        }
        write_self_signed_certificate(tmp_path / "certs")
        # deploy/docker-compose.tls.yml mounts deploy/nginx/tls/ at templates/tls/: rendered into conf.d/tls/.
        (conf_d / "tls").mkdir()
        templates[DEPLOY / "tls" / "speedtrade-tls.conf.template"] = conf_d / "tls" / "speedtrade-tls.conf"
    for template, rendered in templates.items():
        rendered.write_text(render(template, values))
    user = ""
    if os.geteuid() == 0:  # workers would otherwise switch to `nobody`
        user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"
    (tmp_path / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {tmp_path}/access.log;
    client_body_temp_path {tmp_path}/client_body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include conf.d/*.conf;
}}
"""
    )
    process = subprocess.Popen(  # noqa: S603  (Debian's nginx, our config)
        [
            NGINX,
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-e",
            str(tmp_path / "error.log"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = Nginx(process=process, port=port, tls_port=tls_port, directory=tmp_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not all(_listening(p) for p in (port, tls_port) if p):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{(tmp_path / 'error.log').read_text()[-3000:]}")
            time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish open requests, then exit
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def write_self_signed_certificate(directory: Path) -> None:
    directory.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker, tmp_path_factory):
    """`manage.py serve` in production mode on a free port, against the test database."""
    with django_db_blocker.unblock():
        environment = server_environment(PRODUCTION, mail_dir=tmp_path_factory.mktemp("mail"))
    port = free_port()
    server = LiveServer.start(
        environment=environment,
        mail_dir=Path(environment["EMAIL_FILE_PATH"]),
        ports=f"{port}-{port}",
        name="nginx-upstream",
    )
    yield server
    server.stop()


def upstream(web: LiveServer) -> str:
    return web.url.removeprefix("http://")


def access_token(web: LiveServer, user) -> str:
    """A mobile client's token for `user`, asked of uvicorn directly (as nginx would: trusted, over https)."""
    connection = http.client.HTTPConnection(*upstream(web).split(":"), timeout=10)
    body = json.dumps({"email": user.email, "password": DEFAULT_PASSWORD}).encode()
    headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
    connection.request("POST", "/_allauth/app/v1/auth/login", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200, response.read()
    token = json.loads(response.read())["meta"]["access_token"]
    connection.close()
    return token


def test_every_websocket_route_upgrades_through_nginx(web, tmp_path, alice):
    bearer = {"Authorization": f"Bearer {access_token(web, alice)}"}  # /ws/… need a user; Alpaca's auth later
    with nginx(upstream(web), tmp_path) as proxy:
        for path in WEBSOCKET_PATHS:
            with connect(
                f"ws://127.0.0.1:{proxy.port}{path}", additional_headers=bearer, open_timeout=10, close_timeout=2
            ) as socket_:
                assert socket_.response.status_code == 101, path
                assert socket_.ping().wait(timeout=10), path  # frames go both ways through the tunnel


def test_the_host_keeps_its_port_and_is_checked_against_allowed_hosts(web, tmp_path):
    with nginx(upstream(web), tmp_path) as proxy:
        # Production redirects plain HTTP to https on the host the client asked for, port included.
        response = proxy.request("GET", "/accounts/login/")
        assert response.status == 301
        assert response.getheader("Location") == f"https://127.0.0.1:{proxy.port}/accounts/login/"
        assert proxy.request("GET", "/accounts/login/", host="evil.example").status == 400


def test_health_answers_through_nginx_whatever_the_host(web, tmp_path):
    with nginx(upstream(web), tmp_path) as proxy:
        assert proxy.request("GET", "/health", host="127.0.0.1").status == 200
        assert proxy.request("GET", "/metrics").status == 403


def test_behind_a_tls_balancer_its_proto_is_believed_and_nothing_loops(web, tmp_path):
    with nginx(upstream(web), tmp_path, trusted_balancer="127.0.0.1/32") as proxy:
        # The balancer spoke HTTPS with the client: no redirect (before: 301 to itself, forever).
        assert proxy.request("GET", "/api/v1/me", X_Forwarded_Proto="https").status == 401
        assert proxy.request("GET", "/api/v1/me", X_Forwarded_Proto="http").status == 301


def test_without_a_configured_balancer_a_client_cannot_claim_https(web, tmp_path):
    with nginx(upstream(web), tmp_path) as proxy:
        assert proxy.request("GET", "/api/v1/me", X_Forwarded_Proto="https").status == 301


def test_tls_terminated_at_nginx_with_certificates_from_a_volume(web, tmp_path):
    with nginx(upstream(web), tmp_path, tls=True) as proxy:
        assert proxy.request("GET", "/api/v1/me", tls=True, host=f"127.0.0.1:{proxy.tls_port}").status == 401
        assert proxy.request("GET", "/api/v1/me").status == 301  # plain HTTP is sent to https
        with connect(
            f"wss://127.0.0.1:{proxy.tls_port}/stream",
            ssl=ssl.create_default_context(cafile=tmp_path / "certs" / "fullchain.pem"),
            open_timeout=10,
        ) as socket_:
            assert socket_.response.status_code == 101


def failed_login_ip(proxy: Nginx, **headers) -> str:
    AuditEvent.objects.filter(action="auth.login_failed").delete()
    response = proxy.request(
        "POST",
        "/_allauth/app/v1/auth/login",
        tls=True,
        host=f"127.0.0.1:{proxy.tls_port}",
        Content_Type="application/json",
        body=b'{"email": "nobody@example.com", "password": "not-the-password"}',
        **headers,
    )
    assert response.status == 400
    return AuditEvent.objects.get(action="auth.login_failed").ip_address


def test_a_forged_x_forwarded_for_never_reaches_the_audit_trail(web, tmp_path):
    with nginx(upstream(web), tmp_path, tls=True) as proxy:
        assert failed_login_ip(proxy, X_Forwarded_For="6.6.6.6") == "127.0.0.1"


def test_the_trusted_balancer_names_the_client(web, tmp_path):
    with nginx(upstream(web), tmp_path, tls=True, trusted_balancer="127.0.0.1/32") as proxy:
        # The balancer appended its peer (the client) to whatever the client had sent: the rightmost wins.
        assert failed_login_ip(proxy, X_Forwarded_For="6.6.6.6, 203.0.113.7") == "203.0.113.7"


def test_uvicorn_ignores_x_forwarded_for_from_an_address_it_does_not_trust(tmp_path):
    """Straight to uvicorn, from an address that is not in TRUSTED_PROXY_IPS: the header is the client's lie."""
    environment = server_environment({"TRUSTED_PROXY_IPS": "192.0.2.1"}, mail_dir=tmp_path)
    port = free_port()
    server = LiveServer.start(environment=environment, mail_dir=tmp_path, ports=f"{port}-{port}", name="untrusting")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(
            "POST",
            "/_allauth/app/v1/auth/login",
            body=b'{"email": "nobody@example.com", "password": "not-the-password"}',
            headers={"Content-Type": "application/json", "X-Forwarded-For": "6.6.6.6"},
        )
        assert connection.getresponse().status == 400
        connection.close()
    finally:
        server.stop()
    assert AuditEvent.objects.get(action="auth.login_failed").ip_address == "127.0.0.1"
