from django import template

from recurring.selectors import next_runs

register = template.Library()


@register.inclusion_tag("recurring/_next_runs.html", takes_context=True)
def next_recurring_runs(context):
    """Home's "Next recurring buys" card (a tag, so Home's view needs no change)."""
    user = context["request"].user
    return {"plans": next_runs(user=user) if user.is_authenticated else []}
