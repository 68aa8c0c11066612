from django.urls import path

from tests.testapp.views import download

urlpatterns = [path("download/<int:pk>/", download, name="download")]
