"""Install Menwei on a box: user, folders, config, PII key, TLS certificate, systemd units.

Everything is written under ``root`` (``/`` on a box; a staging folder in tests and for
image builds), and every step is idempotent: running the installer again after an upgrade
re-renders the units but never replaces an existing config, key or certificate, because
replacing the PII key would make every stored ID number unreadable.
"""

from __future__ import annotations

import datetime as dt
import grp
import ipaddress
import logging
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import MenweiConfig, load_config
from edge.config.example import render_example
from edge.errors import Phrase
from edge.files import write_durably
from edge.pii import PiiKeyError, create_key_file
from edge.store.open import RESTORE_KEY, holds_sealed_data

log = logging.getLogger(__name__)

UNIT_DIR = Path(__file__).resolve().parents[2] / "systemd"
NGINX = Path("/usr/sbin/nginx")  # Debian's nginx, the HTTPS front (edge.web.front)
UNITS = (
    "menwei-gate@.service",
    "menwei-web.service",
    "menwei-front.service",
    "menwei-sync.service",
    "menwei-hub.service",
    "menwei-hub-link.service",
    "menwei-retention.service",
    "menwei-retention.timer",
    "menwei-audit.service",
    "menwei-audit.timer",
    "menwei.target",
)
SERVICE_USER = "menwei"


@dataclass(frozen=True)
class InstallPlan:
    root: Path = Path("/")
    config_path: Path = Path("/etc/menwei/menwei.toml")
    data_dir: Path = Path("/var/lib/menwei")
    tls_dir: Path = Path("/etc/menwei/tls")
    unit_dir: Path = Path("/etc/systemd/system")
    menwei_executable: Path = field(
        default_factory=lambda: Path(shutil.which("menwei") or "menwei")
    )
    create_user: bool = True
    run_systemctl: bool = True

    def at(self, path: Path) -> Path:
        """``path`` inside the install root."""
        return self.root / path.relative_to("/")


def _installed_menwei() -> Path:
    """The console script of the running installation (units must call the same one)."""
    return Path(shutil.which("menwei") or "/opt/menwei/.venv/bin/menwei")


def render_unit(name: str, plan: InstallPlan) -> str:
    """A unit file with the box's paths filled in and the shared hardening block inlined."""
    text = (UNIT_DIR / name).read_text(encoding="utf-8")
    hardening = (UNIT_DIR / "hardening.conf").read_text(encoding="utf-8").strip()
    return (
        text.replace("@HARDENING@", hardening)
        .replace("@MENWEI@", str(plan.menwei_executable))
        .replace("@CONFIG@", str(plan.config_path))
        .replace("@DATA_DIR@", str(plan.data_dir))
        .replace("@NGINX@", str(NGINX))
    )


def _ensure_user(plan: InstallPlan) -> None:
    if not plan.create_user:
        return
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--home-dir",
                str(plan.data_dir),
                "--shell",
                "/usr/sbin/nologin",
                "--user-group",
                SERVICE_USER,
            ],
            check=True,
        )
    for group in ("gpio", "video"):
        try:
            grp.getgrnam(group)
        except KeyError:
            continue  # not a Pi (no gpio group): nothing to join
        subprocess.run(["usermod", "-aG", group, SERVICE_USER], check=True)


def _chown_service(path: Path, plan: InstallPlan) -> None:
    if not plan.create_user:
        return
    entry = pwd.getpwnam(SERVICE_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _write_config(plan: InstallPlan) -> bool:
    target = plan.at(plan.config_path)
    if target.exists():
        return False
    tls = plan.tls_dir
    example = render_example(
        {
            "storage": {"data_dir": str(plan.data_dir)},
            "security": {
                "pii_key_file": str(plan.config_path.parent / "pii.key"),
                "audit_key_file": str(plan.config_path.parent / "audit.key"),
            },
            # The consoles on the LAN through the HTTPS front, with the certificate below.
            "web": {"tls_certificate": str(tls / "cert.pem"), "tls_key": str(tls / "key.pem")},
        }
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example, encoding="utf-8")
    os.chmod(target, 0o640)
    return True


def write_self_signed_certificate(cert_path: Path, key_path: Path, hostname: str) -> None:
    """A 10-year self-signed certificate so the consoles start on HTTPS at once.

    Secure session cookies need HTTPS; a site with its own CA replaces these two files.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    alt_names: list[x509.GeneralName] = [
        x509.DNSName(hostname),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        handle.flush()
        os.fsync(handle.fileno())
    write_durably(cert_path, certificate.public_bytes(serialization.Encoding.PEM))


def _install_front_package() -> list[str]:
    """nginx from Debian's packages for the HTTPS front; Debian's own nginx.service (which
    would take the same ports with its default site) is stopped and disabled."""
    done: list[str] = []
    if shutil.which("nginx") is None and not NGINX.exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True, env=env)
        done.append(Phrase("installed nginx (Debian package) for the HTTPS front"))
    subprocess.run(["systemctl", "disable", "--now", "nginx.service"], check=False)
    done.append(Phrase("menwei-front (nginx) serves HTTPS; Debian's nginx.service is disabled"))
    return done


def install(plan: InstallPlan) -> list[str]:
    """Carry out the plan; returns what was done, one line each, for the operator."""
    done: list[str] = []
    _ensure_user(plan)
    data_dir = plan.at(plan.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o750)
    _chown_service(data_dir, plan)
    done.append(Phrase("data folder %(path)s", path=plan.data_dir))
    if _write_config(plan):
        done.append(
            Phrase("config %(path)s (from the example: edit gates, camera, pins)",
                   path=plan.config_path)
        )  # fmt: skip
    config: MenweiConfig = load_config(plan.at(plan.config_path))
    key = plan.at(config.security.pii_key_file)
    if not key.exists():
        database = plan.at(config.storage.database_path)
        if holds_sealed_data(database):  # a lost key: a new one could never read that data
            raise PiiKeyError(RESTORE_KEY, {"path": key, "database": database})
        create_key_file(key)
        _chown_service(key, plan)
        done.append(Phrase("PII key %(path)s (0600; back it up separately)",
                           path=config.security.pii_key_file))  # fmt: skip
    audit_key = plan.at(config.security.audit_key_path)
    if not audit_key.exists():
        create_key_file(audit_key)
        _chown_service(audit_key, plan)
        done.append(Phrase("audit key %(path)s (0600; back it up separately)",
                           path=config.security.audit_key_path))  # fmt: skip
    cert, tls_key = plan.at(plan.tls_dir / "cert.pem"), plan.at(plan.tls_dir / "key.pem")
    if not cert.exists():  # root's: read by the front's master process, never by menwei
        write_self_signed_certificate(cert, tls_key, socket.gethostname())
        done.append(Phrase("self-signed TLS certificate in %(path)s", path=plan.tls_dir))
    unit_dir = plan.at(plan.unit_dir)
    unit_dir.mkdir(parents=True, exist_ok=True)
    for name in UNITS:
        (unit_dir / name).write_text(render_unit(name, plan), encoding="utf-8")
    done.append(Phrase("systemd units in %(path)s", path=plan.unit_dir))
    gates = [f"menwei-gate@{gate.id}.service" for gate in config.gates]
    gates += {"hub": ["menwei-hub.service"], "gate": ["menwei-hub-link.service"]}.get(
        config.community.role, []
    )
    if plan.run_systemctl:
        done.extend(_install_front_package())
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        timers = ["menwei-retention.timer", "menwei-audit.timer"]
        subprocess.run(["systemctl", "enable", "menwei.target", *timers, *gates], check=True)
        if gates:
            done.append(Phrase("enabled menwei.target and %(units)s", units=", ".join(gates)))
        else:
            done.append(Phrase("enabled menwei.target and no gates yet"))
    return done
