from django.urls import path

from accounts.api.views import (
    ApiKeyDetailView,
    ApiKeyListView,
    KYCApplicationView,
    KYCDocumentDownloadView,
    KYCDocumentListView,
    KYCSubmitView,
    ProfileView,
)

urlpatterns = [
    path("me", ProfileView.as_view(), name="api-profile"),
    path("kyc", KYCApplicationView.as_view(), name="api-kyc"),
    path("kyc/submit", KYCSubmitView.as_view(), name="api-kyc-submit"),
    path("kyc/documents", KYCDocumentListView.as_view(), name="api-kyc-documents"),
    path("kyc/documents/<uuid:document_id>", KYCDocumentDownloadView.as_view(), name="api-kyc-document"),
    path("api-keys", ApiKeyListView.as_view(), name="api-keys"),
    path("api-keys/<str:key_id>", ApiKeyDetailView.as_view(), name="api-key"),
]
