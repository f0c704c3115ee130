"""Who is calling: the admin (a server-side bearer token) or a client (a signed, expiring token
naming one user), and what each may do.

- Admin: ``Authorization: Bearer <admin token>``; the token lives in Secrets Manager and is
  compared in constant time. Never a password checked in a browser.
- Client: ``Authorization: Bearer <JWT>`` signed with the control plane's key (HS256), issued
  when a session is created or approved and carried in the client link. It names the user
  (``sub``) and expires. A client may only touch its own user's data.

Missing or wrong credentials are 401; a valid credential reaching for someone else's data is 403.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from control_plane import secrets
from control_plane.errors import Forbidden, Unauthorized
from tmux_builder.naming import USER_ID_RE

CLIENT_TOKEN_TTL_SECONDS = 14 * 24 * 3600
_ISSUER = "tmux-builder"
_AUDIENCE = "tmux-builder-client"
_ALGORITHM = "HS256"


class Role(StrEnum):
    ADMIN = "admin"
    CLIENT = "client"


@dataclass(frozen=True)
class Principal:
    role: Role
    user_id: str | None = None
    # When the credential stops being valid (epoch seconds; None: the admin token, which is
    # valid until rotated). Not part of who the caller is, so not compared.
    expires_at: int | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_access(self, user_id: str) -> bool:
        return self.is_admin or self.user_id == user_id


def issue_client_token(user_id: str, ttl_seconds: int = CLIENT_TOKEN_TTL_SECONDS) -> str:
    if not USER_ID_RE.match(user_id):
        raise ValueError("client tokens name a user id")
    import jwt  # imported on use: the admin path and the step Lambdas never need it

    now = int(time.time())
    claims = {
        "iss": _ISSUER,
        "aud": _AUDIENCE,
        "sub": user_id,
        "iat": now,
        "exp": now + ttl_seconds,
        "scope": Role.CLIENT.value,
    }
    return jwt.encode(claims, secrets.signing_key(), algorithm=_ALGORITHM)


def _bearer(headers: Mapping[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an 'Authorization: Bearer <token>' header is required")
    return token.strip()


def principal_from_token(token: str) -> Principal:
    if hmac.compare_digest(token.encode(), secrets.admin_token().encode()):
        return Principal(Role.ADMIN)
    import jwt

    try:
        claims = jwt.decode(
            token,
            secrets.signing_key(),
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            issuer=_ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired; ask for a new link") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("the token is not valid") from exc
    user_id = str(claims.get("sub", ""))
    if claims.get("scope") != Role.CLIENT.value or not USER_ID_RE.match(user_id):
        raise Unauthorized("the token is not valid")
    return Principal(Role.CLIENT, user_id, expires_at=int(claims["exp"]))


def authenticate(headers: Mapping[str, str]) -> Principal:
    """The caller of a request, from its Authorization header; 401 if there is none."""
    return principal_from_token(_bearer(headers))


def require_admin(principal: Principal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this needs the admin credential")
    return principal


def require_access(principal: Principal, user_id: str) -> Principal:
    """The admin, or the client whose user this is; 403 for anyone else."""
    if not principal.may_access(user_id):
        raise Forbidden("this belongs to another user")
    return principal
