"""The private bucket backend (`accounts.storage` says when it is chosen). A module of its own so that only a
deployment configured for S3 imports boto3 (about 25 MB in every web worker otherwise)."""

from storages.backends.s3 import S3Storage

from accounts.storage import NO_URL


class PrivateS3Storage(S3Storage):
    """A private bucket: no presigned or public URL is handed out either; our views stream the object."""

    def url(self, name, parameters=None, expire=None, http_method=None):
        raise NotImplementedError(NO_URL)
