from django.urls import path

from accounts.api.views import ProfileView

urlpatterns = [
    path("me", ProfileView.as_view(), name="api-profile"),
]
