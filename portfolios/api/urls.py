from django.urls import path

from portfolios.api import views

urlpatterns = [
    path("account", views.AccountView.as_view(), name="api-account"),
    path("account/portfolio/history", views.PortfolioHistoryView.as_view(), name="api-portfolio-history"),
    path("account/activities", views.ActivitiesView.as_view(), name="api-account-activities"),
    # positions and positions/<symbol>: routed in trading/api/urls.py (DELETE closes them with orders).
    path("transfers", views.TransferListView.as_view(), name="api-transfers"),
    path("transfers/<uuid:transfer_id>", views.TransferDetailView.as_view(), name="api-transfer"),
]
