from django.urls import path

from veille.sources import views

urlpatterns = [
    path("", views.source_list, name="source_list"),
    path("new/", views.source_create, name="source_create"),
    path("<int:source_id>/", views.source_edit, name="source_edit"),
    path("<int:source_id>/<str:verb>/", views.source_set_status, name="source_set_status"),
]
