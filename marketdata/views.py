"""Market data pages served outside the API: asset icons."""

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from marketdata.models import AssetIcon


@require_GET
def asset_icon(request, symbol: str):
    """An asset's stored icon; public (logos), cached a day, never sniffed as anything else."""
    icon = AssetIcon.objects.filter(asset__symbol__iexact=symbol).only("content_type", "data").first()
    if icon is None:
        raise Http404("No icon.")
    response = HttpResponse(bytes(icon.data), content_type=icon.content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
