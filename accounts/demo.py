"""Demo and operator seeding, for management commands (`create_trader`, `seed_demo`) and the bench only.

Nothing a customer or staff member does goes through here: it files a complete KYC application
with fictional data (an SSN that is never issued, placeholder PDFs) through the same services a
customer's own application uses.
"""

from datetime import date
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from accounts import selectors, services
from accounts.models import KYCApplication, KYCDocument, User
from portfolios.selectors import account_cash_balance, primary_account
from portfolios.services import account_open, deposit_settled_post
from speedtrade.errors import DomainError, InvalidInput, full_clean

STAFF_GROUPS = {"compliance": "Compliance", "support": "Support"}


@transaction.atomic
def trader_create(
    *,
    email: str,
    password: str,
    staff_group: str | None = None,
    superuser: bool = False,
    cash: Decimal | None = None,
    kyc: str | None = None,
) -> User:
    """Create or update a user whose email is verified, so they can log in at once.

    `cash` (portfolios): top the trader's cash up to at least this amount with a settled
    deposit, so running it twice does not pay twice. `kyc="pending"` also files a
    complete, submitted KYC application; `kyc="approved"` files one and approves it as
    the system (audited), which activates the account.
    """
    email = User.objects.normalize_email(email).strip()
    user = User.objects.filter(email__iexact=email).first() or User(email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput({"password": exc.messages}) from exc
    user.set_password(password)
    user.is_staff = bool(staff_group) or superuser
    user.is_superuser = superuser
    full_clean(user)
    user.save()
    EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    if not staff_group and not superuser and primary_account(user=user) is None:
        account_open(user=user)
    if staff_group:
        user.groups.add(Group.objects.get(name=STAFF_GROUPS[staff_group]))
    if kyc in ("pending", "approved"):
        _demo_application_file(user=user)
    if kyc == "approved":
        application = KYCApplication.objects.get(user=user)
        if application.status != KYCApplication.Status.APPROVED:
            services.kyc_approve(application=application, actor=None, reason="Created approved by create_trader.")
    if cash is not None:
        # After the approval: only approved accounts are funded.
        account = primary_account(user=user)
        if account is None:
            raise DomainError("Only traders (not staff) have a brokerage account to fund.", code="not_a_trader")
        shortfall = cash - account_cash_balance(account=account)
        if shortfall > 0:
            deposit_settled_post(account=account, amount=shortfall)
    return user


def _demo_application_file(*, user: User) -> None:
    """A complete, plausible application (fictional data), submitted unless already past that."""
    application = KYCApplication.objects.filter(user=user).first()
    if application is not None and not application.is_editable:
        return
    services.kyc_draft_save(
        user=user,
        changes={
            "email_address": user.email,
            "phone_number": "+1 555 010 0199",
            "street_address": "20 N San Mateo Dr",
            "city": "San Mateo",
            "state": "CA",
            "postal_code": "94401",
            "country": "US",
            "given_name": user.first_name or user.email.split("@")[0].capitalize(),
            "family_name": user.last_name or "Demo",
            "date_of_birth": date(1990, 1, 15),
            "tax_id_type": KYCApplication.TaxIdType.USA_SSN,
            "tax_id": "666-12-3456",  # 666 is never issued: safely fictional
            "country_of_citizenship": "US",
            "country_of_tax_residence": "US",
            "funding_source": [KYCApplication.FundingSource.EMPLOYMENT_INCOME],
            "is_control_person": False,
            "is_affiliated_exchange_or_finra": False,
            "is_politically_exposed": False,
            "immediate_family_exposed": False,
        },
        # The agreements depend on the user's accounts only, so an unsaved application answers.
        agreements=selectors.kyc_required_agreements(application=KYCApplication(user=user)),
    )
    uploaded = set(KYCDocument.objects.filter(application__user=user).values_list("document_type", flat=True))
    for document_type in selectors.REQUIRED_DOCUMENTS:
        if document_type not in uploaded:
            sample = ContentFile(b"%PDF-1.4\n% SpeedTrade demo document\n%%EOF\n", name=f"{document_type}.pdf")
            services.kyc_document_upload(user=user, document_type=document_type, uploaded_file=sample)
    services.kyc_submit(user=user)
