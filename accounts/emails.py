"""Emails to customers: KYC decisions, and security notices (sent after the change commits)."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.audit import client_ip
from accounts.models import KYCApplication, KYCDocument, KYCStatusChange

_SUBJECTS: dict[str, str] = {
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


def security_email_send(*, user, template: str, context: dict, ip: str, user_agent: str) -> None:
    """A security notice as text and HTML (`templates/emails/security/<template>_{subject,message}.{txt,html}`)."""
    context = {"user": user, "ip": ip, "user_agent": user_agent, "timestamp": timezone.now(), **context}
    subject = " ".join(render_to_string(f"emails/security/{template}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/security/{template}_message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string(f"emails/security/{template}_message.html", context), "text/html")
    message.send()


def security_email_send_on_commit(*, user, template: str, context: dict, request=None) -> None:
    """Send the notice once the change commits: a change that rolls back announces nothing."""
    ip = (client_ip(request) if request is not None else None) or "unknown"
    user_agent = request.META.get("HTTP_USER_AGENT", "unknown")[:200] if request is not None else "unknown"
    transaction.on_commit(
        lambda: security_email_send(user=user, template=template, context=context, ip=ip, user_agent=user_agent),
        robust=True,
    )
