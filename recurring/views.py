"""Recurring investment pages: list with next runs, create, pause/resume/cancel, a plan's runs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from recurring import selectors, services
from recurring.forms import PlanForm
from speedtrade.errors import DomainError, NotFound
from speedtrade.forms import add_domain_error


@login_required
@require_http_methods(["GET", "POST"])
def plans_page(request):
    initial = {
        "symbol": request.GET.get("symbol", ""),
        "amount": request.GET.get("amount", ""),
        "start_date": services.today_et(timezone.now()),
        "frequency": "weekly",
    }
    form = PlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        try:
            services.plan_create(user=request.user, **data)
        except DomainError as refused:
            add_domain_error(form, refused)
        else:
            messages.success(request, "Recurring investment created.")
            return redirect("recurring")
    plans = selectors.plan_list(user=request.user).exclude(status="canceled")
    status = 422 if form.is_bound else 200
    return render(request, "recurring/plans.html", {"form": form, "plans": plans}, status=status)


@login_required
def plan_detail(request, plan_id):
    plan = selectors.plan_list(user=request.user).filter(pk=plan_id).first()
    if plan is None:
        raise Http404
    return render(request, "recurring/plan_detail.html", {"plan": plan, "runs": selectors.run_list(plan=plan)[:100]})


ACTIONS = {"pause": services.plan_pause, "resume": services.plan_resume, "cancel": services.plan_cancel}


@login_required
@require_POST
def plan_action(request, plan_id, action):
    if action not in ACTIONS:
        raise Http404
    try:
        ACTIONS[action](user=request.user, plan_id=plan_id)
    except NotFound:
        raise Http404 from None
    except DomainError as refused:
        messages.error(request, refused.message)
    return redirect("recurring")
