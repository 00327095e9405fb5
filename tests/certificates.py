"""Self-signed certificates for the tests' own servers and signers, made with `cryptography`."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

LOOPBACK = ("localhost", "127.0.0.1")


def self_signed(
    key: CertificateIssuerPrivateKeyTypes, common_name: str, hosts: tuple[str, ...] = ()
) -> bytes:
    """A certificate for `key`, signed by it, valid for a day and naming `hosts` (host names
    or IP addresses), in PEM; it is its own trust anchor."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if hosts:
        names = [_general_name(host) for host in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def loopback_tls_files(folder: Path) -> tuple[Path, Path]:
    """cert.pem and key.pem in `folder`, for a TLS server on localhost and 127.0.0.1; a client
    trusts it by taking cert.pem as its CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate, private = folder / "cert.pem", folder / "key.pem"
    certificate.write_bytes(self_signed(key, "localhost", LOOPBACK))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate, private


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
