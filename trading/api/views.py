"""`/api/v1/orders…`: thin views over trading.services and trading.selectors, Alpaca's shapes."""

from collections.abc import Callable
from typing import cast

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolios.api.views import PositionDetailView, PositionListView
from portfolios.models import Account
from portfolios.selectors import primary_account
from speedtrade.api.errors import domain_error_status, error_body
from speedtrade.api.renderers import PlainJSONRenderer
from trading import selectors, services
from trading.api.serializers import (
    OrderCreateSerializer,
    OrderListQuerySerializer,
    OrderReplaceSerializer,
    PositionCloseQuerySerializer,
    PositionsCloseAllQuerySerializer,
)
from trading.models import Order
from trading.serialization import event_as_dict, execution_as_dict, order_as_alpaca, placed_order_as_alpaca


def _account(request):
    account = primary_account(user=request.user)
    if account is None:
        raise Http404
    return account


def _own_order(request, order_id):
    order = selectors.order_get(account=_account(request), order_id=order_id)
    if order is None:
        raise Http404
    return order


def _with_legs(order):
    return order_as_alpaca(order, legs=selectors.order_legs([order])[order.id])


def orders_body(account: Callable[[], Account], query_params) -> list:
    """`GET /orders`'s body (also the lean request path's, speedtrade/lean_api.py). The account is asked for
    after the query is valid, as the view always did: bad parameters are refused before anything is read."""
    query = OrderListQuerySerializer(data=query_params)
    query.is_valid(raise_exception=True)
    params = dict(query.validated_data)
    nested = params.pop("nested")
    symbols = params.pop("symbols", "")
    orders = selectors.order_list(
        account=account(), symbols=[s.strip().upper() for s in symbols.split(",") if s.strip()], **params
    )
    legs = selectors.order_legs(orders) if nested else {}
    # An OrderRow carries every field and name order_as_alpaca reads (selectors.OrderRow), not the model.
    return [order_as_alpaca(cast(Order, order), legs=legs.get(order.id)) for order in orders]


def placed_order_body(order: Order) -> dict:
    """`POST /orders`'s body (also the lean request path's)."""
    return placed_order_as_alpaca(order, legs=selectors.order_legs([order])[order.id])


class OrdersView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    renderer_classes = [PlainJSONRenderer, BrowsableAPIRenderer]  # order dicts: plain JSON types only

    @extend_schema(operation_id="orders_list", responses=OpenApiTypes.OBJECT, parameters=[OrderListQuerySerializer])
    def get(self, request):
        return Response(orders_body(lambda: _account(request), request.query_params))

    @extend_schema(operation_id="orders_create", responses=OpenApiTypes.OBJECT, request=OrderCreateSerializer)
    def post(self, request):
        payload = OrderCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        order, created = services.order_place(account=_account(request), request=payload.to_request())
        return Response(placed_order_body(order), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(operation_id="orders_cancel_all", responses=OpenApiTypes.OBJECT)
    def delete(self, request):
        results = services.order_cancel_all(account=_account(request))
        body = [
            {"id": str(order.id), "status": 200, "body": order_as_alpaca(order)}
            if refusal is None
            else {"id": str(order.id), "status": domain_error_status(refusal), "body": {"message": refusal.message}}
            for order, refusal in results
        ]
        return Response(body, status=207)


class OrderDetailView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(operation_id="orders_get", responses=OpenApiTypes.OBJECT)
    def get(self, request, order_id):
        return Response(_with_legs(_own_order(request, order_id)))

    @extend_schema(operation_id="orders_replace", responses=OpenApiTypes.OBJECT, request=OrderReplaceSerializer)
    def patch(self, request, order_id):
        payload = OrderReplaceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        new = services.order_replace(account=_account(request), order_id=order_id, changes=payload.changes())
        return Response(order_as_alpaca(new))

    @extend_schema(operation_id="orders_cancel", responses=OpenApiTypes.OBJECT)
    def delete(self, request, order_id):
        services.order_cancel(account=_account(request), order_id=order_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrderByClientOrderIdView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(operation_id="orders_get_by_client_order_id", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        client_order_id = request.query_params.get("client_order_id", "")
        order = selectors.order_by_client_order_id(account=_account(request), client_order_id=client_order_id)
        if order is None:
            raise Http404
        return Response(_with_legs(order))


class OrderExecutionsView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(operation_id="orders_executions", responses=OpenApiTypes.OBJECT)
    def get(self, request, order_id):
        order = _own_order(request, order_id)
        return Response([execution_as_dict(execution) for execution in order.executions.all()])


class OrderEventsView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(operation_id="orders_events", responses=OpenApiTypes.OBJECT)
    def get(self, request, order_id):
        order = _own_order(request, order_id)
        return Response([event_as_dict(event) for event in order.events.all()])


# `/positions` and `/positions/{symbol}`: portfolios shows them (GET); closing one places orders, which is
# trading's, so the routes live here and add DELETE to portfolios' views.


class PositionsView(PositionListView):
    @extend_schema(
        operation_id="positions_close_all", responses=OpenApiTypes.OBJECT, parameters=[PositionsCloseAllQuerySerializer]
    )
    def delete(self, request):
        query = PositionsCloseAllQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        results = services.position_close_all(account=self.account(), **query.validated_data)
        body = [
            {"symbol": symbol, "status": 200, "order_id": str(outcome.id), "body": placed_order_as_alpaca(outcome)}
            if isinstance(outcome, Order)
            else {"symbol": symbol, "status": domain_error_status(outcome), "body": self.refusal_body(outcome)}
            for symbol, outcome in results
        ]
        return Response(body, status=207)

    def refusal_body(self, refusal) -> dict:
        """A position that could not be closed, in this API's error format."""
        return error_body(refusal.code, refusal.message)


class PositionView(PositionDetailView):
    @extend_schema(
        operation_id="position_close", responses=OpenApiTypes.OBJECT, parameters=[PositionCloseQuerySerializer]
    )
    def delete(self, request, symbol_or_asset_id: str):
        query = PositionCloseQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        order = services.position_close(
            account=self.account(), symbol_or_asset_id=symbol_or_asset_id, **query.validated_data
        )
        return Response(placed_order_as_alpaca(order))
