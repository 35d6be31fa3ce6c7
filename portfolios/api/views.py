from typing import cast

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from portfolios import selectors, services
from portfolios.api.serializers import (
    AccountOutputSerializer,
    ActivitiesQuerySerializer,
    ActivityOutputSerializer,
    LotMethodSerializer,
    PortfolioHistoryOutputSerializer,
    PortfolioHistoryQuerySerializer,
    PositionOutputSerializer,
    TaxLotOutputSerializer,
    TransferInputSerializer,
    TransferOutputSerializer,
    WatchlistCreateSerializer,
    WatchlistOutputSerializer,
    WatchlistSymbolSerializer,
    WatchlistUpdateSerializer,
)
from portfolios.models import Account, Transfer
from portfolios.pricing import prices_for, valuation_at_market
from speedtrade.api.pagination import LimitOffsetPagination


class PortfolioView(APIView):
    """The requester's own account."""

    def account(self) -> Account:
        # cast: IsAuthenticated (the API's default permission) turns an anonymous request away first.
        account = selectors.primary_account(user=cast(User, self.request.user))
        if account is None:
            raise Http404
        return account


class AccountView(PortfolioView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(responses=AccountOutputSerializer, operation_id="account_retrieve")
    def get(self, request):
        return Response(account_body(self.account()))


def account_body(account: Account, *, account_read: bool = False) -> dict:
    """`GET /account`'s body (also the lean request path's, speedtrade/lean_api.py, which reads the account's row
    afresh with the figures: `account_read`)."""
    return AccountOutputSerializer(valuation_at_market(account=account, account_read=account_read)).data


class PositionListView(PortfolioView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(responses=PositionOutputSerializer(many=True), operation_id="positions_list")
    def get(self, request):
        return Response(positions_body(self.account()))


def positions_body(account: Account) -> list:
    """`GET /positions`'s body (also the lean request path's, speedtrade/lean_api.py)."""
    # many=True: a ReturnList, which the stubs type as the single serializer's ReturnDict.
    return cast(list, PositionOutputSerializer(_valued(selectors.position_list(account=account)), many=True).data)


class PositionDetailView(PortfolioView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(responses=PositionOutputSerializer, operation_id="position_retrieve")
    def get(self, request, symbol_or_asset_id: str):
        position = selectors.position_get(account=self.account(), symbol_or_asset_id=symbol_or_asset_id)
        if position is None:
            raise Http404
        return Response(PositionOutputSerializer(_valued([position])[0]).data)


class PositionLotsView(PortfolioView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(responses=TaxLotOutputSerializer(many=True), operation_id="position_lots_list")
    def get(self, request, symbol_or_asset_id: str):
        """The open tax lots of a position, oldest first, valued at the latest price."""
        account = self.account()
        position = selectors.position_get(account=account, symbol_or_asset_id=symbol_or_asset_id)
        if position is None:
            raise Http404
        prices, _ = prices_for([position.asset])
        lots = selectors.lot_valuations(
            account=account, asset=position.asset, price=prices.get(position.asset_id), on=selectors.today_et()
        )
        return Response(TaxLotOutputSerializer(lots, many=True).data)


class LotMethodView(PortfolioView):
    """Which lots a sale closes when its order names none: fifo (the default), lifo or hifo (highest cost)."""

    @extend_schema(responses=LotMethodSerializer, operation_id="account_lot_method_retrieve")
    def get(self, request):
        return Response({"lot_method": self.account().lot_method})

    @extend_schema(request=LotMethodSerializer, responses=LotMethodSerializer, operation_id="account_lot_method_update")
    def put(self, request):
        serializer = LotMethodSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account_lot_method_set(
            account=self.account(),
            lot_method=serializer.validated_data["lot_method"],
            actor=cast(User, request.user),
            request=request,
        )
        return Response({"lot_method": account.lot_method})


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
    api_key_access = True  # accounts/api/permissions.py

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
    api_key_access = True  # accounts/api/permissions.py

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


class WatchlistView(PortfolioView):
    api_key_access = True  # accounts/api/permissions.py

    def watchlist(self, watchlist_id):
        watchlist = selectors.watchlist_get(account=self.account(), watchlist_id=watchlist_id)
        if watchlist is None:
            raise Http404
        return watchlist

    def present(self, watchlist) -> dict:
        """The watchlist as stored now, re-read with its assets in order."""
        return WatchlistOutputSerializer(self.watchlist(watchlist.pk)).data


class WatchlistListView(WatchlistView):
    @extend_schema(responses=WatchlistOutputSerializer(many=True), operation_id="watchlists_list")
    def get(self, request):
        watchlists = selectors.watchlist_list(account=self.account())
        return Response(WatchlistOutputSerializer(watchlists, many=True).data)

    @extend_schema(
        request=WatchlistCreateSerializer, responses={201: WatchlistOutputSerializer}, operation_id="watchlist_create"
    )
    def post(self, request):
        payload = WatchlistCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        watchlist = services.watchlist_create(account=self.account(), **payload.validated_data)
        return Response(self.present(watchlist), status=status.HTTP_201_CREATED)


class WatchlistDetailView(WatchlistView):
    @extend_schema(responses=WatchlistOutputSerializer, operation_id="watchlist_retrieve")
    def get(self, request, watchlist_id):
        return Response(WatchlistOutputSerializer(self.watchlist(watchlist_id)).data)

    @extend_schema(
        request=WatchlistUpdateSerializer, responses=WatchlistOutputSerializer, operation_id="watchlist_update"
    )
    def put(self, request, watchlist_id):
        watchlist = self.watchlist(watchlist_id)
        payload = WatchlistUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.watchlist_update(watchlist=watchlist, **payload.validated_data)
        return Response(self.present(watchlist))

    @extend_schema(
        request=WatchlistSymbolSerializer, responses=WatchlistOutputSerializer, operation_id="watchlist_symbol_add"
    )
    def post(self, request, watchlist_id):
        watchlist = self.watchlist(watchlist_id)
        payload = WatchlistSymbolSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.watchlist_symbol_add(watchlist=watchlist, symbol=payload.validated_data["symbol"])
        return Response(self.present(watchlist))

    @extend_schema(responses={204: None}, operation_id="watchlist_delete")
    def delete(self, request, watchlist_id):
        services.watchlist_delete(watchlist=self.watchlist(watchlist_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WatchlistSymbolView(WatchlistView):
    @extend_schema(responses=WatchlistOutputSerializer, operation_id="watchlist_symbol_remove")
    def delete(self, request, watchlist_id, symbol):
        watchlist = self.watchlist(watchlist_id)
        services.watchlist_symbol_remove(watchlist=watchlist, symbol=symbol)
        return Response(self.present(watchlist))
