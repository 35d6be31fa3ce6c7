import factory
from django.utils import timezone

from notifications.catalogue import KINDS
from notifications.models import Notification


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    kind = "deposit_settled"
    category = factory.LazyAttribute(lambda n: KINDS[n.kind].category)
    event_key = factory.Sequence(lambda n: f"test:{n}")
    title = "Deposit settled"
    body = "Your deposit of $10.00 has arrived."
    url = "/transfers/"
    created_at = factory.LazyFunction(timezone.now)
