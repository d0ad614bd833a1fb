"""Schemathesis hooks for the server's conformance test (tests/server/conformance.rs).

The Rust test starts the real server, enrols devices, gives them data, and writes a JSON file
named by VIGIL_CONFORMANCE: the server's URL, the device to sign as, the path of that device's
Ed25519 key (PKCS#8 DER), and ids that exist on the server. Schemathesis
loads this module through SCHEMATHESIS_HOOKS.

Every request is signed as a device signs it (vigil_ledger::http_sig, RFC 9421 in Vigil's strict
profile, with an RFC 9530 Content-Digest), by a `requests` auth object: it runs on the prepared
request, so the signature covers exactly the method, path, query and body bytes that are sent.

`python vigil_hooks.py CONFIG` checks the signer alone: a signed GET and a signed POST must be
accepted, and the same GET with one byte of the path changed must be refused. The Rust test runs
it before schemathesis, so a broken signer (every request refused with a documented 401) cannot
pass for a clean run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_der_private_key

# The covered components, exactly as vigil_ledger::http_sig::COMPONENTS writes them.
COMPONENTS = '("@method" "@path" "@query" "content-digest")'


def content_digest(body: bytes) -> str:
    """RFC 9530 `Content-Digest` with SHA-256, as the server computes it."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_base(method: str, path: str, query: str, digest: str, params: str) -> bytes:
    """RFC 9421's signature base for Vigil's profile (vigil_ledger::http_sig::signature_base)."""
    return (
        f'"@method": {method.upper()}\n'
        f'"@path": {path}\n'
        f'"@query": ?{query}\n'
        f'"content-digest": {digest}\n'
        f'"@signature-params": {params}'
    ).encode()


class VigilSignature(requests.auth.AuthBase):
    """Signs a prepared request as device `keyid` with its Ed25519 key."""

    def __init__(self, keyid: str, key: Ed25519PrivateKey) -> None:
        self.keyid = keyid
        self.key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            # http.client would encode a text body itself; sign and send the same bytes.
            body = body.encode("utf-8")
            r.body = body
            r.prepare_content_length(body)
        elif not isinstance(body, bytes):
            raise TypeError(f"cannot sign a streamed body ({type(body).__name__})")
        # The request line as sent: requests has already percent-encoded the URL.
        path_url = r.path_url
        path, _, query = path_url.partition("?")
        digest = content_digest(body)
        params = (
            f"{COMPONENTS};created={int(time.time())};nonce=\"{secrets.token_urlsafe(24)}\";"
            f'keyid="{self.keyid}";alg="ed25519"'
        )
        method = r.method or "GET"
        signature = self.key.sign(signature_base(method, path, query, digest, params))
        r.headers["Content-Digest"] = digest
        r.headers["Signature-Input"] = f"sig1={params}"
        r.headers["Signature"] = "sig1=:" + base64.b64encode(signature).decode() + ":"
        return r


def load_config() -> dict:
    return json.loads(Path(os.environ["VIGIL_CONFORMANCE"]).read_text())


def signer(config: dict) -> VigilSignature:
    key = load_der_private_key(Path(config["key_file"]).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("the device key is not an Ed25519 key")
    return VigilSignature(config["device"], key)


def self_check(config: dict) -> None:
    """A signed GET and a signed POST are accepted; a request whose path differs from what was
    signed is refused."""
    auth = signer(config)
    url = config["url"]
    feed = requests.get(f"{url}/v1/feed?since=0&limit=5", auth=auth, timeout=10)
    assert feed.status_code == 200, f"signed GET /v1/feed: {feed.status_code} {feed.text}"
    assert feed.json()["items"], f"the feed should hold the test's items: {feed.text}"
    body = json.dumps({"items": config["items"][:1]}).encode()
    ack = requests.post(f"{url}/v1/acks", data=body, auth=auth, timeout=10)
    assert ack.status_code == 200, f"signed POST /v1/acks: {ack.status_code} {ack.text}"
    prepared = requests.Request("GET", f"{url}/v1/feed?since=0").prepare()
    auth(prepared)
    prepared.url = f"{url}/v1/feed?since=1"
    forged = requests.Session().send(prepared, timeout=10)
    assert forged.status_code == 401, f"a changed query was accepted: {forged.status_code}"
    assert forged.json()["code"] == "bad_signature", forged.text
    print(f"signer accepted: GET /v1/feed {feed.status_code}, POST /v1/acks {ack.status_code}; "
          f"changed query refused: {forged.status_code} {forged.json()['code']}")


if __name__ == "__main__":
    os.environ.setdefault("VIGIL_CONFORMANCE", sys.argv[1])
    self_check(load_config())
    sys.exit(0)

import schemathesis  # noqa: E402  (not needed by the self-check above)
from hypothesis import strategies as st  # noqa: E402

CONFIG = load_config()
schemathesis.auth.set_from_requests(signer(CONFIG))


@schemathesis.serializer("application/offset+octet-stream")
def offset_octet_stream(ctx: schemathesis.SerializationContext, value: object) -> dict:
    """A tus part: raw bytes (what schemathesis generates for `format: binary`, or text)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        value = json.dumps(value).encode()
    return {"data": value}


@schemathesis.hook
def flatmap_path_parameters(ctx: schemathesis.HookContext, path_parameters: dict | None):
    """Half the time, an `{id}` the server holds (a complete attachment, an open upload),
    so that the blob download and the tus HEAD and PATCH answer with content, not only 404."""
    if not path_parameters or "id" not in path_parameters:
        return st.just(path_parameters)
    known = [{**path_parameters, "id": i} for i in CONFIG["uploads"]]
    return st.sampled_from([path_parameters, *known])


@schemathesis.hook
def flatmap_headers(ctx: schemathesis.HookContext, headers: dict | None):
    """Half the time, the tus version the server speaks, so that uploads get past it."""
    if not headers or "Tus-Resumable" not in headers:
        return st.just(headers)
    return st.sampled_from([headers, {**headers, "Tus-Resumable": "1.0.0"}])
