"""Email addresses and IP addresses: validation, the identity (domain in ASCII, case-folded),
the wire form, and minimisation."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable

from email_validator import (
    SPECIAL_USE_DOMAIN_NAMES,
    EmailNotValidError,
    ValidatedEmail,
    validate_email,
)
from flask import current_app

MAX_ADDRESS_LENGTH = 254
# The plain ASCII address most lists are made of, which email-validator would take unchanged but
# for the domain's case: a dot-atom local part and letter-digit-hyphen labels under an alphabetic
# top-level domain. Anything else (international, quoted, punycode, odd) takes the full check.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")


class InvalidAddress(ValueError):
    """The text is not an email address we can send to."""


def normalise_address(raw: str, check_dns: bool = False) -> str:
    """The address as it is stored and sent: its domain in ASCII (IDNA), or raise InvalidAddress.

    The local part may be international (it then needs a relay that offers SMTPUTF8); the domain
    never needs one, so `user@bücher.de` becomes `user@xn--bcher-kva.de`, and full-width or
    punycode spellings of a domain become the one spelling.
    """
    text = raw.strip()
    if not text:
        raise InvalidAddress("Enter your email address.")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("That email address is too long.")
    if not check_dns and (plain := plain_address(text)):
        return plain
    try:
        result = _validated(text, check_dns)
    except EmailNotValidError as error:
        raise InvalidAddress(f"Enter a valid email address. {error}") from error
    return f"{result.local_part}@{result.ascii_domain}"


def plain_address(text: str) -> str | None:
    """The normal form of a plain ASCII address, found without email-validator's full parse
    (a tenth of the time, which an import of a million rows notices); None for any other."""
    match = _PLAIN.fullmatch(text)
    if match is None:
        return None
    local, domain = match.group(1), match.group(2).lower()
    if len(local) > 64 or "--" in domain:
        return None  # too long for SMTP; a label like "xn--" is IDNA's to judge
    suffix, dot = domain, "."
    while dot:  # the domain and each of its parents; a list of a few names, read each time
        if suffix in SPECIAL_USE_DOMAIN_NAMES:
            return None
        _, dot, suffix = suffix.partition(".")
    return f"{local}@{domain}"


def _validated(text: str, check_dns: bool = False) -> ValidatedEmail:
    return validate_email(
        text, check_deliverability=check_dns, allow_smtputf8=True, allow_display_name=False
    )


def ascii_domain(address: str) -> str:
    """The address with its domain in ASCII, as it goes on the wire; as given if unreadable."""
    text = address.strip()
    if text.isascii():
        return text
    try:
        result = _validated(text)
    except EmailNotValidError:
        return text
    return f"{result.local_part}@{result.ascii_domain}"


def address_key(address: str) -> str:
    """The identity of an address: its domain in ASCII, the whole compared case-insensitively.

    Raw input gives the same key as its normalised form, so a rate limit keyed on it cannot be
    dodged with another spelling of the domain.
    """
    return ascii_domain(address).lower()


def address_hash(address: str) -> str:
    """The form in which an address stays on the suppression list: HMAC-SHA256 under
    SUPPRESSION_KEY, so the database alone cannot tell whether a guessed address is on it."""
    return key_hasher()(address_key(address))


def key_hasher() -> Callable[[str], str]:
    """`address_hash` for an address key already made, read once for a million of them."""
    secret = current_app.config["SUPPRESSION_KEY"].encode()
    sha256, digest = hashlib.sha256, hmac.digest

    def hashed(key: str) -> str:
        # Keyed over the plain SHA-256 that rows held before (migration 0008), so those rows
        # were rehashed in place and every row has this one form.
        return digest(secret, sha256(key.encode()).hexdigest().encode(), "sha256").hex()

    return hashed


def truncate_ip(raw: str | None) -> str | None:
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6."""
    if not raw:
        return None
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
