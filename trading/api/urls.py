from django.urls import path

from trading.api import views

urlpatterns = [
    path("orders", views.OrdersView.as_view(), name="api-orders"),
    path("orders:by_client_order_id", views.OrderByClientOrderIdView.as_view(), name="api-order-by-client-id"),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="api-order"),
    path("orders/<uuid:order_id>/executions", views.OrderExecutionsView.as_view(), name="api-order-executions"),
    path("orders/<uuid:order_id>/events", views.OrderEventsView.as_view(), name="api-order-events"),
    path("positions", views.PositionsView.as_view(), name="api-positions"),
    path("positions/<path:symbol_or_asset_id>", views.PositionView.as_view(), name="api-position"),
]
