from django.urls import path

from recurring.api import views

urlpatterns = [
    path("recurring-investments", views.PlanListView.as_view(), name="api-recurring"),
    path("recurring-investments/<uuid:plan_id>", views.PlanDetailView.as_view(), name="api-recurring-plan"),
    path("recurring-investments/<uuid:plan_id>/pause", views.PlanPauseView.as_view(), name="api-recurring-pause"),
    path("recurring-investments/<uuid:plan_id>/resume", views.PlanResumeView.as_view(), name="api-recurring-resume"),
    path("recurring-investments/<uuid:plan_id>/runs", views.PlanRunListView.as_view(), name="api-recurring-runs"),
]
