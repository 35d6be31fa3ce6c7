from django.urls import path

from documents.api import views

urlpatterns = [
    path("documents", views.DocumentListView.as_view(), name="api-documents"),
    path("documents/<uuid:document_id>", views.DocumentDetailView.as_view(), name="api-document"),
    path("documents/<uuid:document_id>/download", views.DocumentDownloadView.as_view(), name="api-document-download"),
]
