"""The only code that changes users, KYC applications, restrictions and API keys. One transaction per
business action; every change leaves an audit event.

One module per concern, each importing only those before it (no cycles):
    common    the checks every staff action makes (permission, reason, never one's own records)
    profile   the user's own profile and chart preferences
    kyc       the application, its documents and submission; compliance decisions; audited reads
    staff     staff acting for customers: password reset email, account restrictions
    api_keys  API keys: create (after re-authentication), revoke, authenticate
    security  credentials changed or logout: API keys revoked, sockets closed
Callers use the names below (`from accounts import services; services.kyc_submit(...)`).
"""

from accounts.services.api_keys import (
    ApiKeyInvalid,
    api_key_authenticate,
    api_key_create,
    api_key_create_confirmed,
    api_key_revoke,
    user_identity_confirm,
)
from accounts.services.kyc import (
    kyc_approve,
    kyc_document_upload,
    kyc_document_view_record,
    kyc_draft_save,
    kyc_record_view_record,
    kyc_reject,
    kyc_request_action,
    kyc_review_start,
    kyc_submit,
    tax_ids_reencrypt,
)
from accounts.services.profile import user_chart_indicators_set, user_update_profile
from accounts.services.security import user_credentials_changed, user_logged_out_sockets_close
from accounts.services.staff import account_restriction_set, customer_password_reset_send

__all__ = [
    "ApiKeyInvalid",
    "account_restriction_set",
    "api_key_authenticate",
    "api_key_create",
    "api_key_create_confirmed",
    "api_key_revoke",
    "customer_password_reset_send",
    "kyc_approve",
    "kyc_document_upload",
    "kyc_document_view_record",
    "kyc_draft_save",
    "kyc_record_view_record",
    "kyc_reject",
    "kyc_request_action",
    "kyc_review_start",
    "kyc_submit",
    "tax_ids_reencrypt",
    "user_chart_indicators_set",
    "user_credentials_changed",
    "user_identity_confirm",
    "user_logged_out_sockets_close",
    "user_update_profile",
]
