"""Amazon SNS messages: their signatures checked, their subscriptions confirmed.

A message is signed (RSA, SHA1 for SignatureVersion 1 and SHA256 for 2) over its fields in the
order SNS documents; the certificate comes from SigningCertURL, which must be https on an
`sns.<region>.amazonaws.com` host, and is kept in memory once fetched. SNS_CERTIFICATES (set by
the app's own configuration, never the environment) seeds that cache with certificates by URL,
as the tests do: it cannot widen which URLs are accepted.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import urllib.request
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import current_app

log = logging.getLogger(__name__)

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]
OPTIONAL = {"Subject"}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
TIMEOUT = 5  # seconds
MAX_CERTIFICATE_BYTES = 64 * 1024


class Refused(ValueError):
    """The message is not one SNS signed, or names a URL that is not SNS's."""


def aws_url(url: object, suffix: str = "") -> str:
    """The URL if it is https on an SNS host (and its path ends with `suffix`), else Refused."""
    parts = urlsplit(url if isinstance(url, str) else "")
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not SNS_HOST.fullmatch(host) or parts.port not in (None, 443):
        raise Refused("The URL is not https on an sns.<region>.amazonaws.com host.")
    if not parts.path.endswith(suffix):
        raise Refused("The URL does not name a certificate.")
    return str(url)


def verify(message: dict[str, object]) -> None:
    """Return if SNS signed this message; raise Refused otherwise."""
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    if fields is None or algorithm is None:
        raise Refused("Not an SNS message of a known type and signature version.")
    signed = ""
    for name in fields:
        value = message.get(name)
        if value is None and name in OPTIONAL:
            continue
        if not isinstance(value, str):
            raise Refused(f"The message has no {name}.")
        signed += f"{name}\n{value}\n"
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("The signature is not base64.") from None
    key = certificate(aws_url(message.get("SigningCertURL"), ".pem")).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused("The signing certificate holds no RSA key.")
    try:
        key.verify(signature, signed.encode(), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise Refused("The signature does not match.") from None


def certificate(url: str) -> x509.Certificate:
    """The signing certificate at an SNS URL, fetched once per process."""
    cache = current_app.extensions.setdefault("updates.sns-certificates", {})
    if url not in cache:
        pem = current_app.config.get("SNS_CERTIFICATES", {}).get(url) or _fetch(url)
        try:
            cache[url] = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise Refused("The signing certificate could not be read.") from None
    return cache[url]


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(aws_url(url), timeout=TIMEOUT) as response:
            return response.read(MAX_CERTIFICATE_BYTES)
    except OSError as error:
        raise Refused(f"The signing certificate could not be fetched: {error}") from None


def confirm(subscribe_url: object) -> bool:
    """Confirm a subscription by visiting its SubscribeURL; False if that could not be done."""
    url = aws_url(subscribe_url)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT):
            return True
    except OSError as error:
        log.warning("could not confirm the SNS subscription: %s", error)
        return False
