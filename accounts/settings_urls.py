from django.urls import path

from accounts import settings_views

app_name = "settings"

urlpatterns = [
    path("", settings_views.profile, name="profile"),
    path("security/", settings_views.security, name="security"),
    path("api-keys/", settings_views.api_keys, name="api_keys"),
    path("api-keys/<str:key_id>/revoke/", settings_views.api_key_revoke, name="api_key_revoke"),
]
