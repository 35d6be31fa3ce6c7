from django.urls import path

from portfolios import views

urlpatterns = [
    path("", views.home, name="home"),
    path("home/live/", views.home_live, name="home_live"),
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/<uuid:transfer_id>/cancel/", views.transfer_cancel, name="transfer_cancel"),
]
