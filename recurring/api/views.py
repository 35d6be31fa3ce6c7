from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from recurring import selectors, services
from recurring.api.serializers import (
    PlanCreateInputSerializer,
    PlanOutputSerializer,
    PlanUpdateInputSerializer,
    RunOutputSerializer,
)
from recurring.models import RecurringPlan, RecurringRun


def _own_plan(request, plan_id):
    plan = selectors.plan_list(user=request.user).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound("No such recurring investment.")
    return plan


class PlanListView(ListAPIView):
    serializer_class = PlanOutputSerializer
    queryset = RecurringPlan.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RecurringPlan.objects.none()
        return selectors.plan_list(user=self.request.user, status=self.request.query_params.get("status"))

    @extend_schema(
        request=PlanCreateInputSerializer,
        responses={201: PlanOutputSerializer},
        operation_id="recurring_investments_create",
        description="Weekly and every-two-weeks plans need `weekday`; monthly plans `day_of_month`.",
    )
    def post(self, request):
        serializer = PlanCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = services.plan_create(user=request.user, **serializer.validated_data)
        return Response(PlanOutputSerializer(plan).data, status=status.HTTP_201_CREATED)


class PlanDetailView(APIView):
    @extend_schema(responses=PlanOutputSerializer, operation_id="recurring_investments_retrieve")
    def get(self, request, plan_id):
        return Response(PlanOutputSerializer(_own_plan(request, plan_id)).data)

    @extend_schema(
        request=PlanUpdateInputSerializer, responses=PlanOutputSerializer, operation_id="recurring_investments_update"
    )
    def patch(self, request, plan_id):
        serializer = PlanUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = services.plan_update(user=request.user, plan_id=plan_id, **serializer.validated_data)
        return Response(PlanOutputSerializer(plan).data)

    @extend_schema(responses=PlanOutputSerializer, operation_id="recurring_investments_cancel")
    def delete(self, request, plan_id):
        plan = services.plan_cancel(user=request.user, plan_id=plan_id)
        return Response(PlanOutputSerializer(plan).data)


class PlanPauseView(APIView):
    @extend_schema(request=None, responses=PlanOutputSerializer, operation_id="recurring_investments_pause")
    def post(self, request, plan_id):
        plan = services.plan_pause(user=request.user, plan_id=plan_id)
        return Response(PlanOutputSerializer(plan).data)


class PlanResumeView(APIView):
    @extend_schema(request=None, responses=PlanOutputSerializer, operation_id="recurring_investments_resume")
    def post(self, request, plan_id):
        plan = services.plan_resume(user=request.user, plan_id=plan_id)
        return Response(PlanOutputSerializer(plan).data)


class PlanRunListView(ListAPIView):
    serializer_class = RunOutputSerializer
    queryset = RecurringRun.objects.none()

    @extend_schema(operation_id="recurring_investments_runs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RecurringRun.objects.none()
        return selectors.run_list(plan=_own_plan(self.request, self.kwargs["plan_id"]))
