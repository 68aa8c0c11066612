from django.http import FileResponse, HttpRequest

from tests.testapp.models import Document


def download(request: HttpRequest, pk: int) -> FileResponse:
    document = Document.objects.get(pk=pk)
    return FileResponse(document.file.open("rb"), as_attachment=True, filename="download.bin")
