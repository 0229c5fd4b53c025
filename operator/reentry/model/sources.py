"""Where material lives and how HTTP is called: Secret and ConfigMap keys, URLs, TLS and credentials.

Shared by the identity checks (a CA bundle, the clients' JWKS), the state checks that call HTTP
(prometheus, http) and the invalidate action.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from reentry.model.common import DataKey, Duration, NamespaceName, ObjectName, _Model


class KeyRef(_Model):
    """One key of a Secret or a ConfigMap, in the plan's namespace unless another is named."""

    name: ObjectName
    key: DataKey
    namespace: NamespaceName | None = None


class KeySource(_Model):
    """Where some material lives: exactly one of a Secret key, a ConfigMap key or an HTTPS URL."""

    secret: KeyRef | None = None
    configMap: KeyRef | None = None
    url: str | None = Field(default=None, pattern=r"^https?://", description="Fetched with GET.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        chosen = [k for k in ("secret", "configMap", "url") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"needs exactly one of secret, configMap, url (got {', '.join(chosen) or 'none'})")
        return self


class TlsOptions(_Model):
    """How a TLS server is verified."""

    caBundle: KeySource | None = Field(default=None, description="PEM CA bundle; the system's by default.")
    insecureSkipVerify: bool = Field(default=False, description="Do not verify the server (tests only).")
    serverName: str | None = Field(default=None, description="The name to verify instead of the URL's host.")


class HttpAuth(_Model):
    """Credentials from a Secret: a bearer token, or basic auth (keys username and password)."""

    bearerToken: KeyRef | None = Field(default=None, description="Sent as Authorization: Bearer <token>.")
    basicAuthSecret: ObjectName | None = Field(default=None, description="A Secret with keys username and password.")

    @model_validator(mode="after")
    def _one_scheme(self) -> Self:
        if self.bearerToken is not None and self.basicAuthSecret is not None:
            raise ValueError("auth: use bearerToken or basicAuthSecret, not both")
        return self


class HttpClient(_Model):
    """Shared by the kinds that call HTTP: time limit, TLS and credentials."""

    timeout: Duration = Field(default="5s", description="Per request.")
    tls: TlsOptions | None = None
    auth: HttpAuth | None = None
    headersFrom: ObjectName | None = Field(default=None,
                                           description="A Secret whose keys and values are sent as headers.")
