from django.urls import path

from . import views

app_name = "direct_upload"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("plain/", views.plain_upload, name="plain"),
    path("done/<int:pk>/", views.done, name="done"),
]
