"""Email addresses and IP addresses: validation, the case-folded identity, and minimisation."""

from __future__ import annotations

import hashlib
import ipaddress

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 254


class InvalidAddress(ValueError):
    """The text is not an email address we can send to."""


def normalise_address(raw: str, check_dns: bool = False) -> str:
    """Return the address with its domain normalised, or raise InvalidAddress."""
    text = raw.strip()
    if not text:
        raise InvalidAddress("Enter your email address.")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("That email address is too long.")
    try:
        result = validate_email(
            text, check_deliverability=check_dns, allow_smtputf8=False, allow_display_name=False
        )
    except EmailNotValidError as error:
        raise InvalidAddress(f"Enter a valid email address. {error}") from error
    return result.normalized


def address_key(address: str) -> str:
    """The identity of an address: addresses are compared case-insensitively."""
    return address.strip().lower()


def address_hash(address: str) -> str:
    """The form in which an erased address stays on the suppression list."""
    return hashlib.sha256(address_key(address).encode()).hexdigest()


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
