"""Finding 13.1: masked ID numbers were reversible. This test plays the attacker.

For every role (landlord, police, grid worker, admin, guard) and for a stolen database
file, it fetches everything that role can fetch about registrations — list pages, detail
pages, name searches, CSV and Excel exports — and, for each registered document, counts
the numbers that remain consistent with what was seen: the real GB/T 2260 county list
(python-stdnum's ``cn/loc.dat``), the birth date, year or age band shown, the sex, the
shown tail and the MOD 11-2 check character. Worst case throughout: the attacker knows the
sex, the nationality and (for a permanent-residence card) the issuing province, and may
spend a day's quota of exact searches. Every count must stay at or above 10^4.

The same counter applied to the old masks (first four and last four characters beside the
birth date) finds 1-2 candidates: that is the attack as the probe ran it.
"""

from __future__ import annotations

import io
import re
import sqlite3
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import PASSWORD, Clock, csrf_of, make_id, tenant_form
from openpyxl import load_workbook

from edge.db import connect, transaction
from edge.web.accounts import create_user
from edge.web.app import create_app
from qr_registry.documents import check_char
from qr_registry.masking import MIN_CANDIDATES

stdnum = pytest.importorskip("stdnum", reason="python-stdnum ships the GB/T 2260 list")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECKS = "10X98765432"
TODAY = date(2025, 6, 1)


def current_county_codes() -> list[str]:
    """County-level codes of GB/T 2260 still in force (fewer than all ever issued: the
    smaller set is the attacker's best case)."""
    path = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    codes, province = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(\d{2}) province=", line)
        if match:
            province = match.group(1)
            continue
        match = re.match(r"^\s+(\d{4}) county=\"(.*)\"", line)
        abolished = match and re.match(r"\[[^\]]*-\d{4}\]", match.group(2))  # [-2010]
        if match and province and not match.group(1).endswith("00") and not abolished:
            codes.append(province + match.group(1))
    return codes


REGIONS = current_county_codes()


def _weighted(digits: str, start: int) -> int:
    return sum(int(d) * WEIGHTS[start + i] for i, d in enumerate(digits))


def count_18(
    regions: list[str], births: list[date], sex: str | None, shown: str, shown_from: int
) -> int:
    """How many 18-character numbers fit: a region from ``regions``, a birth date from
    ``births``, a sequence of the given sex, and the characters ``shown`` at
    ``shown_from``.. (a shown head is passed in ``regions``). Counted by residues mod 11."""

    def fits(text: str, start: int) -> bool:
        return all(
            shown_from > start + i or i + start - shown_from >= len(shown)
            or shown[start + i - shown_from] == c
            for i, c in enumerate(text)
        )  # fmt: skip

    region_sums = Counter(_weighted(r, 0) % 11 for r in regions if fits(r, 0))
    date_sums = Counter(_weighted(f"{b:%Y%m%d}", 6) % 11 for b in births if fits(f"{b:%Y%m%d}", 6))
    seq_sums = Counter(
        _weighted(f"{s:03d}", 14) % 11
        for s in range(1000)
        if fits(f"{s:03d}", 14) and (sex is None or (s % 2 == 1) == (sex == "M"))
    )
    check_shown = shown_from + len(shown) == 18 and shown_from <= 17
    total = 0
    for r, nr in region_sums.items():
        for d, nd in date_sums.items():
            for q, nq in seq_sums.items():
                if check_shown and CHECKS[(r + d + q) % 11] != shown[-1]:
                    continue
                total += nr * nd * nq
    return total


def days_of(years: range) -> list[date]:
    start, end = date(years.start, 1, 1), min(date(years.stop - 1, 12, 31), TODAY)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_the_counter_reverses_the_old_masks() -> None:
    """The probe's attack: 3201**********1232 beside 1990-01-01 leaves 1-2 candidates."""
    number = make_id("320102", date(1990, 1, 1), 123)
    births = [date(1990, 1, 1)]
    head = [r for r in REGIONS if r.startswith(number[:4])]
    assert count_18(head, births, "M", number[-4:], 14) <= 2
    hmt = make_id("810000", date(1990, 1, 1), 123)  # digits 5-6 always 00: exactly one
    assert count_18(["810000"], births, "M", hmt[-4:], 14) == 1
    assert len(REGIONS) > 2500  # the list really loaded


# -- the site, with one registration of every kind of document ---------------------------


def fpr_2023(province: str, numeric: str, born: date, seq: int) -> str:
    first17 = f"9{province}{numeric}{born:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


DOCS = {
    "resident": ("resident_id", make_id("320102", date(1990, 3, 7), 123), {}),
    "hmt": ("hmt_permit", make_id("810000", date(1988, 11, 23), 457), {}),
    "fpr": ("foreigner_pr", fpr_2023("31", "276", date(1985, 5, 17), 21), {"nationality": "DEU"}),
    "fpr_old": ("foreigner_pr", "DEU310085051702", {"nationality": "DEU", "sex": "F",
                                                     "birth_date": "1985-05-17"}),
    "passport": ("passport", "C01X00T47", {"nationality": "DEU", "sex": "M",
                                           "birth_date": "1979-09-30"}),
}  # fmt: skip
NAMES = {"resident": "张三", "hmt": "陈大文", "fpr": "Anna Schmidt", "fpr_old": "Eva Braun",
         "passport": "Karl Weber"}  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory, registry_config, seed_registry):
    tmp = tmp_path_factory.mktemp("masking")
    clock = Clock()
    config = registry_config(tmp, public_submissions_per_minute=100_000)
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    db = connect(config.storage.database_path)
    with transaction(db) as conn:
        create_user(conn, "guard", PASSWORD, "guard", clock())
    db.conn.close()
    for i, (key, (doc_type, number, extra)) in enumerate(DOCS.items()):
        client = app.test_client()
        url = f"/r/{ids['room_a1'].token}"
        form = {**tenant_form(seq=100 + i, phone=f"1380013{8000 + i}", name=NAMES[key]),
                "doc_type": doc_type, "doc_number": number, **extra}  # fmt: skip
        if doc_type not in ("resident_id", "hmt_permit"):
            form.pop("ethnicity")
        form["csrf_token"] = csrf_of(client.get(url).text)
        response = client.post(url, data=form)
        assert response.status_code == 303, response.text
    landlord = login(app, "landlord_a")
    listing = landlord.get("/landlord/").text
    for reg_id in sorted(set(re.findall(r"/landlord/registrations/(\w{26})", listing))):
        csrf = csrf_of(landlord.get("/landlord/").text)
        landlord.post(f"/landlord/registrations/{reg_id}/decide",
                      data={"decision": "confirm", "csrf_token": csrf})  # fmt: skip
    return {"app": app, "db_path": config.storage.database_path, "config": config}


def login(app, username: str):
    client = app.test_client()
    csrf = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": csrf, "username": username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


def xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data))
    return "\n".join(
        " ".join("" if c.value is None else str(c.value) for c in row)
        for row in book.active.iter_rows()
    )


def fetch_all(site, role: str) -> str:
    """Everything ``role`` can fetch about registrations, as one text."""
    if role == "stolen_db":
        with sqlite3.connect(site["db_path"]) as conn:
            return "\n".join(conn.iterdump())
    username = {"landlord": "landlord_a"}.get(role, role)
    client = login(site["app"], username)
    pages: list[str] = []
    if role == "landlord":
        listing = client.get("/landlord/").text
        pages.append(listing)
        for reg_id in set(re.findall(r"/landlord/registrations/(\w{26})", listing)):
            pages.append(client.get(f"/landlord/registrations/{reg_id}").text)
    elif role in ("police", "grid"):
        listing = client.get("/police/").text
        pages.append(listing)
        for name in NAMES.values():
            pages.append(client.get("/police/", query_string={"name": name}).text)
        for status in ("pending", "confirmed"):
            pages.append(client.get("/police/", query_string={"status": status}).text)
        for reg_id in set(re.findall(r"/police/registrations/(\w{26})", listing)):
            pages.append(client.get(f"/police/registrations/{reg_id}").text)
        pages.append(client.get("/police/export.csv").data.decode("utf-8-sig"))
        pages.append(xlsx_text(client.get("/police/export.xlsx").data))
    else:  # admin, guard: every console page they have
        for url in ("/", "/admin/", "/console/", "/console/events", "/police/", "/landlord/"):
            response = client.get(url, follow_redirects=True)
            pages.append(response.text)
    return "\n".join(pages)


def observed(corpus: str, number: str, born: date) -> dict:
    """What the corpus tells about ``number``: the longest head and tail seen, and the
    tightest birth information (full date, year, or a ten-year band)."""
    head = next((k for k in range(len(number), 0, -1) if number[:k] + "*" in corpus), 0)
    tail = next(
        (k for k in range(len(number), 0, -1) if "*" + number[len(number) - k :] in corpus), 0
    )
    if number in corpus:
        head = tail = len(number)
    if any(f in corpus for f in (born.isoformat(), f"{born:%Y%m%d}", f"{born:%Y/%m/%d}")):
        years = range(born.year, born.year + 1)
        exact = True
    else:
        exact = False
        age = TODAY.year - born.year
        band = f"{age // 10 * 10}-{age // 10 * 10 + 9}" if age >= 20 else "14-19"
        if re.search(rf"\b{born.year}\b", corpus):
            years = range(born.year, born.year + 1)
        elif band in corpus:
            low = TODAY.year - (age // 10 * 10 + 9)
            years = range(max(low, 1900), TODAY.year - age // 10 * 10 + 1)
        else:
            years = range(1900, TODAY.year + 1)
    return {"head": head, "tail": tail, "years": years, "exact": exact}


def candidates(doc_key: str, seen: dict, born: date) -> int:
    doc_type, number, _extra = DOCS[doc_key]
    births = [born] if seen["exact"] else days_of(seen["years"])
    shown_tail = number[len(number) - seen["tail"] :] if seen["tail"] else ""
    sex = ("M" if int(number[16]) % 2 else "F") if len(number) == 18 else None
    if len(number) == seen["head"]:
        return 1
    if doc_type == "resident_id":
        regions = [r for r in REGIONS if r.startswith(number[: seen["head"]])]
    elif doc_type == "hmt_permit":
        regions = [number[:6]]  # the permit's region: one of three, and known
    elif len(number) == 18:  # 2023 card: 9, province and nationality known
        regions = [number[:6]]
    else:
        regions = []
    if len(number) == 18:
        return count_18(regions, births, sex, shown_tail, 18 - len(shown_tail))
    # Passports and the old card carry no check digit we could use: every hidden
    # character is free (counted as digits only, the attacker's best case).
    hidden = len(number) - seen["tail"] - max(seen["head"], 3 if doc_key == "fpr_old" else 0)
    return 10 ** max(hidden, 0)


BIRTHS = {
    "resident": date(1990, 3, 7), "hmt": date(1988, 11, 23), "fpr": date(1985, 5, 17),
    "fpr_old": date(1985, 5, 17), "passport": date(1979, 9, 30),
}  # fmt: skip


@pytest.mark.parametrize("role", ["landlord", "police", "grid", "admin", "guard", "stolen_db"])
def test_every_role_leaves_at_least_ten_thousand_candidates(site, role) -> None:
    corpus = fetch_all(site, role)
    if role in ("landlord", "police", "grid"):
        assert "Karl Weber" in corpus  # the pages really listed the registrations
    quota = site["config"].registry.exact_searches_per_day if role == "police" else 0
    for key, (_doc_type, number, _extra) in DOCS.items():
        seen = observed(corpus, number, BIRTHS[key])
        assert not seen["exact"], f"{role} sees the birth date of {key}"
        count = candidates(key, seen, BIRTHS[key])
        # a day of exact searches rules out at most one candidate each
        assert count - quota >= MIN_CANDIDATES, (role, key, seen, count)
        if role == "grid":
            assert seen["years"] != range(BIRTHS[key].year, BIRTHS[key].year + 1), key


def test_exact_search_quota_per_officer(tmp_path, registry_config, seed_registry) -> None:
    config = registry_config(tmp_path, exact_searches_per_day=3)
    app = create_app(config, clock=Clock())
    seed_registry(config, Clock()())
    police = login(app, "police")
    number = make_id("320102", date(1990, 1, 1), 5)
    codes = [exact_search(police, doc_number=number).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert police.get("/police/", query_string={"name": "张"}).status_code == 200
    assert exact_search(login(app, "grid"), doc_number=number).status_code == 400


def exact_search(client, **fields: str):
    """A search by full number or phone, as the search form sends it (POST)."""
    csrf = csrf_of(client.get("/police/").text)
    return client.post("/police/", data={**fields, "csrf_token": csrf})
