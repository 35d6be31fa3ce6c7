"""The screener: the "under $100" universe by default, filtered, searched and sorted, each row a
click away from its trade page."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from marketdata.forms import ScreenerForm
from marketdata.selectors import screener as screener_rows

MAX_ROWS = 200


@login_required
def screener(request):
    form = ScreenerForm(request.GET)
    if not form.is_valid():
        return render(request, "marketdata/screener.html", {"form": form, "rows": []}, status=400)
    filters = form.filters()
    rows = screener_rows(**filters)
    # Column headers sort by their column, flipping the order when it is already the sort column.
    query = request.GET.copy()
    sort_links = {}
    for column in ("symbol", "name", "rank", "price", "change"):
        query["sort"] = column
        query["order"] = "asc" if filters["sort"] != column or filters["descending"] else "desc"
        sort_links[column] = query.urlencode()
    return render(
        request,
        "marketdata/screener.html",
        {
            "form": form,
            "rows": rows[:MAX_ROWS],
            "total": len(rows),
            "max_rows": MAX_ROWS,
            "sort": filters["sort"],
            "descending": filters["descending"],
            "sort_links": sort_links,
        },
    )
