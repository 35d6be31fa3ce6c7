from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import selectors, services
from documents.api.serializers import DocumentDetailSerializer, DocumentFilterSerializer, DocumentOutputSerializer
from documents.models import AccountDocument, DocumentKind
from documents.views import attachment


class DocumentListView(ListAPIView):
    serializer_class = DocumentOutputSerializer
    queryset = AccountDocument.objects.none()  # the schema's model; requests use get_queryset

    @extend_schema(
        operation_id="documents_list",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=DocumentKind.values),
            OpenApiParameter("start", OpenApiTypes.DATE, description="Periods ending on or after this date."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Periods starting on or before this date."),
        ],
        description="Your account documents, newest first: trade confirmations, monthly statements, year-end "
        "realized gains reports (PDF and CSV).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AccountDocument.objects.none()
        filters = DocumentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.document_list(user=self.request.user, **filters.validated_data)


class DocumentDetailView(APIView):
    @extend_schema(responses=DocumentDetailSerializer, operation_id="documents_get")
    def get(self, request, document_id):
        document = selectors.document_get(user=request.user, document_id=document_id)
        return Response(DocumentDetailSerializer(document).data)


class DocumentDownloadView(APIView):
    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The document as issued."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
        },
        operation_id="documents_download",
        description="The file exactly as issued: its SHA-256 is checked against the digest recorded at issue, "
        "and a file that does not match is refused (503 `document_unavailable`). Every download is audited.",
    )
    def get(self, request, document_id) -> HttpResponse:
        document = selectors.document_get(user=request.user, document_id=document_id)
        content = services.document_content_verified(document=document, actor=request.user, request=request)
        return attachment(document, content)
