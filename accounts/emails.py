"""Emails to customers about their KYC application (sent after the decision commits)."""

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from accounts.models import KYCApplication, KYCDocument, KYCStatusChange

_SUBJECTS = {
    KYCApplication.Status.APPROVED: "Your SpeedTrade account is approved",
    KYCApplication.Status.REJECTED: "Your SpeedTrade application was not approved",
    KYCApplication.Status.ACTION_REQUIRED: "SpeedTrade needs more information from you",
}


def kyc_decision_email_send(*, change_id: int) -> None:
    change = KYCStatusChange.objects.select_related("application__user").get(pk=change_id)
    user = change.application.user
    lines = [f"Hello {change.application.given_name or user.email},", ""]
    if change.to_status == KYCApplication.Status.APPROVED:
        lines.append("Your identity check is complete: your account is active and you can trade.")
    elif change.to_status == KYCApplication.Status.REJECTED:
        lines += ["We could not approve your application.", f"Reason: {change.reason}"]
    else:
        lines += [f"Our compliance team needs the following to continue: {change.reason}", ""]
        lines += [f"- Document: {KYCDocument.Type(doc).label}" for doc in change.requested_documents]
        lines += [f"- Field: {name.replace('_', ' ')}" for name in change.requested_fields]
        lines += ["", f"Update your application at {reverse('onboarding:status')} and submit it again."]
    send_mail(
        subject=_SUBJECTS[change.to_status],
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
