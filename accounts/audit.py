"""The audit trail's one writer."""

from django.utils import timezone

from accounts.models import AuditEvent, User
from speedtrade.announcements import AUDIT_EVENT, announce


def client_ip(request) -> str | None:
    # The ASGI server already replaced REMOTE_ADDR with the client's address when the
    # request came through a trusted proxy (TRUSTED_PROXY_IPS, passed to uvicorn); reading
    # X-Forwarded-For here would let any client write its own IP into the audit trail.
    return request.META.get("REMOTE_ADDR") or None


def audit_event_record(
    *,
    action: str,
    actor: User | None = None,
    target=None,
    subject_user: User | None = None,
    before: dict | None = None,
    after: dict | None = None,
    request=None,
) -> AuditEvent:
    """Append one audit event. Call it inside the transaction of the change it records.

    `actor` None means the system acted (a task, the paper venue). `target` is any model
    instance; `subject_user` is the customer concerned (defaults to a user target or to
    the actor when the actor is a customer).
    """
    event = audit_event_build(
        action=action,
        actor=actor,
        target=target,
        subject_user=subject_user,
        before=before,
        after=after,
        request=request,
    )
    event.save(force_insert=True)
    audit_event_announce(event)
    return event


def audit_event_build(
    *,
    action: str,
    actor: User | None = None,
    target=None,
    subject_user: User | None = None,
    before: dict | None = None,
    after: dict | None = None,
    request=None,
) -> AuditEvent:
    """The event `audit_event_record` appends, not saved yet: for a writer that inserts it in its own statement
    (trading's order writer); it then calls `audit_event_announce`. Its time is now, as `auto_now_add` would set."""
    if actor is None:
        actor_type = AuditEvent.ActorType.SYSTEM
    elif actor.is_staff:
        actor_type = AuditEvent.ActorType.STAFF
    else:
        actor_type = AuditEvent.ActorType.USER
    if subject_user is None:
        subject_user = (
            target if isinstance(target, User) else (actor if actor_type == AuditEvent.ActorType.USER else None)
        )
    return AuditEvent(
        created_at=timezone.now(),
        action=action,
        actor=actor,
        actor_type=actor_type,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        subject_user=subject_user,
        before=before,
        after=after,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512] if request is not None else "",
    )


def audit_event_announce(event: AuditEvent) -> None:
    """Tell the announcement subscribers (after commit) about an appended event."""
    announce(AUDIT_EVENT, audit_event_payload(event))


def audit_event_payload(event: AuditEvent) -> dict:
    """What the subscribers hear of an event (`AUDIT_EVENT`)."""
    return {
        "id": str(event.pk),
        "action": event.action,
        "actor_type": event.actor_type,
        "subject_user_id": str(event.subject_user_id) if event.subject_user_id else None,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "after": event.after,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
    }
