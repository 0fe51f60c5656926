"""TLS to the platform: verification always on, a district CA accepted through ca_file."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers import SECRET, pending

from sync.json_protocol import JsonProtocol
from sync.transport import Transport
from sync.uplink import UplinkWorker


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A district CA and a server certificate for 127.0.0.1 signed by it."""
    folder = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("District test CA"))
        .issuer_name(_name("District test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return folder, context


def test_custom_ca_is_trusted_and_unknown_ca_is_refused(
    tmp_path, pki, make_box, reference_platform
):
    folder, context = pki
    db = make_box(tmp_path / "box.db", 10)
    platform = reference_platform(tls=context)
    assert platform.url.startswith("https://")
    untrusted = JsonProtocol(Transport(platform.url, 2, 2), "b", "hmac", SECRET)
    result = UplinkWorker(db, untrusted).step()
    assert "certificate not trusted" in (result.error or "")
    assert pending(db) == 10 and platform.count() == 0
    trusted = Transport(platform.url, 2, 2, ca_file=folder / "ca.pem")
    UplinkWorker(db, JsonProtocol(trusted, "b", "hmac", SECRET)).step()
    assert pending(db) == 0 and platform.count() == 10
