"""Files from figures: PDFs from Django templates through WeasyPrint, the year-end CSV.

WeasyPrint lays out HTML and CSS itself (no browser). Documents are rendered offline: the templates carry
their stylesheet inline and use the system's fonts, and the URL fetcher accepts `data:` URLs only, so a
template that names any other resource fails to render instead of reaching the network.
"""

import csv
import io
from decimal import Decimal

import weasyprint
from django.template.loader import render_to_string
from weasyprint.urls import URLFetcher

from speedtrade.spreadsheet import csv_cell

PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"


def offline_url_fetcher() -> URLFetcher:
    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=True, allow_redirects=False)


def pdf_from_template(template_name: str, context: dict) -> bytes:
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
