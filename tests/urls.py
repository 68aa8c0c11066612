from django.urls import path

from examples.direct_upload import project_urls
from tests.testapp.views import download

urlpatterns = [path("download/<int:pk>/", download, name="download"), *project_urls.urlpatterns]
