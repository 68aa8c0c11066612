from django.apps import AppConfig


class DirectUploadExampleConfig(AppConfig):
    name = "examples.direct_upload"
    label = "direct_upload"
    default_auto_field = "django.db.models.AutoField"
