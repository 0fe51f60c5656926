"""The default protocol: JSON over HTTPS, documented in docs/sync-protocol.md.

Uplink ``POST /api/v1/uplink`` carries a batch of outbox rows keyed by their ULID; the reply
names every key as ``accepted``, ``duplicate`` (the platform already had it — also an
acknowledgement) or ``rejected`` with a reason. Anything else in the reply — a missing key,
an unknown status, a wrong type, a non-JSON body — means we know nothing about the batch,
so every row stays pending and is sent again later (the keys make that harmless).

Downlink ``GET /api/v1/lists/{name}`` with ``If-None-Match`` returns 304 or the whole list
with a new ``ETag``; validation and applying live in :mod:`sync.downlink`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.pii import PiiDecryptError, PiiVault
from edge.store.outbox import OutboxRow, open_sealed
from sync.auth import auth_headers
from sync.protocol import (
    BatchRejectedError,
    BatchResult,
    BatchTooLargeError,
    PlatformUnavailableError,
    load_snapshot,
)
from sync.transport import Transport

log = logging.getLogger(__name__)

UPLINK_PATH = "/api/v1/uplink"
LIST_PATH = "/api/v1/lists/{name}"
ACK_STATUSES = {"accepted", "duplicate"}


def encode_batch(
    device_id: str,
    rows: list[OutboxRow],
    snapshot_dir: Path | None,
    snapshot_max_bytes: int,
    vault: PiiVault | None = None,
) -> bytes:
    """The request body; the payload is embedded as the producer wrote it (no re-encoding),
    except that a sealed personal part is opened with ``vault`` (edge.store.outbox.open_sealed):
    the district receives it in clear inside TLS, the outbox on disk never holds it so.
    Without a vault a sealed row is sent sealed (a box whose sync runs without the key)."""
    items = []
    for row in rows:
        payload = row.payload
        if vault is not None:
            try:
                payload = open_sealed(row, vault)
            except PiiDecryptError:
                raise BatchRejectedError(
                    f"row {row.key}: its sealed personal data does not open with this box's key"
                ) from None
        item = (
            f'{{"key":{json.dumps(row.key)},"topic":{json.dumps(row.topic)},'
            f'"created_at":{json.dumps(row.created_at)},"payload":{payload}'
        )
        if row.topic == "event":
            relative = json.loads(row.payload).get("snapshot_path")
            snap = load_snapshot(snapshot_dir, relative, snapshot_max_bytes)
            if snap is not None:
                item += ',"snapshot":' + json.dumps(
                    {
                        "content_type": "image/jpeg",
                        "data_b64": snap.data_b64,
                        "omitted": snap.omitted,
                    }
                )
        items.append(item + "}")
    return (f'{{"device_id":{json.dumps(device_id)},"items":[' + ",".join(items) + "]}").encode()


def parse_uplink_reply(body: bytes, keys: list[str]) -> BatchResult:
    """Per-key outcome from a 200 reply; raises PlatformUnavailableError if it is not usable."""
    try:
        doc = json.loads(body)
        results = doc["results"]
        if not isinstance(results, list):
            raise TypeError("results is not a list")
        outcome: BatchResult = {}
        for entry in results:
            key, status = entry["key"], entry["status"]
            if not isinstance(key, str) or status not in ACK_STATUSES | {"rejected"}:
                raise ValueError(f"bad result entry for key {key!r}")
            reason = entry.get("reason") or "rejected by the platform (no reason given)"
            outcome[key] = None if status in ACK_STATUSES else str(reason)[:500]
    except (ValueError, TypeError, KeyError) as exc:
        raise PlatformUnavailableError(f"unusable uplink reply: {exc}"[:300]) from None
    missing = set(keys) - outcome.keys()
    if missing:
        raise PlatformUnavailableError(f"uplink reply lacks {len(missing)} of the sent keys")
    return {key: outcome[key] for key in keys}


def _error_text(body: bytes) -> str:
    try:
        doc = json.loads(body)
        return str(doc.get("error", doc))[:500] if isinstance(doc, dict) else str(doc)[:500]
    except ValueError:
        return body[:200].decode("utf-8", "replace")


@dataclass
class ListReply:
    changed: bool
    etag: str | None = None
    document: Any = None


class JsonProtocol:
    """The box's side of the JSON protocol over one :class:`Transport`."""

    def __init__(
        self,
        transport: Transport,
        device_id: str,
        auth_mode: str,
        secret: bytes,
        snapshot_dir: Path | None = None,
        snapshot_max_bytes: int = 256 * 1024,
        vault: PiiVault | None = None,
        max_request_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.vault = vault
        self.max_request_bytes = max_request_bytes
        self.transport = transport
        self.device_id = device_id
        self.auth_mode = auth_mode
        self.secret = secret
        self.snapshot_dir = snapshot_dir
        self.snapshot_max_bytes = snapshot_max_bytes

    def _request(self, method: str, path: str, body: bytes, extra: dict[str, str] | None = None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        full_path = self.transport.prefix + path
        headers.update(
            auth_headers(self.auth_mode, self.secret, self.device_id, method, full_path, body)
        )
        headers.update(extra or {})
        return self.transport.request(method, path, body or None, headers)

    def send(self, rows: list[OutboxRow]) -> BatchResult:
        body = encode_batch(
            self.device_id, rows, self.snapshot_dir, self.snapshot_max_bytes, self.vault
        )
        if len(body) > self.max_request_bytes:  # a batch of big snapshots: send it in parts
            raise BatchTooLargeError(
                f"{len(body)} bytes is over the {self.max_request_bytes} a request may carry"
            )
        reply = self._request("POST", UPLINK_PATH, body)
        if reply.status == 200:
            return parse_uplink_reply(reply.body, [row.key for row in rows])
        if reply.status == 413:  # the platform's own limit is lower than ours
            raise BatchTooLargeError(f"HTTP 413: {_error_text(reply.body)}")
        if reply.status in (400, 422):
            raise BatchRejectedError(_error_text(reply.body))
        raise PlatformUnavailableError(f"HTTP {reply.status}: {_error_text(reply.body)}"[:300])

    def fetch_list(self, name: str, etag: str | None) -> ListReply:
        """One downlink list; 304 = unchanged. The document is returned unvalidated."""
        extra = {"If-None-Match": etag} if etag else {}
        reply = self._request("GET", LIST_PATH.format(name=name), b"", extra)
        if reply.status == 304:
            return ListReply(changed=False, etag=etag)
        if reply.status != 200:
            raise PlatformUnavailableError(f"HTTP {reply.status}: {_error_text(reply.body)}"[:300])
        try:
            document = json.loads(reply.body)
        except ValueError as exc:
            raise PlatformUnavailableError(f"list {name} is not JSON: {exc}"[:300]) from None
        return ListReply(changed=True, etag=reply.headers.get("etag"), document=document)

    def tick(self) -> None:
        """Nothing periodic: every request authenticates itself."""

    def close(self) -> None:
        self.transport.close()
