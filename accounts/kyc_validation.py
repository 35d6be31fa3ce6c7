"""Format checks for KYC data: countries (ISO 3166-1 alpha-2 via pycountry), US states,
US postal codes, dates of birth, tax ids and uploaded documents (by magic bytes)."""

import re
from datetime import date

import pycountry
from django.core.exceptions import ValidationError
from django.utils import timezone

MINIMUM_AGE_YEARS = 18
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

# US states, DC and the inhabited territories where US brokerage customers live.
US_STATE_CODES = frozenset(
    subdivision.code.split("-")[1]
    for subdivision in pycountry.subdivisions.get(country_code="US")
    if subdivision.type in {"State", "District"}
) | {"PR", "GU", "VI", "AS", "MP"}
US_POSTAL_CODE = re.compile(r"^\d{5}(-\d{4})?$")
US_SSN = re.compile(r"^\d{9}$")
PHONE_NUMBER = re.compile(r"^\+?[0-9][0-9 ().-]{6,19}$")

# Accepted document formats, recognised by their first bytes (never the client's content type).
DOCUMENT_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


def validate_country_code(value: str) -> None:
    if value and pycountry.countries.get(alpha_2=value) is None:
        raise ValidationError("Not an ISO 3166-1 alpha-2 country code (e.g. US, GB, DE).", code="invalid_country")


def validate_us_state(value: str) -> None:
    if value not in US_STATE_CODES:
        raise ValidationError("Not a US state code (e.g. CA, NY).", code="invalid_state")


def validate_us_postal_code(value: str) -> None:
    if not US_POSTAL_CODE.match(value):
        raise ValidationError(
            "A US ZIP code has 5 digits, optionally followed by -4 digits.", code="invalid_postal_code"
        )


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def validate_date_of_birth(value: date) -> None:
    today = timezone.localdate()
    if value > today:
        raise ValidationError("The date of birth is in the future.", code="future_date")
    if value.year < 1900:
        raise ValidationError("The date of birth is before 1900.", code="invalid_date")
    if age_on(value, today) < MINIMUM_AGE_YEARS:
        raise ValidationError(f"You must be at least {MINIMUM_AGE_YEARS} years old.", code="underage")


def normalize_tax_id(tax_id_type: str, raw: str) -> str:
    """Strip separators; a US SSN or ITIN must then be exactly nine digits."""
    value = re.sub(r"[\s-]", "", raw or "")
    if not value:
        raise ValidationError("Enter a tax id.", code="required")
    if tax_id_type in {"USA_SSN", "USA_ITIN"} and not US_SSN.match(value):
        raise ValidationError("A US SSN or ITIN has nine digits (e.g. 123-45-6789).", code="invalid_tax_id")
    if not 4 <= len(value) <= 32:
        raise ValidationError("A tax id has between 4 and 32 characters.", code="invalid_tax_id")
    return value


def sniff_document_content_type(uploaded_file) -> str:
    """The real type of an upload from its first bytes; refuses anything but PDF/JPEG/PNG."""
    if uploaded_file.size > MAX_DOCUMENT_BYTES:
        raise ValidationError("The file is larger than 10 MB.", code="file_too_large")
    if uploaded_file.size == 0:
        raise ValidationError("The file is empty.", code="empty_file")
    uploaded_file.seek(0)
    head = uploaded_file.read(16)
    uploaded_file.seek(0)
    for signature, content_type in DOCUMENT_SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    raise ValidationError("Only PDF, JPEG and PNG files are accepted.", code="unsupported_file_type")
