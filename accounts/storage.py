"""Storage for private uploads (KYC documents): `settings.PRIVATE_MEDIA_ROOT`, outside
the static and media trees, with no URL. Files leave only through a view that checks
who is asking (`accounts.views.kyc_document_download`)."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class PrivateFileSystemStorage(FileSystemStorage):
    # The location is read from settings at each use (not cached), so tests and
    # deployments can point PRIVATE_MEDIA_ROOT elsewhere.
    @property
    def base_location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise NotImplementedError("Private files have no public URL; stream them through a checked view.")


private_document_storage = PrivateFileSystemStorage()
