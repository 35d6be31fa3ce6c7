import ipaddress

from django.conf import settings
from django.http import HttpResponseForbidden
from django_prometheus.exports import ExportToDjangoView


def _is_internal(remote_addr: str) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics(request):
    """Prometheus metrics; in production only for the internal networks in settings.

    The public proxy (nginx in docker-compose) also refuses /metrics, since behind it
    every request arrives from an internal address.
    """
    if settings.PRODUCTION and not _is_internal(request.META.get("REMOTE_ADDR", "")):
        return HttpResponseForbidden("metrics are internal")
    return ExportToDjangoView(request)
