"""Police name search over encrypted names: the cost of decrypting every candidate row.

Names are AES-GCM ciphertext (qr_registry.registrations.person_enc), so a substring search
decrypts the names of the rows the other filters leave. This measures ``search()`` for a
name (the worst case: every row decrypted), an exact document search (keyed hash, index)
and the landlord's list, at N registrations in a real SQLite file. Baseline in the same
run: the same query without the name filter (rows listed, up to the page's 500).

    .venv/bin/python bench/registry_search.py [--rows 1000 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.db import connect, transaction
from edge.pii import PiiVault
from edge.web.accounts import create_user
from qr_registry.documents import check_char
from qr_registry.form import TenantForm
from qr_registry.registrations import Limits, submit
from qr_registry.rooms import add_room
from qr_registry.search import Filters, search

ZONE = ZoneInfo("Asia/Shanghai")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def form(n: int) -> TenantForm:
    born = date(1960, 1, 1) + timedelta(days=n // 1000)
    first17 = f"320102{born:%Y%m%d}{n % 1000:03d}"
    return TenantForm(
        name=SURNAMES[n % len(SURNAMES)] + "测试" + str(n % 97), doc_type="resident_id",
        doc_number=first17 + check_char(first17), sex="M" if n % 2 else "F", birth_date=born,
        nationality="CHN", ethnicity="汉族", phone=f"+86138{n:08d}",
        hukou_address="江苏省南京市玄武区某路1号", occupation="工程师", relation="tenant",
        move_in_date=date(2025, 5, 1), expected_until=date(2026, 5, 1), co_residents=(),
    )  # fmt: skip


def timed(func, repeat: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")), platform.processor(),
    )  # fmt: skip
    print(f"machine: {cpu}, {len(os.sched_getaffinity(0))} cores; load {os.getloadavg()}")
    vault = PiiVault(os.urandom(32))
    now = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            db = connect(Path(tmp) / "menwei.db")
            with transaction(db) as conn:
                landlord = create_user(conn, "bench", "bench-password-1", "landlord", now).id
                rooms = [add_room(conn, "压测小区", f"{b}幢", "1单元", f"{r}", landlord, now)
                         for b in range(1, 11) for r in range(101, 201)]  # fmt: skip
            start = time.perf_counter()
            with transaction(db):  # one transaction: filling is not what is measured
                for n in range(rows):
                    room = rooms[n % len(rooms)]
                    submit(db, vault, room, form(n), now, 72, "v1", limits=Limits(10**6, 10**6))
            fill = time.perf_counter() - start
            name = Filters(name="王测")
            exact = Filters(doc_number=form(rows // 2).doc_number)
            p50, worst = timed(lambda: search(db.conn, vault, name, now, ZONE))  # noqa: B023
            b50, bworst = timed(lambda: search(db.conn, vault, Filters(), now, ZONE))  # noqa: B023
            e50, eworst = timed(lambda: search(db.conn, vault, exact, now, ZONE))  # noqa: B023
            found = len(search(db.conn, vault, name, now, ZONE)[0])
            print(
                f"{rows:6d} registrations (filled in {fill:5.1f} s): name search p50 {p50:7.1f} ms"
                f" max {worst:7.1f} ms ({found} shown) | no filter p50 {b50:6.1f} ms"
                f" max {bworst:6.1f} ms | exact document p50 {e50:5.1f} ms max {eworst:5.1f} ms"
            )
            db.conn.close()


if __name__ == "__main__":
    main()
