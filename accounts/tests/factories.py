from datetime import date

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.encryption import encrypt_text
from accounts.models import KYCAgreement, KYCApplication, KYCDocument, User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A user with a verified primary email, able to log in with DEFAULT_PASSWORD."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def verified_email(user, create, extracted, **kwargs):
        if create:
            user.save()
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)

    @factory.post_generation
    def staff_group(user, create, extracted, **kwargs):
        if create and extracted:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            user.groups.add(Group.objects.get(name=extracted))


PDF_BYTES = b"%PDF-1.4\n% test document\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TAX_ID = "123-45-6789"


class KYCApplicationFactory(factory.django.DjangoModelFactory):
    """A complete draft: every required field valid, documents uploaded, agreements signed.

    Submit it with `accounts.services.kyc_submit` so the state machine writes its history.
    """

    class Meta:
        model = KYCApplication
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    email_address = factory.LazyAttribute(lambda application: application.user.email)
    phone_number = "+1 555 010 0100"
    street_address = "20 N San Mateo Dr"
    city = "San Mateo"
    state = "CA"
    postal_code = "94401"
    country = "US"
    given_name = factory.LazyAttribute(lambda application: application.user.first_name or "Test")
    family_name = "Applicant"
    date_of_birth = date(1990, 1, 15)
    tax_id_type = KYCApplication.TaxIdType.USA_SSN
    tax_id_encrypted = factory.LazyFunction(lambda: encrypt_text(TAX_ID.replace("-", "")))
    tax_id_last4 = TAX_ID[-4:]
    country_of_citizenship = "US"
    country_of_tax_residence = "US"
    funding_source = factory.LazyFunction(lambda: [KYCApplication.FundingSource.EMPLOYMENT_INCOME])
    is_control_person = False
    is_affiliated_exchange_or_finra = False
    is_politically_exposed = False
    immediate_family_exposed = False

    @factory.post_generation
    def documents(application, create, extracted, **kwargs):
        if create and extracted is not False:
            for document_type in (KYCDocument.Type.ID_FRONT, KYCDocument.Type.PROOF_OF_ADDRESS):
                KYCDocumentFactory(application=application, document_type=document_type)

    @factory.post_generation
    def agreements(application, create, extracted, **kwargs):
        if create and extracted is not False:
            for kind in (KYCAgreement.Kind.CUSTOMER, KYCAgreement.Kind.ACCOUNT):
                KYCAgreement.objects.create(application=application, agreement=kind, signed_at=timezone.now())


class KYCDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KYCDocument

    application = factory.SubFactory(KYCApplicationFactory, documents=False)
    document_type = KYCDocument.Type.ID_FRONT
    file = factory.django.FileField(data=PDF_BYTES, filename="document.pdf")
    content_type = "application/pdf"
    size = len(PDF_BYTES)


def approved_customer(user: User, account_type: str = "cash"):
    """File, submit and approve `user`'s KYC the way compliance does; returns their active account.

    Trading and money tests start here: no one trades, deposits or withdraws before compliance
    has approved them. `account_type` is the account opened when the user has none yet.
    """
    from accounts import selectors, services
    from portfolios.selectors import primary_account
    from portfolios.services import account_open

    account = primary_account(user=user) or account_open(user=user, account_type=account_type)
    application = KYCApplicationFactory(user=user)
    for kind in selectors.kyc_required_agreements(application=application):  # a margin account's, too
        KYCAgreement.objects.get_or_create(
            application=application, agreement=kind, defaults={"signed_at": timezone.now()}
        )
    application = services.kyc_submit(user=user)
    services.kyc_approve(application=application, actor=None, reason="Approved for the test.")
    account.refresh_from_db()
    return account


def restriction_set(
    account, *, actor, kind="account", blocked=True, reason="Testing a trading block", message="security"
):
    """Compliance (`actor`) restricts `account`: by default freezes it, telling the customer it is for security."""
    from accounts import services

    return services.account_restriction_set(
        account=account, kind=kind, blocked=blocked, actor=actor, reason=reason, customer_message=message
    )
