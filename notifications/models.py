import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from notifications.catalogue import KINDS, Category, Channel


class Notification(models.Model):
    """One thing that happened to a customer, told once: unique per (user, event_key)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=[(k, k) for k in KINDS])
    category = models.CharField(max_length=20, choices=Category.choices)
    # What happened, named by the event that announced it (e.g. "order:<id>:fill:<execution id>"):
    # the same announcement heard twice (a retried task, two subscribers) finds the row already there.
    event_key = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=1000)
    url = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event_key"], name="notification_once_per_event"),
            models.CheckConstraint(condition=Q(category__in=Category.values), name="notification_known_category"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_user_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """A customer's channels for one category. No row: every channel on (the defaults)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)
    push = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category"], name="notification_preference_once_per_category"),
            # Security emails cannot be turned off.
            models.CheckConstraint(
                condition=~Q(category=Category.SECURITY) | Q(email=True), name="notification_security_email_always_on"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.category}"


class PushDevice(models.Model):
    """Where a customer's pushes go: a browser's Web Push subscription or a mobile app's FCM token."""

    class Kind(models.TextChoices):
        WEB_PUSH = "webpush", "Web Push (browser)"
        FCM = "fcm", "Firebase Cloud Messaging (app)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Web Push: the push service endpoint URL; FCM: the registration token.
    endpoint = models.CharField(max_length=1000)
    p256dh = models.CharField(max_length=200, blank=True)  # Web Push: the browser's public key (base64url)
    auth = models.CharField(max_length=100, blank=True)  # Web Push: the browser's auth secret (base64url)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "endpoint"], name="push_device_once"),
            models.CheckConstraint(
                condition=~Q(kind="webpush") | (~Q(p256dh="") & ~Q(auth="")), name="push_device_webpush_has_keys"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for (another) attempt
    SENDING = "sending"  # claimed by one worker; a worker that dies here leaves it for review, never resends
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry
    SKIPPED = "skipped"  # nothing to send to (no address, no device, channel switched off meanwhile)


class Delivery(models.Model):
    """Sending one notification on one channel: at most once (unique idempotency key), retried while pending."""

    Status = DeliveryStatus

    id = models.BigAutoField(primary_key=True)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # Push: one delivery per device (a device that fails is retried alone, the others are not sent twice).
    device = models.ForeignKey(PushDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    idempotency_key = models.CharField(max_length=120, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel", "device"], nulls_distinct=False, name="delivery_once_per_channel"
            ),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="delivery_known_status"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key

    @staticmethod
    def key_for(notification_id, channel: str, device_id=None) -> str:
        return f"{notification_id}:{channel}" + (f":{device_id}" if device_id else "")
