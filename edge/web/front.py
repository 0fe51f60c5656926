"""The HTTPS front: nginx (Debian's package) between the LAN and ``menwei web``.

Why a front at all: cheroot's built-in TLS does the handshake in its one accept loop — six
idle TCP connections freeze every page, the guards' manual open and ``/healthz`` for a
minute, and systemd restarts the service over and over. Plain waitress stops at 100 slow
connections. nginx is built for hostile clients: one event loop holds thousands of idle
sockets for a few hundred bytes each, a client must finish its TLS handshake and request
header within ``client_timeout_s`` (the header timeout counts from the first byte, so
trickling one byte at a time does not reset it), bodies are read whole before the app sees
them, and connections per address with a request in flight and login posts per address are
capped. waitress stays on loopback and only ever sees complete requests from nginx.

The config is rendered from the box's TOML by ``menwei front-config`` each time the
``menwei-front`` unit starts, so the ports, certificate and limits in
``/etc/menwei/menwei.toml`` are the only place to change them. Tests run the same rendered
file with their own ports and folders (``FrontPaths``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edge.box.install import NGINX
from edge.config import MenweiConfig
from edge.errors import UserError
from edge.web.console.forms import UPLOAD_LIMIT_BYTES

DEFAULT_RUNTIME_DIR = Path("/run/menwei-front")
DEFAULT_STATE_DIR = Path("/var/lib/menwei-front")

# Mozilla's "intermediate" TLS profile (TLS 1.2 with AEAD ciphers and TLS 1.3): every
# tablet and phone browser of the last several years, nothing with known weaknesses.
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


class FrontError(UserError):
    """The front cannot be configured (no TLS certificate set, nginx missing)."""

    code = "front"


@dataclass(frozen=True)
class FrontPaths:
    """Where the running nginx keeps its pid and temporary files, and as whom it works."""

    runtime_dir: Path = DEFAULT_RUNTIME_DIR
    state_dir: Path = DEFAULT_STATE_DIR
    worker_user: str = "www-data"


def nginx_binary() -> Path:
    found = shutil.which("nginx") or (str(NGINX) if NGINX.exists() else None)
    if found is None:
        raise FrontError("nginx is not installed (sudo apt-get install nginx)")
    return Path(found)


def render(config: MenweiConfig, paths: FrontPaths = FrontPaths()) -> str:
    """The whole nginx.conf for this box (FrontError when TLS is not configured)."""
    web = config.web
    front = web.front
    if web.tls_certificate is None or web.tls_key is None:
        raise FrontError("[web] tls_certificate and tls_key are needed for the HTTPS front")
    upstream_host = "127.0.0.1" if web.host in ("localhost", "0.0.0.0") else web.host
    upstream = f"[{upstream_host}]" if ":" in upstream_host else upstream_host
    timeout = front.client_timeout_s
    body_mb = UPLOAD_LIMIT_BYTES // (1024 * 1024) + 1
    listen = [front.address] if front.address != "0.0.0.0" else ["0.0.0.0", "[::]"]
    https_listen = "\n".join(f"        listen {a}:{front.https_port} ssl;" for a in listen)
    http_server = ""
    if front.http_port:
        http_listen = "\n".join(f"        listen {a}:{front.http_port};" for a in listen)
        http_server = f"""
    # Plain HTTP only sends browsers (and QR stickers printed with http://) to HTTPS.
    server {{
{http_listen}
        server_name _;
        client_header_timeout {timeout}s;
        keepalive_timeout 0;
        location / {{
            return 301 https://$host:{front.https_port}$request_uri;
        }}
    }}
"""
    hsts = f"max-age={front.hsts_max_age_s}"
    return f"""# Rendered by `menwei front-config` from menwei.toml: edit that, not this.
user {paths.worker_user};
worker_processes auto;
worker_rlimit_nofile {front.worker_connections * 2};
pid {paths.runtime_dir / "nginx.pid"};
error_log stderr warn;
events {{
    worker_connections {front.worker_connections};
}}
http {{
    access_log off;             # the app audits what matters; URLs carry room tokens
    server_tokens off;
    default_type application/octet-stream;
    client_body_temp_path {paths.state_dir / "body"};
    proxy_temp_path {paths.state_dir / "proxy"};
    fastcgi_temp_path {paths.state_dir / "fastcgi"};
    uwsgi_temp_path {paths.state_dir / "uwsgi"};
    scgi_temp_path {paths.state_dir / "scgi"};

    # Hostile clients: finish the TLS handshake and the request header within {timeout} s
    # (counted from the first byte), keep the body moving, and never hold a socket idle long.
    client_header_timeout {timeout}s;
    client_body_timeout {timeout}s;
    send_timeout {timeout}s;
    keepalive_timeout {front.keepalive_timeout_s}s;
    keepalive_requests 1000;
    reset_timedout_connection on;
    client_header_buffer_size 1k;
    large_client_header_buffers 4 8k;
    client_max_body_size {body_mb}m;

    limit_conn_zone $binary_remote_addr zone=per_address:10m;
    limit_conn per_address {front.max_connections_per_address};
    limit_conn_status 429;
    map $request_method $login_post {{ POST $binary_remote_addr; default ""; }}
    limit_req_zone $login_post zone=login:10m rate={front.login_posts_per_minute}r/m;
    limit_req_status 429;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {CIPHERS};
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:menwei_tls:4m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;

    upstream menwei_web {{
        server {upstream}:{web.port} max_fails=0;
        keepalive 8;
    }}

    server {{
{https_listen}
        server_name _;
        ssl_certificate {web.tls_certificate};
        ssl_certificate_key {web.tls_key};
        add_header Strict-Transport-Security "{hsts}" always;
        proxy_hide_header Strict-Transport-Security;  # the app's own, sent once by the front

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        # Overwrite, never append: a client cannot choose the address the limits see.
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto https;
        proxy_connect_timeout 5s;
        proxy_send_timeout 60s;
        proxy_read_timeout 60s;
        proxy_request_buffering on;
        proxy_buffering on;

        location = /login {{
            limit_req zone=login burst={front.login_posts_per_minute} nodelay;
            proxy_pass http://menwei_web;
        }}
        location / {{
            proxy_pass http://menwei_web;
        }}
    }}
{http_server}}}
"""


def write(config: MenweiConfig, output: Path, paths: FrontPaths = FrontPaths()) -> None:
    """Render into ``output`` (atomically) and create the folders nginx needs."""
    text = render(config, paths)
    for folder in (paths.runtime_dir, paths.state_dir):
        folder.mkdir(parents=True, exist_ok=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(output)
