"""The admin as compliance staff use it: a KYC review queue whose decisions run through
`accounts.services`, customers with restriction actions, and the read-only audit trail.

Nothing here edits a status or a flag directly: model pages are read-only, and every
decision is a custom page (reason required) that calls a service.

One module despite its length (issue 17): Django registers an app's admin from here, its pages share
the audited mixin and the action-form page (`action_form_response`), and every rule they apply lives
in the services.
"""

from typing import Any

from django import forms as django_forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts import forms, selectors, services
from accounts.admin_export import CsvExport, CsvExportAdminMixin, ModelAdminMixinBase
from accounts.audit import audit_event_record
from accounts.models import (
    AccountRestriction,
    AuditEvent,
    Customer,
    KYCAgreement,
    KYCApplication,
    KYCDocument,
    KYCStatusChange,
    User,
)
from speedtrade.admin import ReadOnlyAdminMixin
from speedtrade.auth_cache import credentials_revoke
from speedtrade.errors import DomainError, InvalidInput, NotPermitted
from speedtrade.forms import add_domain_error

REVIEW_PERMISSION = "accounts.review_kycapplication"
RESTRICT_PERMISSION = "accounts.restrict_account"
PASSWORD_RESET_PERMISSION = "accounts.send_password_reset"


class AuditedUserAdminMixin(ModelAdminMixinBase):
    """Admin changes to users also go to the audit trail (in the admin's transaction)."""

    def log_addition(self, request, obj, message):
        audit_event_record_for_admin(request, "admin.user_added", obj, message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_event_record_for_admin(request, "admin.user_changed", obj, message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_event_record_for_admin(request, "admin.user_deleted", obj, [])
        return super().log_deletions(request, queryset)


def action_form_response(model_admin, request, *, title, subject, form, submit_label, cancel_url):
    """The intermediate page of a staff action: what it concerns, its form, submit and cancel."""
    return TemplateResponse(
        request,
        "admin/accounts/action_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": title,
            "subject": subject,
            "form": form,
            "submit_label": submit_label,
            "cancel_url": cancel_url,
        },
    )


def audit_event_record_for_admin(request, action, user, message):
    audit_event_record(action=action, actor=request.user, target=user, after={"change": message}, request=request)


PRIVILEGE_FIELDS = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(AuditedUserAdminMixin, DjangoUserAdmin):
    """Users as superusers manage them.

    Privileges (active, staff, superuser, groups, permissions), the email (the login) and
    passwords are a superuser's to change, never on their own user, so no one grants
    themselves rights or gives a second login of theirs a second pair of eyes. No one sets a
    customer's password: staff send a reset email from the customer's page instead.
    """

    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": PRIVILEGE_FIELDS}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def has_add_permission(self, request):
        return request.user.is_superuser  # a new login comes with a password

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not (request.user.is_superuser and obj.pk != request.user.pk):
            readonly += ["email", *PRIVILEGE_FIELDS]
        return readonly

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            credentials_revoke(obj.pk, everything=True)  # a deactivated user's cached tokens and keys end at once

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        refusal = password_set_refusal(actor=request.user, user=user) if user is not None else None
        if refusal and user is not None:  # a refusal implies a user; this tells mypy
            messages.error(request, refusal)
            return redirect(reverse("admin:accounts_user_change", args=[user.pk]))
        return super().user_change_password(request, id, form_url)


def password_set_refusal(*, actor, user) -> str | None:
    """Why `actor` may not set `user`'s password in the admin, or None."""
    if not actor.is_superuser:
        return "Only a superuser can set a password. Customers reset theirs: send them a password reset email."
    if not user.is_staff:
        return (
            "Staff never set a customer's password. Send a password reset email from the customer's page "
            "(Customers → the customer → Send password reset email)."
        )
    return None


# --- KYC review queue ---------------------------------------------------------------------


class KYCDocumentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = KYCDocument
    fields = ("document_type", "content_type", "size", "uploaded_at", "download")
    readonly_fields = fields
    extra = 0

    @admin.display(description="File")
    def download(self, document):
        # The protected view streams the file and audits the read.
        return format_html('<a href="{}">Open</a>', reverse("onboarding:document", args=[document.pk]))


class KYCAgreementInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = KYCAgreement
    fields = ("agreement", "signed_at", "ip_address")
    readonly_fields = fields
    extra = 0


class KYCStatusChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = KYCStatusChange
    fields = ("created_at", "from_status", "to_status", "actor", "reason", "requested_documents", "requested_fields")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "History"


DECISIONS = {
    # slug: (button label, form asking for the reason and details; None = confirm only)
    "review": ("Start review", None),
    "approve": ("Approve", forms.ApproveForm),
    "reject": ("Reject", forms.ReasonForm),
    "request_action": ("Request action", forms.RequestActionForm),
}
_DECISION_TARGET = {
    "review": KYCApplication.Status.IN_REVIEW,
    "approve": KYCApplication.Status.APPROVED,
    "reject": KYCApplication.Status.REJECTED,
    "request_action": KYCApplication.Status.ACTION_REQUIRED,
}


def _decide(decision: str, application, actor, data: dict, request):
    if decision == "review":
        return services.kyc_review_start(application=application, actor=actor, request=request)
    if decision == "approve":
        return services.kyc_approve(application=application, actor=actor, request=request, **data)
    if decision == "reject":
        return services.kyc_reject(application=application, actor=actor, request=request, **data)
    return services.kyc_request_action(application=application, actor=actor, request=request, **data)


@admin.register(KYCApplication)
class KYCApplicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "full_name", "status", "kyc_level", "submitted_at", "created_at")
    list_filter = ("status", "submitted_at", "created_at", "kyc_level")
    search_fields = ("user__email", "email_address", "given_name", "family_name")
    ordering = ("submitted_at", "created_at")  # oldest first: the queue's order
    list_select_related = ("user",)
    date_hierarchy = "submitted_at"
    inlines = [KYCDocumentInline, KYCAgreementInline, KYCStatusChangeInline]
    fieldsets = (
        ("Status", {"fields": ("user", "status", "kyc_level", "created_at", "submitted_at", "decided_at")}),
        ("Contact", {"fields": KYCApplication.CONTACT_FIELDS}),
        ("Identity", {"fields": KYCApplication.masked_field_names(KYCApplication.IDENTITY_FIELDS)}),
        ("Disclosures", {"fields": KYCApplication.DISCLOSURE_FIELDS}),
        ("Trusted contact", {"fields": KYCApplication.TRUSTED_CONTACT_FIELDS}),
    )
    # These fieldsets name fields flat (no grouped rows), so every item is a field name.
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]  # type: ignore[misc]
    change_form_template = "admin/accounts/kycapplication/change_form.html"

    @admin.display(description="Tax id")
    def tax_id_masked(self, application):
        return application.tax_id_masked

    def get_urls(self):
        decide = path(
            "<uuid:object_id>/decide/<str:decision>/",
            self.admin_site.admin_view(self.decision_view),
            name="accounts_kycapplication_decide",
        )
        return [decide, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        application = self.get_object(request, object_id)
        decisions = []
        if application is not None and self.has_view_permission(request, application):
            if request.method == "GET":
                services.kyc_record_view_record(application=application, actor=request.user, request=request)
            if request.user.has_perm(REVIEW_PERMISSION):
                allowed = KYCApplication.ALLOWED_TRANSITIONS[application.status]
                decisions = [
                    (slug, label) for slug, (label, _) in DECISIONS.items() if _DECISION_TARGET[slug] in allowed
                ]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "decisions": decisions})

    def decision_view(self, request, object_id, decision):
        if decision not in DECISIONS:
            raise PermissionDenied
        if not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        application = get_object_or_404(KYCApplication.objects.select_related("user"), pk=object_id)
        change_url = reverse("admin:accounts_kycapplication_change", args=[application.pk])
        label, form_class = DECISIONS[decision]
        data = request.POST if request.method == "POST" else None
        form = form_class(data) if form_class else django_forms.Form(data)
        if request.method == "POST" and form.is_valid():
            try:
                _decide(decision, application, request.user, form.cleaned_data, request)
            except NotPermitted as exc:
                raise PermissionDenied(exc.message) from exc
            except InvalidInput as exc:
                add_domain_error(form, exc)
            except DomainError as exc:
                messages.error(request, exc.message)
                return redirect(change_url)
            else:
                messages.success(request, f"{label}: done for {application.user.email}.")
                return redirect(change_url)
        return action_form_response(
            self,
            request,
            title=f"{label}: {application.user.email}",
            subject=f"{application.full_name} — {application.get_status_display()}",
            form=form,
            submit_label=label,
            cancel_url=change_url,
        )


# --- Customers and restrictions -----------------------------------------------------------


class RestrictionForm(forms.RestrictionForm):
    account: "django_forms.ModelChoiceField[Any]" = django_forms.ModelChoiceField(
        queryset=None, label="Brokerage account"
    )

    def __init__(self, *args, customer, **kwargs):
        from portfolios.models import Account

        super().__init__(*args, **kwargs)
        account = self.fields["account"]
        assert isinstance(account, django_forms.ModelChoiceField)  # declared above
        account.queryset = Account.objects.filter(user=customer)
        self.order_fields(["account", "kind", "blocked", "customer_message", "reason"])


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "kyc", "accounts", "date_joined")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("email",)
    fields = ("email", "first_name", "last_name", "date_joined", "last_login", "kyc", "accounts")
    readonly_fields = fields
    change_form_template = "admin/accounts/customer/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(is_staff=False).prefetch_related("brokerage_accounts")

    @admin.display(description="KYC")
    def kyc(self, customer):
        return selectors.kyc_status(user=customer).status

    @admin.display(description="Accounts")
    def accounts(self, customer):
        return format_html_join(
            ", ",
            "{} ({}{})",
            (
                (account.account_number, account.status, "".join(_restriction_labels(account)))
                for account in customer.brokerage_accounts.all()
            ),
        )

    def get_urls(self):
        restrict = path(
            "<uuid:object_id>/restrict/",
            self.admin_site.admin_view(self.restrict_view),
            name="accounts_customer_restrict",
        )
        password_reset = path(
            "<uuid:object_id>/password-reset/",
            self.admin_site.admin_view(self.password_reset_view),
            name="accounts_customer_password_reset",
        )
        return [restrict, password_reset, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_restrict": request.user.has_perm(RESTRICT_PERMISSION),
            "can_send_password_reset": request.user.has_perm(PASSWORD_RESET_PERMISSION),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _customer_action_start(self, request, object_id, permission):
        """The customer a staff action concerns (for staff holding `permission` only) and their page."""
        if not request.user.has_perm(permission):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=object_id, is_staff=False)
        return customer, reverse("admin:accounts_customer_change", args=[customer.pk])

    def password_reset_view(self, request, object_id):
        """Confirm, then email the customer allauth's reset link (staff never set the password)."""
        customer, change_url = self._customer_action_start(request, object_id, PASSWORD_RESET_PERMISSION)
        form = django_forms.Form(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.customer_password_reset_send(customer=customer, actor=request.user, request=request)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"A password reset email is on its way to {customer.email}.")
            return redirect(change_url)
        return action_form_response(
            self,
            request,
            title=f"Send a password reset email: {customer.email}",
            subject="The customer chooses a new password from the link in the email; you never see it.",
            form=form,
            submit_label="Send password reset email",
            cancel_url=change_url,
        )

    def restrict_view(self, request, object_id):
        customer, change_url = self._customer_action_start(request, object_id, RESTRICT_PERMISSION)
        form = RestrictionForm(request.POST if request.method == "POST" else None, customer=customer)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.account_restriction_set(
                    account=data["account"],
                    kind=data["kind"],
                    blocked=data["blocked"],
                    actor=request.user,
                    reason=data["reason"],
                    customer_message=data["customer_message"],
                    request=request,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Restriction updated for {customer.email}.")
                return redirect(change_url)
        return action_form_response(
            self,
            request,
            title=f"Restrict or lift: {customer.email}",
            subject=(
                "Blocking trading, transfers or the whole account needs the message the customer will see and "
                "an internal note; lifting needs a note. Blocking trading or freezing cancels open orders."
            ),
            form=form,
            submit_label="Apply",
            cancel_url=change_url,
        )


def _restriction_labels(account) -> list[str]:
    return [
        f", {kind.label.lower()}" for kind, flag in AccountRestriction.ACCOUNT_FLAG.items() if getattr(account, flag)
    ]


@admin.register(AccountRestriction)
class AccountRestrictionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "account",
        "kind",
        "customer_message",
        "reason",
        "created_by",
        "created_at",
        "lifted_at",
        "lifted_by",
    )
    list_filter = ("kind", "created_at", "lifted_at")
    search_fields = ("account__account_number", "account__user__email", "reason")


# --- Audit trail ---------------------------------------------------------------------------

AUDIT_EVENTS_EXPORT = CsvExport(
    name="audit-events",
    columns=[
        ("created_at", lambda e: e.created_at.isoformat()),
        ("action", lambda e: e.action),
        ("actor_type", lambda e: e.actor_type),
        ("actor", lambda e: e.actor.email if e.actor else ""),
        ("target_type", lambda e: e.target_type),
        ("target_id", lambda e: e.target_id),
        ("before", lambda e: e.before),
        ("after", lambda e: e.after),
        ("ip_address", lambda e: e.ip_address),
        ("user_agent", lambda e: e.user_agent),
    ],
    rows=lambda user, start, end: (
        AuditEvent.objects.filter(subject_user=user, created_at__gte=start, created_at__lt=end)
        .select_related("actor")
        .order_by("created_at", "id")
    ),
)


@admin.register(AuditEvent)
class AuditEventAdmin(CsvExportAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    csv_export = AUDIT_EVENTS_EXPORT
    list_display = (
        "created_at",
        "action",
        "actor_type",
        "actor",
        "subject_user",
        "target_type",
        "target_id",
        "ip_address",
    )
    list_filter = ("action", "actor_type", "created_at")
    search_fields = ("action", "actor__email", "subject_user__email", "target_id", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "subject_user")
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
