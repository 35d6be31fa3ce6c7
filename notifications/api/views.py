from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.api.serializers import (
    DeviceInputSerializer,
    DeviceOutputSerializer,
    NotificationOutputSerializer,
    NotificationReadInputSerializer,
    NotificationReadOutputSerializer,
    PreferenceInputSerializer,
    PreferenceOutputSerializer,
    UnreadCountSerializer,
    WebPushPublicKeySerializer,
)
from notifications.catalogue import Category
from notifications.models import Notification


class NotificationListView(ListAPIView):
    serializer_class = NotificationOutputSerializer
    queryset = Notification.objects.none()  # the schema's model; requests use get_queryset

    @extend_schema(
        operation_id="notifications_list",
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread notifications.")],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        unread = self.request.query_params.get("unread", "").lower() in ("1", "true")
        return selectors.notification_list(user=self.request.user, unread_only=unread)


class NotificationUnreadCountView(APIView):
    @extend_schema(responses=UnreadCountSerializer, operation_id="notifications_unread_count")
    def get(self, request):
        return Response({"unread_count": selectors.unread_count(user_id=request.user.pk)})


class NotificationReadView(APIView):
    @extend_schema(
        request=NotificationReadInputSerializer,
        responses=NotificationReadOutputSerializer,
        operation_id="notifications_mark_read",
        description="Mark the given notifications (or, without `ids`, all of them) read. Other users' ids are ignored.",
    )
    def post(self, request):
        serializer = NotificationReadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = services.notification_mark_read(
            user=request.user, notification_ids=serializer.validated_data.get("ids")
        )
        return Response({"marked_read": changed, "unread_count": selectors.unread_count(user_id=request.user.pk)})


class NotificationMarkOneReadView(APIView):
    @extend_schema(request=None, responses=NotificationOutputSerializer, operation_id="notification_mark_read")
    def post(self, request, notification_id):
        if not selectors.notification_list(user=request.user).filter(pk=notification_id).exists():
            raise NotFound("No such notification.")
        services.notification_mark_read(user=request.user, notification_ids=[notification_id])
        notification = selectors.notification_list(user=request.user).get(pk=notification_id)
        return Response(NotificationOutputSerializer(notification).data)


class PreferenceListView(APIView):
    pagination_class = None

    @extend_schema(responses=PreferenceOutputSerializer(many=True), operation_id="notification_preferences_list")
    def get(self, request):
        return Response(PreferenceOutputSerializer(selectors.preference_list(user=request.user), many=True).data)


class PreferenceDetailView(APIView):
    @extend_schema(responses=PreferenceOutputSerializer, operation_id="notification_preference_retrieve")
    def get(self, request, category):
        if category not in Category.values:
            raise NotFound("No such category.")
        return Response(
            PreferenceOutputSerializer(selectors.preference_for(user_id=request.user.pk, category=category)).data
        )

    @extend_schema(
        request=PreferenceInputSerializer,
        responses=PreferenceOutputSerializer,
        operation_id="notification_preference_update",
        description="Switch the category's channels. Security email cannot be turned off (422).",
    )
    def patch(self, request, category):
        if category not in Category.values:
            raise NotFound("No such category.")
        serializer = PreferenceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = services.preference_update(user=request.user, category=category, **serializer.validated_data)
        return Response(PreferenceOutputSerializer(preference).data)


class DeviceListView(APIView):
    @extend_schema(responses=DeviceOutputSerializer(many=True), operation_id="devices_list")
    def get(self, request):
        devices = request.user.push_devices.order_by("created_at")
        return Response(DeviceOutputSerializer(devices, many=True).data)

    @extend_schema(
        request=DeviceInputSerializer,
        responses={201: DeviceOutputSerializer},
        operation_id="devices_register",
        description="Register an FCM token or a Web Push subscription (pushes carry no personal data).",
    )
    def post(self, request):
        serializer = DeviceInputSerializer(data=request.data, context={"allow_http": settings.DEBUG})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        keys = data.get("keys") or {}
        device = services.device_register(
            user=request.user,
            kind=data["kind"],
            endpoint=data.get("token") or data["endpoint"],
            p256dh=keys.get("p256dh", ""),
            auth=keys.get("auth", ""),
            label=data["label"],
        )
        return Response(DeviceOutputSerializer(device).data, status=201)


class DeviceDetailView(APIView):
    @extend_schema(request=None, responses={204: None}, operation_id="devices_remove")
    def delete(self, request, device_id):
        if not services.device_remove(user=request.user, device_id=device_id):
            raise NotFound("No such device.")
        return Response(status=204)


class WebPushKeyView(APIView):
    @extend_schema(responses=WebPushPublicKeySerializer, operation_id="devices_webpush_key")
    def get(self, request):
        """The VAPID public key a browser subscribes with (PushManager.subscribe's applicationServerKey)."""
        return Response({"public_key": settings.WEBPUSH_VAPID_PUBLIC_KEY})
