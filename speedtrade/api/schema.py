"""OpenAPI descriptions of the authentication schemes drf-spectacular cannot infer."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AllauthJWTScheme(OpenApiAuthenticationExtension):
    target_class = "allauth.headless.contrib.rest_framework.authentication.JWTTokenAuthentication"
    name = "jwtTokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from `POST /_allauth/app/v1/auth/login` (valid 30 minutes; "
            "renew with `POST /_allauth/app/v1/tokens/refresh`).",
        }


class AlpacaKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.AlpacaKeyAuthentication"
    name = ["apcaKeyId", "apcaSecretKey"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "APCA-API-KEY-ID",
                "description": "Key id from `POST /api/v1/api-keys` (sent together with APCA-API-SECRET-KEY).",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "APCA-API-SECRET-KEY",
                "description": "The key's secret, shown once at creation.",
            },
        ]
