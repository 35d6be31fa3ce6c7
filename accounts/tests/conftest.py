import pytest


@pytest.fixture(autouse=True)
def _private_media_in_tmp(settings, tmp_path):
    """KYC uploads go to a per-test directory, never the checkout's var/private."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT
