from django.urls import path

from accounts import views

app_name = "onboarding"

urlpatterns = [
    path("", views.status, name="status"),
    path("agreements/", views.agreements_step, name="agreements"),
    path("documents/", views.documents_step, name="documents"),
    path("documents/<uuid:document_id>/", views.document_download, name="document"),
    path("review/", views.review_step, name="review"),
    path("<slug:step>/", views.field_step, name="step"),
]
