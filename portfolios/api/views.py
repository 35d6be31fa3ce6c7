from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolios import selectors, services
from portfolios.api.serializers import (
    AccountOutputSerializer,
    ActivitiesQuerySerializer,
    ActivityOutputSerializer,
    PortfolioHistoryOutputSerializer,
    PortfolioHistoryQuerySerializer,
    PositionOutputSerializer,
    TransferInputSerializer,
    TransferOutputSerializer,
)
from portfolios.exceptions import PortfolioRuleViolation
from portfolios.models import Account, Transfer
from portfolios.pricing import prices_for
from speedtrade.api.errors import BusinessRuleViolation
from speedtrade.api.pagination import LimitOffsetPagination


class PortfolioView(APIView):
    """The requester's own account, and the money rules' refusals as API errors."""

    def account(self) -> Account:
        account = selectors.primary_account(user=self.request.user)
        if account is None:
            raise Http404
        return account

    def handle_exception(self, exc):
        if isinstance(exc, PortfolioRuleViolation):
            exc = BusinessRuleViolation(exc.message, code=exc.code, field=exc.field, status_code=exc.status)
        return super().handle_exception(exc)


class AccountView(PortfolioView):
    @extend_schema(responses=AccountOutputSerializer, operation_id="account_retrieve")
    def get(self, request):
        account = self.account()
        prices, previous_closes = prices_for(selectors.assets_held([account]))
        valuation = selectors.account_valuation(account=account, prices=prices, previous_closes=previous_closes)
        return Response(AccountOutputSerializer(valuation).data)


class PositionListView(PortfolioView):
    @extend_schema(responses=PositionOutputSerializer(many=True), operation_id="positions_list")
    def get(self, request):
        positions = selectors.position_list(account=self.account())
        return Response(PositionOutputSerializer(_valued(positions), many=True).data)


class PositionDetailView(PortfolioView):
    @extend_schema(responses=PositionOutputSerializer, operation_id="position_retrieve")
    def get(self, request, symbol_or_asset_id: str):
        position = selectors.position_get(account=self.account(), symbol_or_asset_id=symbol_or_asset_id)
        if position is None:
            raise Http404
        return Response(PositionOutputSerializer(_valued([position])[0]).data)


def _valued(positions):
    prices, previous_closes = prices_for(position.asset for position in positions)
    today = selectors.today_et()
    return [
        selectors.position_valuation(
            position=position,
            price=prices[position.asset_id],
            lastday=previous_closes.get(position.asset_id, prices[position.asset_id]),
            today=today,
        )
        for position in positions
    ]


class TransferListView(PortfolioView):
    @extend_schema(responses=TransferOutputSerializer(many=True), operation_id="transfers_list")
    def get(self, request):
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(Transfer.objects.filter(account=self.account()), request, view=self)
        return paginator.get_paginated_response(TransferOutputSerializer(page, many=True).data)

    @extend_schema(
        request=TransferInputSerializer,
        responses={201: TransferOutputSerializer},
        operation_id="transfer_create",
    )
    def post(self, request):
        serializer = TransferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        transfer = services.transfer_create(
            account=self.account(), actor=request.user, request=request, **serializer.validated_data
        )
        return Response(TransferOutputSerializer(transfer).data, status=status.HTTP_201_CREATED)


class TransferDetailView(PortfolioView):
    def transfer(self, transfer_id) -> Transfer:
        transfer = Transfer.objects.filter(account=self.account(), pk=transfer_id).first()
        if transfer is None:
            raise Http404
        return transfer

    @extend_schema(responses=TransferOutputSerializer, operation_id="transfer_retrieve")
    def get(self, request, transfer_id):
        return Response(TransferOutputSerializer(self.transfer(transfer_id)).data)

    @extend_schema(responses={204: OpenApiResponse(description="Canceled")}, operation_id="transfer_cancel")
    def delete(self, request, transfer_id):
        services.transfer_cancel(transfer=self.transfer(transfer_id), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PortfolioHistoryView(PortfolioView):
    @extend_schema(
        parameters=[PortfolioHistoryQuerySerializer],
        responses=PortfolioHistoryOutputSerializer,
        operation_id="portfolio_history",
    )
    def get(self, request):
        query = PortfolioHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        history = selectors.portfolio_history(account=self.account(), **query.validated_data)
        return Response(PortfolioHistoryOutputSerializer(history).data)


class ActivitiesView(PortfolioView):
    @extend_schema(
        parameters=[ActivitiesQuerySerializer],
        responses=ActivityOutputSerializer(many=True),
        operation_id="account_activities",
    )
    def get(self, request):
        query = ActivitiesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        activities = selectors.account_activities(account=self.account(), **query.validated_data)
        return Response(ActivityOutputSerializer(activities, many=True).data)
