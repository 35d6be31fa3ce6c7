from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors, services
from alerts.api.serializers import AlertCreateInputSerializer, AlertOutputSerializer, AlertUpdateInputSerializer
from alerts.models import PriceAlert


@extend_schema(
    parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=["active", "triggered", "canceled"])],
)
class AlertListView(ListAPIView):
    serializer_class = AlertOutputSerializer
    queryset = PriceAlert.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PriceAlert.objects.none()
        return selectors.alert_list(user=self.request.user, status=self.request.query_params.get("status"))

    @extend_schema(
        request=AlertCreateInputSerializer,
        responses={201: AlertOutputSerializer},
        operation_id="alerts_create",
        description="At most 50 active alerts per user (422 alert_limit_reached).",
    )
    def post(self, request):
        serializer = AlertCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_create(user=request.user, **serializer.validated_data)
        return Response(AlertOutputSerializer(alert).data, status=status.HTTP_201_CREATED)


class AlertDetailView(APIView):
    @extend_schema(responses=AlertOutputSerializer, operation_id="alerts_retrieve")
    def get(self, request, alert_id):
        alert = selectors.alert_list(user=request.user).filter(pk=alert_id).first()
        if alert is None:
            raise NotFound("No such alert.")
        return Response(AlertOutputSerializer(alert).data)

    @extend_schema(request=AlertUpdateInputSerializer, responses=AlertOutputSerializer, operation_id="alerts_update")
    def patch(self, request, alert_id):
        serializer = AlertUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_update(user=request.user, alert_id=alert_id, **serializer.validated_data)
        return Response(AlertOutputSerializer(alert).data)

    @extend_schema(responses=AlertOutputSerializer, operation_id="alerts_cancel")
    def delete(self, request, alert_id):
        alert = services.alert_cancel(user=request.user, alert_id=alert_id)
        return Response(AlertOutputSerializer(alert).data)
