from django.urls import path

from documents import views

urlpatterns = [
    path("documents/", views.documents_page, name="documents"),
    path("documents/<uuid:document_id>/download/", views.document_download, name="document_download"),
]
