"""Files from figures: PDFs from Django templates through WeasyPrint, the year-end CSV.

WeasyPrint lays out HTML and CSS itself (no browser). Documents are rendered offline: the templates carry
their stylesheet inline and use the system's fonts, and the URL fetcher accepts `data:` URLs only, so a
template that names any other resource fails to render instead of reaching the network.
"""

import csv
import io
from decimal import Decimal
from typing import TYPE_CHECKING

from django.template.loader import render_to_string

from speedtrade.spreadsheet import csv_cell

if TYPE_CHECKING:
    from weasyprint.urls import URLFetcher

PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"


# WeasyPrint (with Pango and fontTools, about 30 MB) is imported when a PDF is first rendered (the beat jobs, the
# staff command, a correction's approval), not by every web worker at start.


def offline_url_fetcher() -> "URLFetcher":
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=True, allow_redirects=False)


def pdf_from_template(template_name: str, context: dict) -> bytes:
    import weasyprint

    html = render_to_string(template_name, context)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=offline_url_fetcher()).write_pdf()


GAINS_CSV_COLUMNS = (
    ("description", "Description of property (1a)"),
    ("acquired_on", "Date acquired (1b)"),
    ("sold_on", "Date sold (1c)"),
    ("proceeds", "Proceeds (1d)"),
    ("cost_basis", "Cost basis (1e)"),
    ("wash_sale_disallowed", "Wash sale loss disallowed (1g)"),
    ("gain", "Gain or loss"),
    ("term", "Term (short/long)"),
    ("qty", "Quantity"),
    ("symbol", "Symbol"),
)


_NUMBERS = {"proceeds", "cost_basis", "wash_sale_disallowed", "gain", "qty"}


def _typed(key: str, value):
    """The figures are decimal strings; numbers go to the sheet as numbers (a negative gain is no formula)."""
    return Decimal(value) if key in _NUMBERS and value is not None else value


def gains_csv(figures: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"SpeedTrade realized gains, tax year {figures['tax_year']}", figures["account_number"]])
    writer.writerow([label for _, label in GAINS_CSV_COLUMNS])
    for sale in figures["sales"]:
        writer.writerow([csv_cell(_typed(key, sale[key])) for key, _ in GAINS_CSV_COLUMNS])
    totals = figures["totals"]
    writer.writerow(
        ["Total", "", "", totals["proceeds"], totals["cost_basis"], totals["wash_sale_disallowed"], totals["gain"]]
    )
    return out.getvalue().encode("utf-8")
