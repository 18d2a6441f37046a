#!/usr/bin/env python3
"""Conformance suite: drives the aoai-canary simulator through Microsoft's real Python clients.

    python3 conformance.py INFO_FILE [unittest options, e.g. -v or test names]
    AOAI_SIM_INFO=INFO_FILE python3 conformance.py

INFO_FILE is written by `aoai-canary simulate --tls-dir DIR --info-file FILE`. Every scenario goes
through `openai` (AzureOpenAI and the stock OpenAI client on the v1 API), `azure-identity`, `msal`,
for Resource Manager, `azure-mgmt-cognitiveservices`, `azure-mgmt-authorization` and
`azure-mgmt-msi`, and for
Microsoft Graph, `msgraph-sdk`, at the versions pinned in requirements.txt, so a simulator that passes answers the way those clients
expect Azure to answer. Retries are off (or one) so the run takes seconds. Exit status is unittest's.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import ssl
import sys
import time
import unittest
import urllib.error
import urllib.request
import uuid
import warnings

INFO: dict = {}

SCOPE = "https://cognitiveservices.azure.com/.default"
AUDIENCE = "https://cognitiveservices.azure.com"
WRONG_SCOPE = "https://management.azure.com/.default"
API_VERSION = "2024-10-21"
RESPONSES_API_VERSION = "2025-04-01-preview"
# Reasoning models are served from 2024-12-01-preview on; older versions refuse them.
REASONING_API_VERSION = "2025-04-01-preview"
MESSAGES = [{"role": "user", "content": "ping"}]
IMDS_PATH = "/metadata/identity/oauth2/token"
UNKNOWN_TENANT = "99999999-8888-4777-8666-555555555555"

# Headers the data plane sends on its answers.
SUCCESS_HEADERS = ("x-request-id", "apim-request-id", "x-ms-region",
                   "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens")
ERROR_HEADERS = ("x-request-id", "apim-request-id", "x-ms-region")
# Refusals of the service's front door (a key, a token, a principal, the network) carry only
# apim-request-id: openai's error.request_id (from x-request-id) is None on them, as on Azure.
FRONT_DOOR_ERROR_HEADERS = ("apim-request-id",)

# Environment that would steer the clients elsewhere (credential selection, CA bundles, proxies).
_ENV_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "OPENAI_")
_ENV_NAMES = ("IMDS_ENDPOINT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def _clean_environment() -> None:
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            del os.environ[name]
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name, "")
        os.environ[name] = ",".join(x for x in (current, "127.0.0.1", "localhost") if x)


import azure.identity as identity  # noqa: E402
import msal  # noqa: E402
import openai  # noqa: E402
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError  # noqa: E402
from azure.mgmt.authorization import AuthorizationManagementClient  # noqa: E402
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient  # noqa: E402
from azure.mgmt.msi import ManagedServiceIdentityClient  # noqa: E402


# ---------------------------------------------------------------------------------------------
# helpers


def setUpModule() -> None:
    # Clients left to the garbage collector would print ResourceWarnings between the test dots.
    warnings.simplefilter("ignore", ResourceWarning)
    # msgraph-sdk and kiota warn about their own request-configuration classes on every call.
    warnings.filterwarnings("ignore", message=".*is deprecated", category=DeprecationWarning)


def ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=INFO["ca_file"])


def http_client():
    """An httpx2 client for openai that trusts the simulator's CA."""
    factory = getattr(openai, "DefaultHttpx2Client", None) or openai.DefaultHttpxClient
    return factory(verify=ssl_context(), timeout=20.0)


def resource(name: str) -> dict:
    for item in INFO["resources"]:
        if item["name"] == name:
            return item
    raise AssertionError(f"the info file has no resource {name!r}")


def deployment(res: dict, kind: str) -> dict:
    for item in res.get("deployments", []):
        if item.get("kind") == kind:
            return item
    if kind == "chat":
        return {"name": res["deployment"], "model": res["deployment"], "version": None, "kind": "chat"}
    raise AssertionError(f"resource {res['name']!r} has no {kind} deployment")


def model_name(dep: dict) -> str:
    """What `model` says in answers: the model and its version, not the deployment name."""
    return f"{dep['model']}-{dep['version']}" if dep.get("version") else dep["model"]


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def exception_text(error: BaseException) -> str:
    """The messages of an exception and everything it was raised from or during."""
    texts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


def admin(method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(INFO["admin"].rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=ssl_context(), timeout=10) as answer:
        return json.loads(answer.read())


def admin_resource(name: str) -> dict:
    for item in admin("GET", "/state")["resources"]:
        if item["name"] == name:
            return item
    raise AssertionError(f"admin state has no resource {name!r}")


@contextlib.contextmanager
def resource_changed(name: str, change: dict, restore: dict):
    admin("POST", f"/resources/{name}", change)
    try:
        yield
    finally:
        admin("POST", f"/resources/{name}", restore)


@contextlib.contextmanager
def environment(**values: str):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def raw_post(url: str, body: dict, headers: dict) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, context=ssl_context(), timeout=20) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def secret_credential(**overrides) -> identity.ClientSecretCredential:
    arguments = dict(tenant_id=INFO["tenant_id"], client_id=INFO["client_id"], client_secret=INFO["client_secret"])
    arguments.update(overrides)
    return identity.ClientSecretCredential(
        arguments.pop("tenant_id"), arguments.pop("client_id"), arguments.pop("client_secret"),
        authority=INFO["authority"], disable_instance_discovery=True, connection_verify=INFO["ca_file"], **arguments)


_PROVIDERS: dict = {}


def token_provider(scope: str = SCOPE):
    """get_bearer_token_provider over ClientSecretCredential, one per scope for the whole run."""
    if scope not in _PROVIDERS:
        _PROVIDERS[scope] = identity.get_bearer_token_provider(secret_credential(), scope)
    return _PROVIDERS[scope]


def azure_client(res: dict, *, provider=None, api_key=None, api_version=API_VERSION, max_retries=0):
    if provider is not None:
        auth = {"azure_ad_token_provider": provider}
    else:
        auth = {"api_key": api_key if api_key is not None else res["api_key"]}
    return openai.AzureOpenAI(azure_endpoint=res["endpoint"], api_version=api_version, max_retries=max_retries,
                              http_client=http_client(), **auth)


def v1_client(res: dict, api_key, *, max_retries=0, default_headers=None):
    return openai.OpenAI(base_url=res["endpoint"].rstrip("/") + "/openai/v1/", api_key=api_key,
                         max_retries=max_retries, http_client=http_client(), default_headers=default_headers)


# ---------------------------------------------------------------------------------------------
# shared assertions


class Checks(unittest.TestCase):
    def assert_headers(self, headers, names=SUCCESS_HEADERS):
        missing = [name for name in names if not headers.get(name)]
        self.assertFalse(missing, f"answer lacks headers {missing}; got {dict(headers)}")

    def assert_status_error(self, error_class, call, *, code=None, status=None):
        """Runs `call`, expects `error_class`; checks code, request ids and headers; returns the exception."""
        with self.assertRaises(error_class) as caught:
            call()
        error = caught.exception
        self.assertIs(type(error), error_class, f"{type(error).__name__}: {error}")
        if status is not None:
            self.assertEqual(error.status_code, status)
        if code is not None:
            self.assertEqual(error.code, code, f"body: {error.body!r}")
        if error.status_code in (401, 403):
            self.assertIsNone(error.request_id, "a front-door refusal carries no x-request-id")
            self.assert_headers(error.response.headers, FRONT_DOOR_ERROR_HEADERS)
        else:
            self.assertTrue(error.request_id, "no x-request-id on the error answer")
            self.assertEqual(error.request_id, error.response.headers.get("x-request-id"))
            self.assert_headers(error.response.headers, ERROR_HEADERS)
        return error

    def assert_chat(self, raw, dep: dict):
        """A raw chat completion answer: headers, model, usage, message, content filter results."""
        self.assert_headers(raw.headers)
        completion = raw.parse()
        self.assertEqual(completion._request_id, raw.headers.get("x-request-id"))
        self.assertNotEqual(raw.headers.get("x-request-id"), raw.headers.get("apim-request-id"), "two ids on a success, as on Azure")
        self.assertEqual(completion.object, "chat.completion")
        self.assertTrue(completion.id)
        self.assertEqual(completion.model, model_name(dep), "model must be the model name and version")
        self.assertGreaterEqual(len(completion.choices), 1)
        choice = completion.choices[0]
        self.assertEqual(choice.message.role, "assistant")
        self.assertTrue(choice.message.content, "no content in the answer")
        self.assertIn(choice.finish_reason, ("stop", "length"))
        usage = completion.usage
        self.assertIsNotNone(usage, "no usage")
        self.assertGreater(usage.prompt_tokens, 0)
        self.assertGreater(usage.completion_tokens, 0)
        self.assertEqual(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens)
        filters = (choice.model_extra or {}).get("content_filter_results")
        self.assertTrue(filters, "choices[0].content_filter_results is empty")
        for category in ("hate", "self_harm", "sexual", "violence"):
            self.assertIn(category, filters)
            self.assertIs(filters[category].get("filtered"), False)
            self.assertEqual(filters[category].get("severity"), "safe")
        prompt_filters = (completion.model_extra or {}).get("prompt_filter_results")
        self.assertTrue(prompt_filters, "prompt_filter_results is empty")
        self.assertTrue(prompt_filters[0].get("content_filter_results"))
        return completion

    def assert_stream(self, stream, dep: dict):
        """Consumes a chat stream: content arrives, a finish reason comes, usage at the end, the stream ends."""
        contents, finish_reasons, usage, models = [], [], None, set()
        started = time.monotonic()
        for index, chunk in enumerate(stream):
            if index == 0 and not chunk.choices and (chunk.model_extra or {}).get("prompt_filter_results"):
                # Azure's first event carries the prompt's filter results, with empty id, object and model.
                self.assertEqual(chunk.object, "")
                continue
            self.assertEqual(chunk.object, "chat.completion.chunk")
            if chunk.model:
                models.add(chunk.model)
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    contents.append(choice.delta.content)
                if choice.finish_reason:
                    finish_reasons.append(choice.finish_reason)
            if chunk.usage is not None:
                usage = chunk.usage
            self.assertLess(time.monotonic() - started, 20, "stream does not end")
        self.assertTrue("".join(contents), "no content in the stream")
        self.assertIn("stop", finish_reasons)
        self.assertEqual(models, {model_name(dep)})
        self.assertIsNotNone(usage, "no usage chunk although stream_options.include_usage was set")
        self.assertGreater(usage.total_tokens, 0)

    def assert_embeddings(self, result, dep: dict, request_id=None, inputs=1):
        self.assertEqual(len(result.data), inputs, "one embedding per input")
        self.assertEqual([item.index for item in result.data], list(range(inputs)))
        for item in result.data:
            vector = item.embedding
            self.assertIsInstance(vector, list)
            self.assertGreater(len(vector), 0)
            self.assertTrue(all(isinstance(value, float) for value in vector))
        self.assertTrue(result.model.startswith(dep["model"]), result.model)
        self.assertGreater(result.usage.prompt_tokens, 0)

    def assert_response_events(self, events):
        """A Responses stream: typed events in order, numbered from 0, ending with the completed response."""
        types = [event.type for event in events]
        self.assertEqual(types[0], "response.created", types)
        self.assertEqual(types[-1], "response.completed", types)
        self.assertIn("response.output_text.delta", types)
        self.assertEqual([event.sequence_number for event in events], list(range(len(events))))
        text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
        self.assertEqual(text, events[-1].response.output_text)
        self.assert_response(events[-1].response)

    def assert_response(self, result):
        self.assertEqual(result.object, "response")
        self.assertEqual(result.status, "completed")
        self.assertTrue(result.output_text, "responses answer has no output_text")
        self.assertIsNotNone(result.usage)
        self.assertGreater(result.usage.input_tokens, 0)
        self.assertGreater(result.usage.output_tokens, 0)
        self.assertEqual(result.usage.total_tokens, result.usage.input_tokens + result.usage.output_tokens)


# ---------------------------------------------------------------------------------------------
# Entra ID token endpoint: msal and azure-identity


class EntraID(Checks):
    def authority(self, tenant=None) -> str:
        return f"{INFO['authority'].rstrip('/')}/{tenant or INFO['tenant_id']}"

    def assert_token(self, token: str, client_id: str, audience=AUDIENCE):
        claims = jwt_claims(token)
        self.assertEqual(claims.get("aud", "").rstrip("/"), audience)
        self.assertEqual(claims.get("tid"), INFO["tenant_id"])
        self.assertEqual(claims.get("azp") or claims.get("appid"), client_id)
        self.assertGreater(claims.get("exp", 0), time.time())
        return claims

    def test_msal_secret_instance_discovery_off(self):
        app = msal.ConfidentialClientApplication(
            INFO["client_id"], client_credential=INFO["client_secret"], authority=self.authority(),
            instance_discovery=False, verify=INFO["ca_file"], timeout=10)
        result = app.acquire_token_for_client(scopes=[SCOPE])
        self.assertIn("access_token", result, result)
        self.assertEqual(result.get("token_type", "").lower(), "bearer")
        self.assertGreater(int(result["expires_in"]), 300)
        self.assert_token(result["access_token"], INFO["client_id"])
        again = app.acquire_token_for_client(scopes=[SCOPE])
        self.assertEqual(again.get("access_token"), result["access_token"], "second call should hit the cache")

    def test_msal_secret_validate_authority_off(self):
        app = msal.ConfidentialClientApplication(
            INFO["client_id"], client_credential=INFO["client_secret"], authority=self.authority(),
            validate_authority=False, verify=INFO["ca_file"], timeout=10)
        result = app.acquire_token_for_client(scopes=[SCOPE])
        self.assertIn("access_token", result, result)

    def test_msal_wrong_secret(self):
        app = msal.ConfidentialClientApplication(
            INFO["client_id"], client_credential="not-the-secret", authority=self.authority(),
            instance_discovery=False, verify=INFO["ca_file"], timeout=10)
        result = app.acquire_token_for_client(scopes=[SCOPE])
        self.assertNotIn("access_token", result)
        self.assertEqual(result.get("error"), "invalid_client", result)
        self.assertTrue(result.get("error_description", "").startswith("AADSTS7000215:"), result)
        self.assertEqual(result.get("error_codes"), [7000215])

    def test_msal_unknown_tenant_fails_at_discovery(self):
        # Entra answers the unknown tenant's openid-configuration with 400 AADSTS90002; msal raises
        # ValueError while building the application, before any token request.
        with self.assertRaises(ValueError) as caught:
            msal.ConfidentialClientApplication(
                INFO["client_id"], client_credential=INFO["client_secret"], authority=self.authority(UNKNOWN_TENANT),
                instance_discovery=False, verify=INFO["ca_file"], timeout=10)
        self.assertIn("AADSTS90002", exception_text(caught.exception))

    def test_msal_certificate_ps256_x5t_s256(self):
        cert = INFO["certificate"]
        with open(cert["path"]) as pem_file:
            pem = pem_file.read()
        # private_key + public_certificate (no thumbprint): PS256 with x5t#S256 and x5c.
        app = msal.ConfidentialClientApplication(
            cert["client_id"], client_credential={"private_key": pem, "public_certificate": pem},
            authority=self.authority(), instance_discovery=False, verify=INFO["ca_file"], timeout=10)
        result = app.acquire_token_for_client(scopes=[SCOPE])
        self.assertIn("access_token", result, result)
        self.assert_token(result["access_token"], cert["client_id"])

    def test_client_secret_credential(self):
        token = secret_credential().get_token(SCOPE)
        self.assertGreater(token.expires_on, time.time() + 300)
        self.assert_token(token.token, INFO["client_id"])

    def test_client_secret_credential_other_scope(self):
        token = secret_credential().get_token(WRONG_SCOPE)
        self.assert_token(token.token, INFO["client_id"], audience="https://management.azure.com")

    def test_client_secret_credential_wrong_secret(self):
        with self.assertRaises(ClientAuthenticationError) as caught:
            secret_credential(client_secret="not-the-secret").get_token(SCOPE)
        self.assertIn("AADSTS7000215", caught.exception.message)

    def test_client_secret_credential_unknown_tenant(self):
        with self.assertRaises(ClientAuthenticationError) as caught:
            secret_credential(tenant_id=UNKNOWN_TENANT).get_token(SCOPE)
        self.assertIn("AADSTS90002", exception_text(caught.exception))

    def test_client_secret_credential_unknown_client(self):
        with self.assertRaises(ClientAuthenticationError) as caught:
            secret_credential(client_id=str(uuid.uuid4())).get_token(SCOPE)
        self.assertIn("AADSTS700016", caught.exception.message)

    def test_certificate_credential(self):
        cert = INFO["certificate"]
        credential = identity.CertificateCredential(
            INFO["tenant_id"], cert["client_id"], cert["path"], authority=INFO["authority"],
            disable_instance_discovery=True, connection_verify=INFO["ca_file"])
        self.assert_token(credential.get_token(SCOPE).token, cert["client_id"])

    def test_certificate_credential_send_chain(self):
        cert = INFO["certificate"]
        credential = identity.CertificateCredential(
            INFO["tenant_id"], cert["client_id"], cert["path"], authority=INFO["authority"],
            disable_instance_discovery=True, connection_verify=INFO["ca_file"], send_certificate_chain=True)
        self.assert_token(credential.get_token(SCOPE).token, cert["client_id"])

    def test_client_assertion_credential_federated(self):
        federated = INFO["federated"]

        def read_token() -> str:
            with open(federated["token_file"]) as token_file:
                return token_file.read().strip()

        credential = identity.ClientAssertionCredential(
            INFO["tenant_id"], federated["client_id"], read_token, authority=INFO["authority"],
            connection_verify=INFO["ca_file"])
        self.assert_token(credential.get_token(SCOPE).token, federated["client_id"])

    def test_workload_identity_credential(self):
        federated = INFO["federated"]
        credential = identity.WorkloadIdentityCredential(
            tenant_id=INFO["tenant_id"], client_id=federated["client_id"], token_file_path=federated["token_file"],
            authority=INFO["authority"], connection_verify=INFO["ca_file"])
        self.assert_token(credential.get_token(SCOPE).token, federated["client_id"])

    def test_client_assertion_unknown_subject(self):
        federated = INFO["federated"]
        now = int(time.time())

        def segment(obj) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        forged = ".".join([segment({"alg": "RS256", "typ": "JWT"}),
                           segment({"iss": federated["issuer"], "sub": "system:serviceaccount:other:nobody",
                                    "aud": "api://AzureADTokenExchange", "iat": now, "nbf": now, "exp": now + 600}),
                           "c2lnbmF0dXJl"])
        credential = identity.ClientAssertionCredential(
            INFO["tenant_id"], federated["client_id"], lambda: forged, authority=INFO["authority"],
            connection_verify=INFO["ca_file"])
        with self.assertRaises(ClientAuthenticationError) as caught:
            credential.get_token(SCOPE)
        # Entra ID today names what did not match: the subject (700213), not the older generic 70021.
        self.assertIn("Microsoft Entra ID error '(invalid_client) AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:other:nobody'", caught.exception.message)

    def test_certificate_credential_unregistered_certificate(self):
        """A certificate the application never registered: AADSTS700027, as Entra ID refuses it."""
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not registered")])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                       .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        pem = certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        credential = identity.CertificateCredential(
            INFO["tenant_id"], INFO["certificate"]["client_id"], certificate_data=pem, authority=INFO["authority"],
            disable_instance_discovery=True, connection_verify=INFO["ca_file"])
        with self.assertRaises(ClientAuthenticationError) as caught:
            credential.get_token(SCOPE)
        self.assertIn("AADSTS700027", caught.exception.message)


# ---------------------------------------------------------------------------------------------
# managed identity endpoints


class ManagedIdentity(Checks):
    def imds_host(self) -> str:
        endpoint = INFO["managed_identity"]["imds_endpoint"]
        self.assertTrue(endpoint.endswith(IMDS_PATH), f"IMDS endpoint {endpoint} must end with {IMDS_PATH}")
        return endpoint[: -len(IMDS_PATH)]

    def app_service_env(self, header=None) -> dict:
        mi = INFO["managed_identity"]
        return {"IDENTITY_ENDPOINT": mi["identity_endpoint"], "IDENTITY_HEADER": header or mi["identity_header"]}

    def assert_mi_token(self, token):
        mi = INFO["managed_identity"]
        claims = jwt_claims(token.token)
        self.assertEqual(claims.get("aud", "").rstrip("/"), AUDIENCE)
        self.assertEqual(claims.get("oid"), mi["object_id"])
        self.assertGreater(token.expires_on, time.time() + 300)

    def test_imds_client_id(self):
        mi = INFO["managed_identity"]
        with environment(AZURE_POD_IDENTITY_AUTHORITY_HOST=self.imds_host()):
            credential = identity.ManagedIdentityCredential(client_id=mi["client_id"], connection_verify=INFO["ca_file"])
            self.assert_mi_token(credential.get_token(SCOPE))

    def test_imds_object_id(self):
        mi = INFO["managed_identity"]
        with environment(AZURE_POD_IDENTITY_AUTHORITY_HOST=self.imds_host()):
            credential = identity.ManagedIdentityCredential(identity_config={"object_id": mi["object_id"]},
                                                            connection_verify=INFO["ca_file"])
            self.assert_mi_token(credential.get_token(SCOPE))

    def test_imds_unknown_identity(self):
        with environment(AZURE_POD_IDENTITY_AUTHORITY_HOST=self.imds_host()):
            credential = identity.ManagedIdentityCredential(client_id=str(uuid.uuid4()),
                                                            connection_verify=INFO["ca_file"])
            with self.assertRaises(identity.CredentialUnavailableError) as caught:
                credential.get_token(SCOPE)
        self.assertIn("Token request error: (invalid_request)", caught.exception.message)

    def test_app_service(self):
        mi = INFO["managed_identity"]
        with environment(**self.app_service_env()):
            credential = identity.ManagedIdentityCredential(client_id=mi["client_id"], connection_verify=INFO["ca_file"])
            self.assert_mi_token(credential.get_token(SCOPE))

    def test_app_service_wrong_header(self):
        mi = INFO["managed_identity"]
        with environment(**self.app_service_env(header="not-the-identity-header")):
            credential = identity.ManagedIdentityCredential(client_id=mi["client_id"], connection_verify=INFO["ca_file"])
            with self.assertRaises(identity.CredentialUnavailableError) as caught:
                credential.get_token(SCOPE)
        self.assertIn("Token request error: (invalid_scope) 401", caught.exception.message)

    def test_managed_identity_token_on_data_plane(self):
        mi = INFO["managed_identity"]
        res = resource("healthy")
        with environment(AZURE_POD_IDENTITY_AUTHORITY_HOST=self.imds_host()):
            credential = identity.ManagedIdentityCredential(client_id=mi["client_id"], connection_verify=INFO["ca_file"])
            provider = identity.get_bearer_token_provider(credential, SCOPE)
            raw = azure_client(res, provider=provider).chat.completions.with_raw_response.create(
                model=deployment(res, "chat")["name"], messages=MESSAGES)
        self.assert_chat(raw, deployment(res, "chat"))


# ---------------------------------------------------------------------------------------------
# data plane through AzureOpenAI, once with the key and once with Entra ID


class DataPlane:
    """Scenarios both auth modes share; subclasses say how the client authenticates."""

    def client(self, res: dict, **options):
        raise NotImplementedError

    def chat(self, name="healthy", **options):
        res = resource(name)
        dep = deployment(res, "chat")
        raw = self.client(res, **options).chat.completions.with_raw_response.create(
            model=dep["name"], messages=MESSAGES)
        return self.assert_chat(raw, dep)

    def test_chat(self):
        self.chat()

    def test_chat_stream(self):
        res = resource("healthy")
        dep = deployment(res, "chat")
        stream = self.client(res).chat.completions.create(
            model=dep["name"], messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        self.assert_stream(stream, dep)

    def test_embeddings_base64_default(self):
        res = resource("healthy")
        dep = deployment(res, "embeddings")
        raw = self.client(res).embeddings.with_raw_response.create(model=dep["name"], input="ping")
        self.assert_headers(raw.headers)
        self.assert_embeddings(raw.parse(), dep)

    def test_embeddings_float(self):
        res = resource("healthy")
        dep = deployment(res, "embeddings")
        result = self.client(res).embeddings.create(model=dep["name"], input="ping", encoding_format="float")
        self.assert_embeddings(result, dep)

    def test_embeddings_several_inputs(self):
        res = resource("healthy")
        dep = deployment(res, "embeddings")
        # The SDK's default asks for base64 and decodes it; float comes as lists.
        for options in ({}, {"encoding_format": "float"}):
            result = self.client(res).embeddings.create(model=dep["name"], input=["ping", "pong", "pang"], **options)
            self.assert_embeddings(result, dep, inputs=3)

    def test_chat_n_choices(self):
        res = resource("healthy")
        dep = deployment(res, "chat")
        raw = self.client(res).chat.completions.with_raw_response.create(model=dep["name"], messages=MESSAGES, n=2)
        completion = self.assert_chat(raw, dep)
        self.assertEqual([choice.index for choice in completion.choices], [0, 1])
        self.assertTrue(all(choice.message.content for choice in completion.choices))

    def test_responses(self):
        res = resource("healthy")
        raw = self.client(res, api_version=RESPONSES_API_VERSION).responses.with_raw_response.create(
            model=deployment(res, "chat")["name"], input="ping")
        self.assert_headers(raw.headers)
        self.assert_response(raw.parse())

    def test_responses_stream(self):
        res = resource("healthy")
        stream = self.client(res, api_version=RESPONSES_API_VERSION).responses.create(
            model=deployment(res, "chat")["name"], input="ping", stream=True)
        self.assert_response_events(list(stream))

    def test_responses_stream_helper(self):
        res = resource("healthy")
        with self.client(res, api_version=RESPONSES_API_VERSION).responses.stream(
                model=deployment(res, "chat")["name"], input="ping") as stream:
            deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
            final = stream.get_final_response()
        self.assertEqual("".join(deltas), final.output_text)
        self.assert_response(final)

    def test_models(self):
        res = resource("healthy")
        models = list(self.client(res).models.list())
        self.assertTrue(models, "the models list is empty")
        self.assertTrue(all(model.id for model in models))

    def test_missing_deployment(self):
        res = resource("healthy")
        self.assert_status_error(openai.NotFoundError, lambda: self.client(res).chat.completions.create(
            model="no-such-deployment", messages=MESSAGES), code="DeploymentNotFound", status=404)

    def test_embeddings_deployment_refuses_chat(self):
        res = resource("healthy")
        dep = deployment(res, "embeddings")
        self.assert_status_error(openai.BadRequestError, lambda: self.client(res).chat.completions.create(
            model=dep["name"], messages=MESSAGES), code="OperationNotSupported", status=400)

    def test_reasoning_refuses_max_tokens(self):
        res = resource("reasoning")
        dep = deployment(res, "reasoning")
        error = self.assert_status_error(openai.BadRequestError, lambda: self.client(res, api_version=REASONING_API_VERSION).chat.completions.create(
            model=dep["name"], messages=MESSAGES, max_tokens=16), code="unsupported_parameter", status=400)
        self.assertEqual(error.param, "max_tokens")

    def test_reasoning_refuses_old_api_version(self):
        res = resource("reasoning")
        dep = deployment(res, "reasoning")
        error = self.assert_status_error(openai.BadRequestError, lambda: self.client(res, api_version="2024-10-21").chat.completions.create(
            model=dep["name"], messages=MESSAGES, max_tokens=16), code="BadRequest", status=400)
        self.assertIn("enabled only for api versions 2024-12-01-preview and later", str(error))

    def test_reasoning_max_completion_tokens(self):
        res = resource("reasoning")
        dep = deployment(res, "reasoning")
        raw = self.client(res, api_version=REASONING_API_VERSION).chat.completions.with_raw_response.create(
            model=dep["name"], messages=MESSAGES, max_completion_tokens=256)
        completion = self.assert_chat(raw, dep)
        details = completion.usage.completion_tokens_details
        self.assertIsNotNone(details, "reasoning answers carry usage.completion_tokens_details")
        self.assertIsNotNone(details.reasoning_tokens)

    def test_throttled(self):
        res = resource("throttled")
        error = self.assert_status_error(openai.RateLimitError, lambda: self.client(res).chat.completions.create(
            model=deployment(res, "chat")["name"], messages=MESSAGES), code="429", status=429)
        headers = error.response.headers
        self.assert_headers(headers)
        retry_after = int(headers["retry-after"])
        self.assertGreater(retry_after, 0)
        self.assertIn("retry-after-ms", headers)
        self.assertEqual(float(headers["retry-after-ms"]), retry_after * 1000)
        self.assertIn(f"{retry_after} second", error.message)

    def test_server_error(self):
        res = resource("healthy")
        with resource_changed("healthy", {"serverErrorStatus": 503}, {"serverErrorStatus": None}):
            self.assert_status_error(openai.InternalServerError, lambda: self.client(res).chat.completions.create(
                model=deployment(res, "chat")["name"], messages=MESSAGES), code="ServiceUnavailable", status=503)


class AzureOpenAIWithKey(DataPlane, Checks):
    def client(self, res, **options):
        return azure_client(res, **options)

    def test_wrong_key(self):
        res = resource("healthy")
        self.assert_status_error(openai.AuthenticationError, lambda: azure_client(res, api_key="not-the-key")
                                 .chat.completions.create(model=deployment(res, "chat")["name"], messages=MESSAGES),
                                 code="401", status=401)

    def test_local_auth_disabled_refuses_key(self):
        res = resource("local-auth-disabled")
        self.assert_status_error(openai.PermissionDeniedError, lambda: self.client(res).chat.completions.create(
            model=deployment(res, "chat")["name"], messages=MESSAGES), code="AuthenticationTypeDisabled", status=403)

    def test_no_data_role_key_works(self):
        self.chat("no-data-role")

    def test_propagating_key_works(self):
        self.chat("propagating")

    def test_throttled_retry_honours_retry_after(self):
        res = resource("throttled")
        before = admin_resource("throttled")["requests"]
        started = time.monotonic()
        with self.assertRaises(openai.RateLimitError) as caught:
            self.client(res, max_retries=1).chat.completions.create(
                model=deployment(res, "chat")["name"], messages=MESSAGES)
        elapsed = time.monotonic() - started
        retry_after = float(caught.exception.response.headers["retry-after-ms"]) / 1000
        self.assertGreaterEqual(elapsed, retry_after * 0.95, "the retry came before retry-after-ms")
        self.assertEqual(admin_resource("throttled")["requests"] - before, 2)

    def test_server_error_retried_once(self):
        res = resource("healthy")
        with resource_changed("healthy", {"serverErrorStatus": 500}, {"serverErrorStatus": None}):
            before = admin_resource("healthy")["requests"]
            self.assert_status_error(
                openai.InternalServerError,
                lambda: self.client(res, max_retries=1).chat.completions.create(
                    model=deployment(res, "chat")["name"], messages=MESSAGES),
                code="InternalServerError", status=500)
            self.assertEqual(admin_resource("healthy")["requests"] - before, 2)


class AzureOpenAIWithEntraID(DataPlane, Checks):
    def client(self, res, **options):
        return azure_client(res, provider=token_provider(), **options)

    def test_local_auth_disabled_token_works(self):
        self.chat("local-auth-disabled")

    def test_no_data_role(self):
        res = resource("no-data-role")
        error = self.assert_status_error(openai.AuthenticationError, lambda: self.client(res).chat.completions.create(
            model=deployment(res, "chat")["name"], messages=MESSAGES), code="PermissionDenied", status=401)
        self.assertIn("lacks the required data action", error.message)

    def test_propagating(self):
        # The role takes effect 90 s after the simulator starts: refused before, served after.
        state = admin("GET", "/state")
        object_id = next(app["objectID"] for app in state["applications"]
                         if app["clientID"].lower() == INFO["client_id"].lower())
        propagating = next(item for item in state["resources"] if item["name"] == "propagating")
        roles = [role for role in propagating["roles"] if role["objectID"].lower() == object_id.lower()]
        self.assertTrue(roles, "the app has no (pending) role on propagating")
        if roles[0]["effective"]:
            self.chat("propagating")
        else:
            res = resource("propagating")
            self.assert_status_error(openai.AuthenticationError, lambda: self.client(res).chat.completions.create(
                model=deployment(res, "chat")["name"], messages=MESSAGES), code="PermissionDenied", status=401)

    def test_wrong_audience_token(self):
        res = resource("wrong-audience")
        client = azure_client(res, provider=token_provider(WRONG_SCOPE))
        error = self.assert_status_error(openai.AuthenticationError, lambda: client.chat.completions.create(
            model=deployment(res, "chat")["name"], messages=MESSAGES), status=401)
        self.assertIsNone(error.code, "this 401 has no error object")
        self.assertEqual(error.body.get("statusCode"), 401)
        self.assertIn("audience is incorrect", error.body.get("message", ""))
        self.assertIn("audience is incorrect", error.message)

    def test_wrong_audience_resource_with_right_scope(self):
        self.chat("wrong-audience")


# ---------------------------------------------------------------------------------------------
# the v1 API through the stock OpenAI client


class V1API(Checks):
    def res(self):
        return resource("v1")

    def test_chat_key_as_bearer(self):
        res = self.res()
        dep = deployment(res, "chat")
        raw = v1_client(res, res["api_key"]).chat.completions.with_raw_response.create(
            model=dep["name"], messages=MESSAGES)
        self.assertEqual(raw.http_request.headers.get("authorization"), f"Bearer {res['api_key']}")
        self.assertEqual(raw.http_request.url.path, "/" + res["endpoint"].split("/", 3)[3] + "openai/v1/chat/completions")
        self.assert_chat(raw, dep)

    def test_chat_key_as_api_key_header(self):
        res = self.res()
        dep = deployment(res, "chat")
        raw = v1_client(res, "unused").chat.completions.with_raw_response.create(
            model=dep["name"], messages=MESSAGES,
            extra_headers={"api-key": res["api_key"], "Authorization": openai.Omit()})
        self.assertNotIn("authorization", raw.http_request.headers)
        self.assert_chat(raw, dep)

    def test_chat_entra_token(self):
        res = self.res()
        dep = deployment(res, "chat")
        raw = v1_client(res, token_provider()).chat.completions.with_raw_response.create(
            model=dep["name"], messages=MESSAGES)
        self.assert_chat(raw, dep)

    def test_chat_stream(self):
        res = self.res()
        dep = deployment(res, "chat")
        stream = v1_client(res, res["api_key"]).chat.completions.create(
            model=dep["name"], messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        self.assert_stream(stream, dep)

    def test_embeddings(self):
        res = self.res()
        dep = deployment(res, "embeddings")
        self.assert_embeddings(v1_client(res, res["api_key"]).embeddings.create(model=dep["name"], input="ping"), dep)

    def test_responses(self):
        res = self.res()
        raw = v1_client(res, res["api_key"]).responses.with_raw_response.create(
            model=deployment(res, "chat")["name"], input="ping")
        self.assert_headers(raw.headers)
        self.assert_response(raw.parse())

    def test_responses_stream(self):
        res = self.res()
        stream = v1_client(res, res["api_key"]).responses.create(model=deployment(res, "chat")["name"], input="ping", stream=True)
        self.assert_response_events(list(stream))

    def test_models(self):
        res = self.res()
        models = list(v1_client(res, res["api_key"]).models.list())
        self.assertTrue(models)

    def test_wrong_key(self):
        res = self.res()
        self.assert_status_error(openai.AuthenticationError, lambda: v1_client(res, "not-the-key").chat.completions
                                 .create(model=deployment(res, "chat")["name"], messages=MESSAGES), status=401)


# ---------------------------------------------------------------------------------------------
# Resource Manager, through Microsoft's management SDKs (azure-mgmt-cognitiveservices, -authorization)

OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CHAT_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"


class ResourceManager(Checks):
    """The simulated Resource Manager as the SDKs see it: they deserialize every answer into their
    models and raise their own errors for the failures, so a shape they do not expect fails here."""

    def setUp(self):
        rm = INFO["resource_manager"]
        self.rm = rm
        arguments = dict(credential=secret_credential(), subscription_id=rm["subscription_id"], base_url=rm["endpoint"],
                         credential_scopes=[rm["scope"]], connection_verify=INFO["ca_file"], retry_total=0)
        self.accounts = CognitiveServicesManagementClient(**arguments)
        self.authorization = AuthorizationManagementClient(**arguments)

    def test_get_account(self):
        account = self.accounts.accounts.get(self.rm["resource_group"], "healthy")
        self.assertEqual(account.kind, "OpenAI")
        self.assertEqual(account.name, "healthy")
        self.assertEqual(account.properties.custom_sub_domain_name, "healthy")
        self.assertEqual(account.properties.public_network_access, "Enabled")
        self.assertTrue(account.properties.endpoint.startswith("https://healthy.openai.localhost:"))
        self.assertEqual(account.id, resource("healthy")["arm_id"])

    def test_account_with_local_auth_disabled(self):
        account = self.accounts.accounts.get(self.rm["resource_group"], "local-auth-disabled")
        self.assertTrue(account.properties.disable_local_auth)

    def test_missing_account(self):
        with self.assertRaises(ResourceNotFoundError) as caught:
            self.accounts.accounts.get(self.rm["resource_group"], "no-such-account")
        self.assertEqual(caught.exception.error.code, "ResourceNotFound")

    def test_list_by_resource_group(self):
        names = [a.name for a in self.accounts.accounts.list_by_resource_group(self.rm["discovered_resource_group"])]
        self.assertEqual(names, self.rm["discovered"])

    def test_list_by_subscription_follows_next_link(self):
        # More accounts than a page holds: the SDK's pager follows nextLink to the last one.
        names = [a.name for a in self.accounts.accounts.list()]
        expected = {item["name"] for item in INFO["resources"]} | set(self.rm["discovered"])
        self.assertGreater(len(expected), 5)
        self.assertEqual(sorted(names), sorted(expected))

    def test_deployments(self):
        deployments = {d.name: d for d in self.accounts.deployments.list(self.rm["resource_group"], "healthy")}
        self.assertEqual(deployments["gpt-4o-mini"].properties.model.name, "gpt-4o-mini")
        self.assertEqual(deployments["gpt-4o-mini"].properties.model.format, "OpenAI")
        self.assertEqual(deployments["gpt-4o-mini"].properties.provisioning_state, "Succeeded")

    def test_list_keys_needs_the_action(self):
        keys = self.accounts.accounts.list_keys(self.rm["discovered_resource_group"], self.rm["discovered"][0])
        self.assertTrue(keys.key1)
        # Cognitive Services OpenAI User may read the account but not list its keys.
        with self.assertRaises(HttpResponseError) as caught:
            self.accounts.accounts.list_keys(self.rm["resource_group"], "healthy")
        self.assertEqual(caught.exception.status_code, 403)
        self.assertEqual(caught.exception.error.code, "AuthorizationFailed")
        self.assertIn("'Microsoft.CognitiveServices/accounts/listKeys/action'", caught.exception.message)

    def test_role_assignments_assigned_to(self):
        scope = resource("no-data-role")["arm_id"]
        assignments = list(self.authorization.role_assignments.list_for_scope(scope, filter=f"assignedTo('{INFO['object_id']}')"))
        # Owner at the account, and Reader at the subscription above it.
        by_role = {a.role_definition_id.rsplit("/", 1)[1]: a for a in assignments}
        self.assertEqual(set(by_role), {OWNER, READER})
        self.assertEqual(by_role[OWNER].scope, scope)
        self.assertEqual(by_role[READER].scope, f"/subscriptions/{self.rm['subscription_id']}")
        self.assertTrue(all(a.principal_id == INFO["object_id"] and a.created_on is not None for a in assignments))

    def test_role_definition(self):
        scope = resource("healthy")["arm_id"]
        role = self.authorization.role_definitions.get(scope, OPENAI_USER)
        self.assertEqual(role.role_name, "Cognitive Services OpenAI User")
        self.assertEqual(role.role_type, "BuiltInRole")
        self.assertIn("Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action", role.permissions[0].data_actions)

    def test_permissions_of_the_caller(self):
        permissions = list(self.authorization.permissions.list_for_resource(
            self.rm["resource_group"], "Microsoft.CognitiveServices", "", "accounts", "healthy"))
        self.assertTrue(any(CHAT_ACTION in p.data_actions for p in permissions), permissions)

    def test_data_plane_token_is_refused(self):
        rm = self.rm
        client = CognitiveServicesManagementClient(secret_credential(), rm["subscription_id"], base_url=rm["endpoint"],
                                                   credential_scopes=[SCOPE], connection_verify=INFO["ca_file"], retry_total=0)
        with self.assertRaises(ClientAuthenticationError) as caught:
            client.accounts.get(rm["resource_group"], "healthy")
        self.assertIn("InvalidAuthenticationTokenAudience", str(caught.exception))


class UserAssignedIdentities(Checks):
    """Resource Manager's user-assigned managed identities and their federated credentials as
    azure-mgmt-msi sees them (its default api-version)."""

    def setUp(self):
        rm = INFO["resource_manager"]
        self.identity = rm["user_assigned_identity"]
        self.client = ManagedServiceIdentityClient(
            credential=secret_credential(), subscription_id=rm["subscription_id"], base_url=rm["endpoint"],
            credential_scopes=[rm["scope"]], connection_verify=INFO["ca_file"], retry_total=0)

    def test_get_identity(self):
        identity = self.client.user_assigned_identities.get(self.identity["resource_group"], self.identity["name"])
        self.assertEqual(identity.client_id, self.identity["client_id"])
        self.assertEqual(identity.principal_id, self.identity["principal_id"])
        self.assertEqual(identity.tenant_id, INFO["tenant_id"])

    def test_found_by_client_id_in_the_subscription(self):
        found = [i for i in self.client.user_assigned_identities.list_by_subscription() if i.client_id == self.identity["client_id"]]
        self.assertEqual([i.name for i in found], [self.identity["name"]])

    def test_federated_credentials(self):
        credentials = list(self.client.federated_identity_credentials.list(self.identity["resource_group"], self.identity["name"]))
        self.assertEqual([(c.issuer, c.subject, c.audiences) for c in credentials],
                         [(INFO["federated"]["issuer"], INFO["federated"]["subject"], ["api://AzureADTokenExchange"])])

    def test_missing_identity(self):
        with self.assertRaises(ResourceNotFoundError) as caught:
            self.client.user_assigned_identities.get(self.identity["resource_group"], "no-such-identity")
        self.assertEqual(caught.exception.error.code, "ResourceNotFound")


# ---------------------------------------------------------------------------------------------
# Microsoft Graph, through Microsoft's own SDK (msgraph-sdk), unpatched: only its base URL and
# its HTTP client's CA are the simulator's.


def graph_client(credential):
    import httpx
    from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    auth = AzureIdentityAuthenticationProvider(credential, scopes=["https://graph.microsoft.com/.default"])
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=ssl_context(), timeout=20.0))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = INFO["authority"].rstrip("/") + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def async_secret_credential():
    from azure.identity.aio import ClientSecretCredential
    return ClientSecretCredential(INFO["tenant_id"], INFO["client_id"], INFO["client_secret"], authority=INFO["authority"],
                                  disable_instance_discovery=True, connection_verify=INFO["ca_file"])


class Graph(Checks):
    """The simulated directory as msgraph-sdk sees it: it deserializes every answer into its
    models (an application's passwordCredentials and keyCredentials, a service principal, federated
    identity credentials) and raises ODataError for Graph's errors."""

    def read(self, reads):
        async def run():
            credential = async_secret_credential()
            try:
                return await reads(graph_client(credential))
            finally:
                await credential.close()
        return asyncio.run(run())

    def test_application_by_app_id(self):
        app = self.read(lambda client: client.applications_with_app_id(INFO["client_id"]).get())
        self.assertEqual(app.app_id, INFO["client_id"])
        self.assertEqual([p.hint for p in app.password_credentials], [INFO["client_secret"][:3]])
        self.assertIsNone(app.password_credentials[0].secret_text)
        self.assertGreater(app.password_credentials[0].end_date_time.year, 2025)
        # The demo application's certificate, by its SHA-1 thumbprint (bytes, base64 on the wire).
        self.assertTrue(all(len(k.custom_key_identifier) == 20 for k in app.key_credentials), app.key_credentials)

    def test_service_principal_by_app_id(self):
        principal = self.read(lambda client: client.service_principals_with_app_id(INFO["client_id"]).get())
        self.assertTrue(principal.account_enabled)
        self.assertEqual(principal.id, INFO["object_id"])

    def test_federated_identity_credentials(self):
        async def reads(client):
            app = await client.applications_with_app_id(INFO["client_id"]).get()
            return await client.applications.by_application_id(app.id).federated_identity_credentials.get()
        page = self.read(reads)
        subjects = {(c.issuer, c.subject) for c in page.value}
        self.assertIn((INFO["federated"]["issuer"], INFO["federated"]["subject"]), subjects)
        self.assertEqual(page.value[0].audiences, ["api://AzureADTokenExchange"])

    def test_unknown_application(self):
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError
        with self.assertRaises(ODataError) as caught:
            self.read(lambda client: client.applications_with_app_id(UNKNOWN_TENANT).get())
        self.assertEqual(caught.exception.response_status_code, 404)
        self.assertEqual(caught.exception.error.code, "Request_ResourceNotFound")


# ---------------------------------------------------------------------------------------------
# the wire format of streams, below the clients


class StreamWire(Checks):
    def assert_sse(self, url: str, headers: dict, body: dict):
        status, answer_headers, content = raw_post(url, {**body, "messages": MESSAGES, "stream": True}, headers)
        self.assertEqual(status, 200, content[:500])
        self.assertTrue(answer_headers.get("content-type", "").startswith("text/event-stream"), answer_headers)
        self.assert_headers(answer_headers)
        events = [block for block in content.decode().replace("\r\n", "\n").split("\n\n") if block.strip()]
        self.assertGreaterEqual(len(events), 3)
        self.assertEqual(events[-1].strip(), "data: [DONE]", "the stream must end with data: [DONE]")
        chunks = [json.loads("\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))) for event in events[:-1]]
        # Azure's first event: the prompt's filter results, with empty id, object and model.
        self.assertEqual(chunks[0].get("object"), "")
        self.assertEqual(chunks[0].get("choices"), [])
        self.assertTrue(chunks[0].get("prompt_filter_results"))
        for chunk in chunks[1:]:
            self.assertEqual(chunk.get("object"), "chat.completion.chunk")

    def test_azure_route(self):
        res = resource("healthy")
        dep = deployment(res, "chat")
        url = f"{res['endpoint'].rstrip('/')}/openai/deployments/{dep['name']}/chat/completions?api-version={API_VERSION}"
        self.assert_sse(url, {"api-key": res["api_key"]}, {})

    def test_v1_route(self):
        res = resource("v1")
        url = f"{res['endpoint'].rstrip('/')}/openai/v1/chat/completions"
        self.assert_sse(url, {"Authorization": f"Bearer {res['api_key']}"}, {"model": deployment(res, "chat")["name"]})


# ---------------------------------------------------------------------------------------------


def main() -> None:
    arguments = sys.argv[1:]
    path = arguments.pop(0) if arguments and not arguments[0].startswith("-") else os.environ.get("AOAI_SIM_INFO")
    if not path:
        sys.stderr.write("usage: conformance.py INFO_FILE [unittest options]  (or set AOAI_SIM_INFO)\n")
        sys.exit(2)
    with open(path) as info_file:
        INFO.update(json.load(info_file))
    _clean_environment()
    # azure-identity logs each failed get_token at WARNING; the tests check those failures themselves.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    unittest.main(module=__name__, argv=[sys.argv[0], *arguments])


if __name__ == "__main__":
    main()
