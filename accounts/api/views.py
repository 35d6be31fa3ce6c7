from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.permissions import NotApiKeyAuthenticated
from accounts.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyInputSerializer,
    ApiKeyOutputSerializer,
    KYCApplicationOutputSerializer,
    KYCDocumentOutputSerializer,
    KYCDocumentUploadSerializer,
    KYCDraftInputSerializer,
    ProfileInputSerializer,
    ProfileOutputSerializer,
)
from accounts.models import ApiKey, KYCApplication, KYCDocument
from accounts.services import user_update_profile


class ProfileView(APIView):
    @extend_schema(responses=ProfileOutputSerializer, operation_id="profile_retrieve")
    def get(self, request):
        return Response(ProfileOutputSerializer(request.user).data)

    @extend_schema(request=ProfileInputSerializer, responses=ProfileOutputSerializer, operation_id="profile_update")
    def patch(self, request):
        serializer = ProfileInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_update_profile(user=request.user, **serializer.validated_data)
        return Response(ProfileOutputSerializer(user).data)


def _own_application(user) -> KYCApplication:
    application = KYCApplication.objects.filter(user=user).first()
    if application is None:
        raise NotFound("No KYC application yet: PUT /api/v1/kyc to start one.")
    return application


class KYCApplicationView(APIView):
    @extend_schema(responses=KYCApplicationOutputSerializer, operation_id="kyc_retrieve")
    def get(self, request):
        return Response(KYCApplicationOutputSerializer(_own_application(request.user)).data)

    @extend_schema(
        request=KYCDraftInputSerializer,
        responses=KYCApplicationOutputSerializer,
        operation_id="kyc_draft_save",
        description="Save the given fields of the draft (others are kept). Refused (409) once submitted.",
    )
    def put(self, request):
        serializer = KYCDraftInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        agreements = changes.pop("agreements", [])
        application = services.kyc_draft_save(
            user=request.user, changes=changes, agreements=agreements, request=request
        )
        return Response(KYCApplicationOutputSerializer(application).data)


class KYCSubmitView(APIView):
    @extend_schema(request=None, responses=KYCApplicationOutputSerializer, operation_id="kyc_submit")
    def post(self, request):
        _own_application(request.user)
        application = services.kyc_submit(user=request.user, request=request)
        return Response(KYCApplicationOutputSerializer(application).data)


class KYCDocumentListView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(responses=KYCDocumentOutputSerializer(many=True), operation_id="kyc_documents_list")
    def get(self, request):
        documents = KYCDocument.objects.filter(application__user=request.user)
        return Response(KYCDocumentOutputSerializer(documents, many=True).data)

    @extend_schema(
        request={"multipart/form-data": KYCDocumentUploadSerializer},
        responses={201: KYCDocumentOutputSerializer},
        operation_id="kyc_documents_upload",
    )
    def post(self, request):
        serializer = KYCDocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = services.kyc_document_upload(
            user=request.user,
            document_type=serializer.validated_data["document_type"],
            uploaded_file=serializer.validated_data["file"],
            request=request,
        )
        return Response(KYCDocumentOutputSerializer(document).data, status=status.HTTP_201_CREATED)


class KYCDocumentDownloadView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes}, operation_id="kyc_documents_download")
    def get(self, request, document_id):
        # Starting from the user's own documents: another user's id is simply not found.
        document = get_object_or_404(KYCDocument, pk=document_id, application__user=request.user)
        return FileResponse(
            document.file.open("rb"),
            content_type=document.content_type,
            as_attachment=True,
            filename=f"{document.document_type}-{document.id}",
        )


class ApiKeyListView(APIView):
    permission_classes = [IsAuthenticated, NotApiKeyAuthenticated]

    @extend_schema(responses=ApiKeyOutputSerializer(many=True), operation_id="api_keys_list")
    def get(self, request):
        keys = ApiKey.objects.filter(user=request.user)
        return Response(ApiKeyOutputSerializer(keys, many=True).data)

    @extend_schema(
        request=ApiKeyInputSerializer,
        responses={201: ApiKeyCreatedSerializer},
        operation_id="api_keys_create",
        description="A new key pair. The `secret` is in this response only: store it now.",
    )
    def post(self, request):
        serializer = ApiKeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.api_key_create_confirmed(
            user=request.user,
            password_or_code=serializer.validated_data.pop("password"),
            request=request,
            **serializer.validated_data,
        )
        # Transient, for ApiKeyCreatedSerializer: shown this once, never stored (the model keeps its digest).
        key.secret = secret  # type: ignore[attr-defined]
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    permission_classes = [IsAuthenticated, NotApiKeyAuthenticated]

    @extend_schema(responses={204: None}, operation_id="api_keys_revoke")
    def delete(self, request, key_id):
        try:
            services.api_key_revoke(user=request.user, key_id=key_id, request=request)
        except ApiKey.DoesNotExist:
            raise NotFound("No such API key.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)
