"""The issuer's error tree.

Each error has a stable snake_case ``code``: for protocol errors it is the RFC 6749
§5.2 / RFC 6750 §3.1 code that the web layer sends, so the mapping is one lookup.
``field`` names the parameter or claim at fault. Messages never carry a secret or token.

    IssuerError
    ├── ConfigurationError          configuration_error
    ├── InvalidInput                invalid_input   (operator input: CLI arguments)
    ├── AlreadyExists               already_exists
    └── ProtocolError               (sent to clients)
        ├── InvalidRequest          invalid_request        400
        │   └── RequestTooLarge     invalid_request        413
        ├── InvalidClient           invalid_client         401
        ├── InvalidGrant            invalid_grant          400
        ├── UnauthorizedClient      unauthorized_client    400
        ├── UnsupportedGrantType    unsupported_grant_type 400
        ├── InvalidScope            invalid_scope          400
        ├── InvalidToken            invalid_token          401 (RFC 6750)
        ├── InsufficientScope       insufficient_scope     403 (RFC 6750)
        └── TemporarilyUnavailable  temporarily_unavailable 503
"""

from __future__ import annotations


class IssuerError(Exception):
    code = "issuer_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigurationError(IssuerError):
    code = "configuration_error"


class InvalidInput(IssuerError):
    code = "invalid_input"


class AlreadyExists(IssuerError):
    code = "already_exists"


class ProtocolError(IssuerError):
    status = 400


class InvalidRequest(ProtocolError):
    code = "invalid_request"


class RequestTooLarge(InvalidRequest):
    status = 413


class InvalidClient(ProtocolError):
    code = "invalid_client"
    status = 401


class InvalidGrant(ProtocolError):
    code = "invalid_grant"


class UnauthorizedClient(ProtocolError):
    code = "unauthorized_client"


class UnsupportedGrantType(ProtocolError):
    code = "unsupported_grant_type"


class InvalidScope(ProtocolError):
    code = "invalid_scope"


class InvalidToken(ProtocolError):
    code = "invalid_token"
    status = 401


class InsufficientScope(ProtocolError):
    code = "insufficient_scope"
    status = 403


class TemporarilyUnavailable(ProtocolError):
    code = "temporarily_unavailable"
    status = 503
