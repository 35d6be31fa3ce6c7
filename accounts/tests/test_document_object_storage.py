"""KYC documents on S3-compatible object storage (services deployments): private ACL, server-side
encryption, nothing on the web machine's disk, served only through our views. Against moto's S3
server, started here on 127.0.0.1 and a free port."""

from pathlib import Path

import pytest

from accounts.models import KYCDocument
from accounts.s3_storage import PrivateS3Storage
from accounts.storage import private_document_storage
from accounts.tests.factories import PNG_BYTES
from accounts.tests.test_kyc_documents import _upload
from speedtrade.tests.processes import MotoS3Server

pytestmark = pytest.mark.django_db
BUCKET = "speedtrade-private-test"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    server = MotoS3Server(tmp_path_factory.mktemp("moto") / "moto.log")
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.kill()


@pytest.fixture
def private_s3(settings, s3_server):
    """STORAGES["private"] as settings.py builds it with PRIVATE_S3_* set."""
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "accounts.s3_storage.PrivateS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "location": "private",
                "endpoint_url": s3_server.endpoint_url,
                "addressing_style": "path",
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": "private",
                "object_parameters": {"ServerSideEncryption": "AES256"},
                "file_overwrite": False,
                "querystring_auth": True,
            },
        },
    }
    return s3_server.client()


def test_an_upload_is_an_encrypted_private_object_and_nothing_on_local_disk(alice_api, private_s3, settings):
    response = _upload(alice_api, PNG_BYTES)
    assert response.status_code == 201, response.json()
    document = KYCDocument.objects.get(pk=response.json()["id"])

    key = f"private/{document.file.name}"
    stored = private_s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read() == PNG_BYTES
    assert stored["ServerSideEncryption"] == "AES256"
    grants = private_s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner only: no public grant
    assert all("URI" not in grant["Grantee"] for grant in grants)
    local = Path(settings.PRIVATE_MEDIA_ROOT)
    assert not local.exists() or not any(local.rglob("*"))


def test_another_web_machine_reads_what_the_first_stored(alice_api, private_s3, settings):
    """The second machine shares only the database and the bucket: its own storage object reads the file."""
    document = KYCDocument.objects.get(pk=_upload(alice_api, PNG_BYTES).json()["id"])

    other_machine = PrivateS3Storage(**settings.STORAGES["private"]["OPTIONS"])
    with other_machine.open(document.file.name) as stored:
        assert stored.read() == PNG_BYTES
    response = alice_api.get(f"/api/v1/kyc/documents/{document.pk}")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG_BYTES


def test_files_are_served_only_through_our_views(alice_api, bob, api_client, private_s3):
    document = KYCDocument.objects.get(pk=_upload(alice_api, PNG_BYTES).json()["id"])
    with pytest.raises(NotImplementedError):
        document.file.url  # noqa: B018 - no presigned or public URL leaves the app
    with pytest.raises(NotImplementedError):
        private_document_storage.backend().url(document.file.name)

    api_client.force_authenticate(bob)
    assert api_client.get(f"/api/v1/kyc/documents/{document.pk}").status_code == 404


def test_the_filesystem_stays_the_default(settings):
    assert settings.STORAGES["private"]["BACKEND"] == "accounts.storage.PrivateFileSystemStorage"
    assert type(private_document_storage.backend()).__name__ == "PrivateFileSystemStorage"
