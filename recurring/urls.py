from django.urls import path

from recurring import views

urlpatterns = [
    path("recurring/", views.plans_page, name="recurring"),
    path("recurring/<uuid:plan_id>/", views.plan_detail, name="recurring_plan"),
    path("recurring/<uuid:plan_id>/<str:action>/", views.plan_action, name="recurring_plan_action"),
]
