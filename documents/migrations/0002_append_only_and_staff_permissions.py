"""Issued documents are immutable in the database too, and staff groups get least privilege.

PostgreSQL refuses any UPDATE or DELETE of an issued document (a correction is a new row naming the one it
corrects). Compliance reads documents and their files (each download audited) and handles corrections (request,
and approve one requested by another officer); Support sees which documents a customer has, not their files.
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
                    "download_accountdocument",
                    "view_documentcorrection",
                    "add_documentcorrection",
                    "approve_documentcorrection",
                ],
                "Support": ["view_accountdocument"],
            },
        ),
    ]
