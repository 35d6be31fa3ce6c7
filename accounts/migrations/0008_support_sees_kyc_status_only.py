"""Support sees a customer's KYC status (the customer list shows it) but not the application
itself nor the identity documents and signed agreements: those are Compliance's (issue 16, item 15)."""

from django.db import migrations

from speedtrade.group_permissions import group_permissions_operation

# Granted to Support by 0006; taking them away is 0006's grant run backwards (and the reverse grants them again).
_SUPPORT_KYC_READS = group_permissions_operation(
    "accounts", {"Support": ["view_kycapplication", "view_kycdocument", "view_kycagreement"]}
)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_api_keys")]

    operations = [migrations.RunPython(_SUPPORT_KYC_READS.reverse_code, _SUPPORT_KYC_READS.code)]
