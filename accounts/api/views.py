from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import ProfileInputSerializer, ProfileOutputSerializer
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
