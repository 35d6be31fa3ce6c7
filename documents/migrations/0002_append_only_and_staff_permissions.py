"""Issued documents are immutable in the database too, and staff groups get least privilege.

PostgreSQL refuses any UPDATE or DELETE of an issued document (a correction is a new row naming the one it
corrects). Compliance reads documents and handles corrections (request, and approve one requested by another
officer); Support reads which documents a customer has, nothing more.
"""

from django.db import migrations

from speedtrade.append_only import append_only_operation
from speedtrade.group_permissions import group_permissions_operation


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]

    operations = [
        append_only_operation("documents_accountdocument", "issued account documents"),
        group_permissions_operation(
            "documents",
            {
                "Compliance": [
                    "view_accountdocument",
                    "view_documentcorrection",
                    "add_documentcorrection",
                    "approve_documentcorrection",
                ],
                "Support": ["view_accountdocument"],
            },
        ),
    ]
