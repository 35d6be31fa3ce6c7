"""OpenAPI descriptions of the authentication schemes drf-spectacular cannot infer."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AllauthJWTScheme(OpenApiAuthenticationExtension):
    target_class = "allauth.headless.contrib.rest_framework.authentication.JWTTokenAuthentication"
    match_subclasses = True  # speedtrade.api.authentication.ThrottledJWTTokenAuthentication
    name = "jwtTokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from `POST /_allauth/app/v1/auth/login` (valid 30 minutes; "
            "renew with `POST /_allauth/app/v1/tokens/refresh`).",
        }
