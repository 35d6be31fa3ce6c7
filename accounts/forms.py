"""Onboarding step forms. They check formats and render fields; saving goes through
`accounts.services.kyc_draft_save`, which validates again (the one source of truth)."""

import pycountry
from django import forms
from django.forms.models import fields_for_model

from accounts.models import AccountRestriction, ApiKey, KYCAgreement, KYCApplication, KYCDocument, User

COUNTRY_CHOICES = [("", "—")] + sorted(
    ((country.alpha_2, country.name) for country in pycountry.countries), key=lambda choice: choice[1]
)
YES_NO = [("true", "Yes"), ("false", "No")]


def _yes_no_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=YES_NO, coerce=lambda value: value == "true", widget=forms.RadioSelect
    )


def _model_fields(*names: str, **overrides) -> dict:
    fields = fields_for_model(KYCApplication, fields=names)
    fields.update(overrides)
    return fields


class KYCStepForm(forms.Form):
    """A form over some of the application's fields, pre-filled from the application."""

    def __init__(self, *args, application: KYCApplication, **kwargs):
        names = [name for name in self.base_fields if name in KYCApplication.EDITABLE_FIELDS and name != "tax_id"]
        initial = {name: getattr(application, name) for name in names}
        for name in names:
            if isinstance(initial[name], bool):
                initial[name] = "true" if initial[name] else "false"
        # Callers pass data/files by keyword or position, never `initial`: it comes from the application.
        super().__init__(*args, initial=initial, **kwargs)  # type: ignore[misc]
        self.application = application


def _step_form(name: str, fields: dict, base=KYCStepForm) -> type[KYCStepForm]:
    return type(name, (base,), fields)


ContactForm = _step_form(
    "ContactForm",
    _model_fields(*KYCApplication.CONTACT_FIELDS, country=forms.ChoiceField(label="Country", choices=COUNTRY_CHOICES)),
)


class IdentityFormBase(KYCStepForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.application.tax_id_last4:
            self.fields["tax_id"].required = False
            self.fields["tax_id"].help_text = f"On file: {self.application.tax_id_masked}. Leave empty to keep it."


IdentityForm = _step_form(
    "IdentityForm",
    _model_fields(
        "given_name",
        "family_name",
        "date_of_birth",
        "tax_id_type",
        "country_of_citizenship",
        "country_of_tax_residence",
        date_of_birth=forms.DateField(label="Date of birth", widget=forms.DateInput(attrs={"type": "date"})),
        tax_id=forms.CharField(
            label="Tax id", max_length=32, widget=forms.TextInput(attrs={"autocomplete": "off"}), strip=True
        ),
        country_of_citizenship=forms.ChoiceField(label="Country of citizenship", choices=COUNTRY_CHOICES),
        country_of_tax_residence=forms.ChoiceField(label="Country of tax residence", choices=COUNTRY_CHOICES),
        funding_source=forms.MultipleChoiceField(
            label="Funding source",
            choices=KYCApplication.FundingSource.choices,
            widget=forms.CheckboxSelectMultiple,
        ),
    ),
    base=IdentityFormBase,
)

DisclosuresForm = _step_form(
    "DisclosuresForm",
    {
        "is_control_person": _yes_no_field("Are you a control person of a publicly traded company?"),
        "is_affiliated_exchange_or_finra": _yes_no_field("Are you affiliated with a stock exchange or FINRA?"),
        "is_politically_exposed": _yes_no_field("Are you a politically exposed person?"),
        "immediate_family_exposed": _yes_no_field("Is an immediate family member politically exposed?"),
        # The trusted contact is optional.
        **_model_fields(*KYCApplication.TRUSTED_CONTACT_FIELDS),
    },
)


class AgreementsForm(forms.Form):
    def __init__(self, *args, required: list[str], signed: set[str], **kwargs):
        super().__init__(*args, **kwargs)
        for kind in required:
            self.fields[kind] = forms.BooleanField(
                label=f"I accept the {KYCAgreement.Kind(kind).label.lower()}",
                required=kind not in signed,
                initial=kind in signed,
                disabled=kind in signed,
            )

    def accepted(self) -> list[str]:
        return [kind for kind, value in self.cleaned_data.items() if value]


class DocumentUploadForm(forms.Form):
    document_type = forms.ChoiceField(label="Document", choices=KYCDocument.Type.choices)
    file = forms.FileField(label="File (PDF, JPEG or PNG, up to 10 MB)")


# --- Staff forms (admin intermediate pages) ----------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}))


class ApproveForm(ReasonForm):
    kyc_level = forms.TypedChoiceField(
        label="KYC level",
        coerce=int,
        choices=[(KYCApplication.Level.FULL, "2 — full"), (KYCApplication.Level.BASIC, "1 — basic")],
    )


class RequestActionForm(ReasonForm):
    requested_documents = forms.MultipleChoiceField(
        label="Missing documents", choices=KYCDocument.Type.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    requested_fields = forms.MultipleChoiceField(
        label="Fields to correct or complete",
        choices=[(name, name.replace("_", " ")) for name in KYCApplication.EDITABLE_FIELDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class RestrictionForm(ReasonForm):
    kind = forms.ChoiceField(label="Restriction", choices=AccountRestriction.Kind.choices)
    blocked = forms.TypedChoiceField(
        label="Action", choices=[("true", "Block / freeze"), ("false", "Lift")], coerce=lambda value: value == "true"
    )
    customer_message = forms.ChoiceField(
        label="Message to the customer",
        choices=[("", "—"), *AccountRestriction.CustomerMessage.choices],
        required=False,
        help_text="Required to block or freeze: what the customer reads. The note below stays internal.",
    )
    reason = forms.CharField(
        label="Internal note",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why, for staff and the audit trail. Never shown to the customer.",
    )


# --- Settings pages ----------------------------------------------------------------------


class ProfileForm(forms.Form):
    first_name = User._meta.get_field("first_name").formfield(label="First name")
    last_name = User._meta.get_field("last_name").formfield(label="Last name")
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=User.TIME_ZONES,
        help_text="Times on your pages are shown in this zone. Market hours are always New York time (ET).",
    )


class ApiKeyCreateForm(forms.Form):
    field_order = ["label", "scope", "password"]
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Creating a key asks who you are again: your password, or a code from your authenticator app.",
    )
    label = forms.CharField(
        label="Label", max_length=100, required=False, help_text="What the key is for, e.g. “my trading bot”."
    )
    scope = forms.ChoiceField(
        label="Access",
        choices=[
            (ApiKey.Scope.READ_ONLY, "Read only: account, positions, orders, market data"),
            (ApiKey.Scope.TRADING, "Trading: also place and cancel orders"),
        ],
        initial=ApiKey.Scope.READ_ONLY,
        widget=forms.RadioSelect,
    )
