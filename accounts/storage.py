"""Storage for private files (KYC uploads; account documents: statements, confirmations, tax reports):
no public URL, ever. Files leave only through a view that checks who is asking
(`accounts.views.document_download`, `accounts.api.views.KYCDocumentDownloadView`, `documents.views`).

Where the bytes live is `STORAGES["private"]` (KYC uploads) and `STORAGES["documents"]` (account
documents, kept at least six years: SEC Rule 17a-4), chosen by the settings:

* the embedded default and the tests: `PrivateFileSystemStorage` under `PRIVATE_MEDIA_ROOT`
  (`ACCOUNT_DOCUMENTS_ROOT` for account documents), outside the static and media trees;
* services deployments with several web machines: `accounts.s3_storage.PrivateS3Storage`, a bucket on S3 or any
  S3-compatible object store (PRIVATE_S3_*), every object written with a private ACL and
  server-side encryption, so any web machine reads what another one stored.

Models point at `private_document_storage` / `account_document_storage`, which resolve their alias at
each use: a deployment or a test changes the backend without a migration.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.deconstruct import deconstructible

NO_URL = "Private files have no public URL; stream them through a checked view."


@deconstructible
class PrivateFileSystemStorage(FileSystemStorage):
    # The location is read from settings at each use (not cached), so tests and
    # deployments can point PRIVATE_MEDIA_ROOT (or the setting named by `root_setting`) elsewhere.
    def __init__(self, root_setting: str = "PRIVATE_MEDIA_ROOT", **kwargs) -> None:
        super().__init__(**kwargs)
        self.root_setting = root_setting

    @property
    def base_location(self):
        return str(getattr(settings, self.root_setting))

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise NotImplementedError(NO_URL)


@deconstructible
class PrivateStorage(Storage):
    """`STORAGES[alias]`, looked up at each call."""

    def __init__(self, alias: str = "private") -> None:
        self.alias = alias

    def backend(self) -> Storage:
        return storages[self.alias]

    def _open(self, name, mode="rb"):
        return self.backend().open(name, mode)

    def _save(self, name, content):
        return self.backend().save(name, content)

    def get_available_name(self, name, max_length=None):
        return self.backend().get_available_name(name, max_length=max_length)

    def delete(self, name):
        return self.backend().delete(name)

    def exists(self, name):
        return self.backend().exists(name)

    def listdir(self, path):
        return self.backend().listdir(path)

    def size(self, name):
        return self.backend().size(name)

    def path(self, name):
        return self.backend().path(name)

    def get_modified_time(self, name):
        return self.backend().get_modified_time(name)

    def url(self, name):
        raise NotImplementedError(NO_URL)


private_document_storage = PrivateStorage()
account_document_storage = PrivateStorage("documents")
