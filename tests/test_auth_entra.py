"""The service-principal flow against a fake Microsoft Entra token endpoint (HTTPS, loopback)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from agents_core.auth import TokenBroker
from agents_core.config import Credential, Platform, Settings
from agents_core.errors import UpstreamAuthError

TOKEN_PATH = "/tenant-1/oauth2/v2.0/token"


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HTTPServer, Path]]:
    """An HTTPS server with a self-signed certificate for localhost; yields it and the cert."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("entra")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = HTTPServer(host="localhost", ssl_context=context)
    server.start()
    yield server, cert_file
    server.stop()


def broker(server: HTTPServer, cert_file: Path) -> TokenBroker:
    options = {"authority": f"https://localhost:{server.port}", "connection_verify": str(cert_file)}
    return TokenBroker(Settings(), Platform(), credential_options=options)


SERVICE_PRINCIPAL = Credential(
    "client_secret", tenant_id="tenant-1", client_id="client-1", client_secret=SecretStr("s3cret")
)


async def test_client_secret_flow_requests_the_foundry_scope_once(
    entra: tuple[HTTPServer, Path],
) -> None:
    server, cert_file = entra
    server.clear()
    server.expect_request(TOKEN_PATH, method="POST").respond_with_json(
        {"access_token": "sp-token", "expires_in": 3600, "token_type": "Bearer"}
    )
    tokens = broker(server, cert_file)
    assert await tokens.token(SERVICE_PRINCIPAL, {}) == "sp-token"
    assert await tokens.token(SERVICE_PRINCIPAL, {}) == "sp-token"  # cached
    await tokens.aclose()
    [(request, _)] = server.log
    form = parse_qs(request.get_data(as_text=True))
    assert form == {
        "client_id": ["client-1"],
        "client_secret": ["s3cret"],
        "grant_type": ["client_credentials"],
        "scope": ["https://ai.azure.com/.default"],
    }
    assert tokens.describe(SERVICE_PRINCIPAL) == "service principal client-1 in tenant tenant-1"


async def test_refused_secret_is_an_error_naming_the_principal_not_the_secret(
    entra: tuple[HTTPServer, Path],
) -> None:
    server, cert_file = entra
    server.clear()
    server.expect_request(TOKEN_PATH, method="POST").respond_with_json(
        {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."},
        status=401,
    )
    refused = broker(server, cert_file)
    with pytest.raises(UpstreamAuthError) as raised:
        await refused.token(SERVICE_PRINCIPAL, {})
    await refused.aclose()
    assert "client-1" in raised.value.message and "Azure AI User" in raised.value.message
    assert "s3cret" not in raised.value.message


async def test_upstream_https_is_verified_against_the_trust_store(
    entra: tuple[HTTPServer, Path],
) -> None:
    """An upstream whose certificate no trusted root signed is never spoken to."""
    import httpx

    from agents_core.upstream_http import AiohttpTransport

    server, cert_file = entra
    server.clear()
    server.expect_request("/api/projects/p/threads").respond_with_json({"id": "thread_1"})
    url = f"https://localhost:{server.port}/api/projects/p/threads"
    default = AiohttpTransport()
    with pytest.raises(httpx.ConnectError, match="certificate"):
        await default.handle_async_request(httpx.Request("GET", url))
    await default.aclose()
    trusting = AiohttpTransport(ssl.create_default_context(cafile=str(cert_file)))
    response = await trusting.handle_async_request(httpx.Request("GET", url))
    try:
        assert response.status_code == 200
        assert json.loads(await response.aread()) == {"id": "thread_1"}
    finally:
        await response.aclose()
        await trusting.aclose()
    assert len(server.log) == 1
