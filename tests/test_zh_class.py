"""The class "a Chinese reader meets English words or UTC times", guarded at its sources
rather than by example (tests/test_zh_everywhere.py renders the pages and lists):

- every error a person can fix (``UserError`` and every class derived from it, found by an
  AST walk of edge/, sync/ and qr_registry/) is raised with an English msgid, never an
  f-string, and every msgid has its Chinese in the catalogs;
- every message the command line and the box's own checks print (``say``, ``tr``,
  ``fail``, ``N_``, ``Phrase``, ``Problem``) has its Chinese;
- no command prints an English literal of its own (``click.echo``, ``ClickException``,
  ``BadParameter``, ``UsageError``, ``prompt`` in edge/cli);
- commands that refuse, or that report, read in Chinese under ``LANG=zh_CN.UTF-8`` (no Latin
  word off the allowlist, no UTC time), and ``menwei hub status`` shows local times;
- ``--help`` of every command and group (the click command tree, walked): its help, short help
  and every option's help have their Chinese, and ``menwei ... --help`` shows no English
  sentence under ``LANG=zh_CN.UTF-8`` and fits an 80-column terminal.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner
from helpers import initialised_config
from test_zh_everywhere import ALLOWED, latin_problems

from edge.cli.help import TranslatedHelp, help_msgid, width
from edge.cli.hub import HUB_COLUMNS
from edge.cli.hub import hub as hub_group
from edge.cli.main import main
from edge.db_file import Problem
from edge.errors import Phrase, UserError
from edge.faces.images import ImageInputError, decode_image
from edge.faces.quality import QualityLimits, QualityReport, check, count_refusal
from edge.people.resident_faces import FaceEnrolmentError, PhotoRefused
from edge.plates.grammar import PlateFormatError, normalise_plate
from edge.vocabulary import Vocabulary, catalog, translator

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edge", "sync", "qr_registry")
# prose: two Latin letters in a row and a space (a code such as "no_room" is not a message)
PROSE = re.compile(r"[A-Za-z]{2}.*\s|\s.*[A-Za-z]{2}")
MESSAGE_FUNCS = {"say", "tr", "fail", "told", "N_", "Phrase", "Problem"}
CLI_OUTPUT = {"echo", "secho", "ClickException", "BadParameter", "UsageError", "prompt", "confirm"}
ZH_ENV = {"LANG": "zh_CN.UTF-8", "LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None}


def _trees() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level ``NAME = <expr>`` (REPAIR_HINT and the like, joined into msgids)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                found[target.id] = node.value
    return found


def _text(node: ast.expr, names: dict[str, ast.expr]) -> str | None:
    """The string a literal, a ``+`` of literals or a module constant evaluates to."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left, names), _text(node.right, names)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.Name) and node.id in names:
        return _text(names[node.id], names)
    return None


def _texts(node: ast.expr, names: dict[str, ast.expr]) -> list[str]:
    """Every string a message argument can be (both arms of a conditional)."""
    if isinstance(node, ast.IfExp):
        return _texts(node.body, names) + _texts(node.orelse, names)
    text = _text(node, names)
    return [text] if text is not None else []


def _user_error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    bases: dict[str, list[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [getattr(b, "id", getattr(b, "attr", "")) for b in node.bases]
    found = {"UserError"}
    grown = True
    while grown:
        grown = False
        for name, parents in bases.items():
            if name not in found and any(p in found for p in parents):
                found.add(name)
                grown = True
    return found


def _user_error_calls(tree: ast.Module, classes: set[str]):
    """Every construction of a UserError kind, and every ``super().__init__(...)`` inside
    one (where a kind builds its own message)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in classes:
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and _name(call) == "__init__":
                    yield call
        if isinstance(node, ast.Call) and _name(node) in classes:
            yield node


def test_every_error_a_person_can_fix_is_a_msgid_with_chinese():
    trees = _trees()
    classes = _user_error_classes(trees)
    assert {"PlateFormatError", "PassTermsError", "ImageInputError", "FilterError"} <= classes
    zh = catalog("zh")
    problems, checked = [], 0
    for path, tree in trees.items():
        names = _constants(tree)
        for call in _user_error_calls(tree, classes):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                literal = isinstance(arg, ast.JoinedStr) and "".join(
                    str(v.value) for v in arg.values if isinstance(v, ast.Constant)
                )
                if literal and PROSE.search(literal):
                    problems.append(f"{where}: an f-string message cannot be translated")
                for text in _texts(arg, names):
                    if PROSE.search(text):
                        checked += 1
                        if text not in zh:
                            problems.append(f"{where}: no Chinese for {text!r}")
    assert checked > 150
    assert not problems, f"{len(problems)}:\n" + "\n".join(problems)


def test_every_message_of_the_command_line_and_the_box_checks_has_chinese():
    zh = catalog("zh")
    missing, checked = [], 0
    for path, tree in _trees().items():
        names = _constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node) in MESSAGE_FUNCS and node.args:
                for text in _texts(node.args[0], names):
                    checked += 1
                    if text not in zh:
                        missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    assert checked > 400
    assert not missing, "\n".join(missing)


def _literal_parts(node: ast.expr) -> list[str]:
    """The literal text in an argument: a string, an f-string's fixed parts, both sides of
    a ``+`` and both arms of a conditional (a call such as ``told(...)`` is not literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [str(v.value) for v in node.values if isinstance(v, ast.Constant)]
    if isinstance(node, ast.BinOp):
        return _literal_parts(node.left) + _literal_parts(node.right)
    if isinstance(node, ast.IfExp):
        return _literal_parts(node.body) + _literal_parts(node.orelse)
    return []


def test_no_command_prints_an_english_literal_of_its_own():
    """What a command prints goes through ``say``/``tr``/``fail``: a literal (or the
    literal parts of an f-string) holding an English word would reach a Chinese reader."""
    word = re.compile(r"[A-Za-z]{2,}")
    # GA/T 1400 (the protocol), a command to run (menwei events), the demo's box id (north)
    allowed = {w for w in ALLOWED if w.isalpha()} | {"GA", "T", "menwei", "events", "north"}
    found = []
    for path in sorted(
        [*(ROOT / "edge" / "cli").rglob("*.py"), *(ROOT / "edge" / "demo").rglob("*.py")]
    ):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and _name(node) in CLI_OUTPUT and node.args):
                continue
            parts = _literal_parts(node.args[0])
            words = [w for part in parts for w in word.findall(part) if w not in allowed]
            if words:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {words}")
    assert not found, "\n".join(found)


def test_a_message_inside_a_message_reads_in_the_same_language():
    zh = translator("zh")
    with pytest.raises(PlateFormatError) as raised:
        normalise_plate("皖AO2R28")
    plate = raised.value
    assert plate.render(zh) == "车牌格式不正确：“皖AO2R28”（车牌中不会出现字母 I 或 O）"
    assert "not a valid plate" in str(plate) and "letters I or O" in str(plate)
    nested = UserError("audit key: %(problem)s", {"problem": UserError("no resident %(id)s",
                                                                        {"id": 7})})  # fmt: skip
    assert nested.render(zh) == "审计密钥：没有住户 7" and str(nested) == "audit key: no resident 7"
    damaged = UserError(
        "%(problem)s; refusing to open or replace it: run `menwei db check`, then `menwei db"
        " recover` (docs/deploy.md, storage failures)",
        {"problem": Problem("%(path)s is a directory, not a database file", path="/x.db")},
    )
    assert damaged.render(zh).startswith("/x.db 是一个文件夹，不是数据库文件；拒绝打开")
    assert Phrase("resident") == "resident" and zh(Phrase("resident").msgid) == "住户"


@pytest.fixture
def zh_config(tmp_path) -> Path:
    return initialised_config(tmp_path)


def _installers_words(text: str, tmp_path: Path) -> str:
    """What is the installer's own or a command's syntax, not a sentence: paths and URLs,
    options (-c, --valid-to), commands (menwei db check) and metavariables (FILE)."""
    text = re.sub(r"\S*/\S*|“[^”]*”|'[^']*'|\bMWP\S+", " ", text)  # paths, typed values, tokens
    text = re.sub(r"\[[a-z_.]+\](?: [a-z_]+ = \"[^\"]*\")?", " ", text)  # [community] role = "hub"
    text = re.sub(r"(?<![\w-])--?[A-Za-z][\w-]*", " ", text)
    text = re.sub(r"`[^`]*`|\b(?:menwei|main)(?: [a-z][a-z-]*){0,2}", " ", text)
    return re.sub(r"\b(?:FILE|OPTIONS|MENWEI_CONFIG|PHOTOS|GATE|OPERATOR)\b", " ", text)


def test_commands_that_refuse_or_report_read_in_chinese(zh_config, tmp_path):
    runner = CliRunner(env=ZH_ENV)
    config = str(zh_config)
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[site]\nname = 'x'\n[[gates]\n", encoding="utf-8")
    said = runner.invoke(main, ["check-config", "-c", str(bad_toml)]).output
    assert (
        said.startswith("错误：") and "配置无效\n  - 不是有效的 TOML：" in said
    )  # tomllib's words after
    typo = tmp_path / "typo.toml"
    typo.write_text(zh_config.read_text(encoding="utf-8") + "\n[extra_section]\nx = 1\n",
                    encoding="utf-8")  # fmt: skip
    cases = [  # (args, exit code)
        (["init", config], 1),
        (["check-config", "-c", config], None),
        (["check-config", "-c", str(typo)], 1),
        (["check-config", "-c", str(tmp_path / "none.toml")], 1),
        (["vehicle", "add", "皖AO2R28", "-c", config], 1),
        (["vehicle", "add", "AG2R28", "-c", config], 1),
        (["vehicle", "add", "皖A12345", "--kind", "visitor", "-c", config], 1),
        (["vehicle", "remove", "皖A99999", "-c", config], 1),
        (["watchlist", "remove", "京A00000", "-c", config], 1),
        (["pass", "revoke", "999", "-c", config], 1),
        (["pass", "issue", "--valid-to", "2026-99-99", "-c", config], 2),
        (["pass", "issue", "--valid-to", "2099-01-01", "--uses", "0", "-c", config], 1),
        (["resident", "enrol-face", "1", "x.jpg", "--consent-by", " ", "-c", config], 1),
        (["hub", "status", "-c", config], 1),
        (["hub", "invite", "box1", "-c", config], 1),
        (["sync", "-c", config], 1),
        (["rooms", "delete", "999", "-c", config], 1),
        (["rooms", "generate", "3幢", "--units", "1", "--floors", "x", "--rooms", "2",
          "-c", config], 1),
        (["user", "passwd", "nobody", "-c", config], 1),
        (["stickers", "--landlord", "nobody", "-o", str(tmp_path / "s.pdf"), "-c", config], 1),
        (["relays-safe", "nosuchgate", "-c", config], 1),
        (["audit", "verify", "-c", config], 0),
        (["pass", "issue", "--valid-to", "2099-01-01", "--png", str(tmp_path / "p.png"),
          "-c", config], 0),
        (["pass", "revoke", "1", "-c", config], 0),
        (["pass", "revoke", "1", "-c", config], 1),
        (["data", "template", "-o", str(tmp_path / "t.xlsx"), "-c", config], 0),
        (["rooms", "generate", "3幢", "--units", "1", "--floors", "1-2", "--rooms", "2",
          "-c", config], 0),
    ]  # fmt: skip
    gate_ids = re.findall(r'^id = "([^"]+)"', zh_config.read_text(encoding="utf-8"), re.M)
    allowed = set(ALLOWED) | {w for g in gate_ids for w in g.split("-")}
    allowed |= {"I", "O", "extra_section", "MockFactory", "main", "box", "nobody", "x"}
    problems = []
    for args, code in cases:
        result = runner.invoke(main, args)
        assert code is None or result.exit_code == code, (args, result.output)
        assert not isinstance(result.exception, (AssertionError, TypeError, KeyError)), args
        shown = _installers_words(result.output, tmp_path)
        problems += latin_problems(shown, allowed, " ".join(args[:3]))
    assert not problems, "\n".join(problems)


def test_hub_status_reads_in_chinese_with_local_times():
    """`menwei hub status`: the health page's words and the site's time, never an ISO time."""
    zone = ZoneInfo("Asia/Shanghai")
    seen = datetime(2026, 12, 1, 13, 14, 5, tzinfo=UTC).isoformat()
    boxes = [
        {"box_id": "b1", "removed": False, "state": "enrolled", "online": True, "age_s": 3.0,
         "last_seen_at": seen, "version": 7, "behind": 2, "backlog": 0, "clock_skew_s": 0.4,
         "level": "warn", "groups": None, "gates": ["north"]},
        {"box_id": "b2", "removed": True, "state": "revoked", "online": False, "age_s": None,
         "last_seen_at": None, "revoked_at": seen, "version": 1, "behind": 0, "backlog": None,
         "clock_skew_s": None, "level": "ok", "groups": ["staff"], "gates": []},
    ]  # fmt: skip
    words = Vocabulary.for_language("zh", zone)
    cells = [str(column(box, words)) for box in boxes for _header, column in HUB_COLUMNS]
    text = " ".join([words.gettext(h) for h, _ in HUB_COLUMNS] + cells)
    assert "2026-12-01 21:14:05" in text and "在线" in text and "落后 2 项" in text
    assert "2026-12-01 21:14" in cells[len(HUB_COLUMNS) + 1]  # removed since, local
    assert not latin_problems(text, set(ALLOWED) | {"b", "north", "staff"}, "hub status")


def test_a_gate_boxs_link_status_reads_in_chinese_with_local_times(zh_config, tmp_path):
    text = zh_config.read_text(encoding="utf-8")
    text = text.replace('# role = "gate"', 'role = "gate"')
    text = text.replace('# hub_url = "https://10.0.0.2:8442"', 'hub_url = "https://10.0.0.2:8442"')
    text = text.replace('# box_id = "north-gate-box"', 'box_id = "north-gate-box"')
    zh_config.write_text(text, encoding="utf-8")
    status = tmp_path / "data" / "community-status.json"
    status.parent.mkdir(parents=True, exist_ok=True)
    seen = "2026-12-01T13:14:05+00:00"
    status.write_text(json.dumps({
        "hub_url": "https://10.0.0.2:8442", "box_id": "north-gate-box", "down": "connected",
        "up": "unreachable", "commands": "starting", "last_contact_at": seen,
        "unreachable_since": seen, "version": 12, "applied_at": seen, "commands_done": 3,
        "outbox": {"pending": 2, "delivered": 40, "dead": 0}, "worker": "running",
        "written_at": seen,
    }), encoding="utf-8")  # fmt: skip
    result = CliRunner(env=ZH_ENV).invoke(main, ["hub", "status", "-c", str(zh_config)])
    assert result.exit_code == 0, result.output
    assert "最后联系: 2026-12-01 21:14:05" in result.output and "无法连接" in result.output
    allowed = set(ALLOWED) | {"north", "gate", "box"}
    assert not latin_problems(_installers_words(result.output, tmp_path), allowed, "link")


def _command_tree(command: click.Command = main, path: tuple[str, ...] = ()):
    """Every command and group of ``menwei`` with the words that reach it."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _command_tree(sub, (*path, name))


def test_every_commands_help_and_every_options_help_has_chinese():
    zh = catalog("zh")
    missing, checked = [], 0
    for path, command in _command_tree():
        where = " ".join(("menwei", *path))
        if not isinstance(command, TranslatedHelp):
            missing.append(f"{where}: a {type(command).__name__}, its help is not translated")
        texts = [command.help, command.short_help, command.epilog]
        for param in command.params:
            texts.append(getattr(param, "help", None))
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"{where} {param.opts[-1]}: an option without help")
            default = getattr(param, "show_default", None)
            texts.append(default if isinstance(default, str) else None)
        for text in texts:
            msgid = help_msgid(text)
            if msgid and PROSE.search(msgid):
                checked += 1
                if msgid not in zh:
                    missing.append(f"{where}: no Chinese for {msgid!r}")
        if command.help is None:
            missing.append(f"{where}: no help at all")
    assert checked > 130
    assert not missing, "\n".join(missing)


# What --help shows that is typed as it is, not read: metavariables and names in capitals
# (PATH, GATE_ID, N, TEXT, PDF), a choice ([zh|en]), a config key with its section ([web] host),
# a default ([默认：visitors]), an example time, a file or unit name (labels.tsv, pass-<id>.png,
# menwei-front) and the programs and keys an installer types.
TYPED = re.compile(
    r"\b[A-Z][A-Z0-9_]*\b|\[[\w|.-]+\](?: [a-z_]+)?|\[默认：[^]]*\]|\d{4}-\d\d-\d\dT[\d:]+"
    r"|[\w<>-]+\.(?:tsv|conf|png|jpg)\b|\bmenwei-[a-z]+"
)
HELP_WORDS = {
    "systemd", "ExecStopPost", "root", "nginx", "waitress", "sqlite_sequence", "quick_check",
    "edge", "store", "people_refill", "json", "resident", "list", "integrity_check_s",
    "audit_checkpoint_file", "dynamic", "x", "Ctrl",
}  # fmt: skip


def test_help_reads_in_chinese_under_a_chinese_locale(tmp_path):
    zh_runner, en_runner = CliRunner(env=ZH_ENV), CliRunner(env={**ZH_ENV, "LANG": "en_US.UTF-8"})
    problems, wide = [], []
    names = {part for path, _c in _command_tree() for part in "-".join(path).split("-") if part}
    for path, command in _command_tree():
        args = [*path, "--help"]
        result = zh_runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        assert result.output.startswith("用法："), result.output
        wide += [f"{args}: {line!r}" for line in result.output.splitlines() if width(line) > 80]
        shown = _installers_words(TYPED.sub(" ", result.output), tmp_path)
        problems += latin_problems(shown, set(ALLOWED) | HELP_WORDS | names, " ".join(args))
        english = en_runner.invoke(main, args).output
        first = help_msgid(command.help).split(". ")[0]
        assert english.startswith("Usage:") and first[:40] in " ".join(english.split()), args
    assert not problems, "\n".join(problems)
    assert not wide, "\n".join(wide)


def test_the_installed_menwei_help_reads_in_chinese(tmp_path):
    """The real ``menwei`` program (its console script, a fresh process and an empty cache
    folder, so click's own words are compiled from the catalogs) under a Chinese locale."""
    program = Path(sys.executable).with_name("menwei")
    if not program.exists():
        pytest.skip(f"no menwei console script beside {sys.executable} (pip install -e .)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    env |= {"LANG": "zh_CN.UTF-8", "XDG_CACHE_HOME": str(tmp_path), "COLUMNS": "80"}
    for args in (["--help"], ["hub", "--help"], ["resident", "enrol-face", "--help"]):
        done = subprocess.run([str(program), *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("用法："), done.stdout
        shown = _installers_words(TYPED.sub(" ", done.stdout), tmp_path)
        names = {"enrol", "face", *main.commands, *hub_group.commands}
        assert not latin_problems(shown, set(ALLOWED) | HELP_WORDS | names, " ".join(args))
    assert "为住户登记人脸照片 PHOTOS" in done.stdout and "显示本帮助并退出。" in done.stdout


def test_a_group_lists_its_commands_by_their_first_chinese_sentence():
    said = CliRunner(env=ZH_ENV).invoke(main, ["hub", "--help"]).output
    assert "命令:" in said or "命令：" in said
    assert "  status  中心机与门岗机的状态\n" in said
    assert "  revoke  吊销门岗机 BOX_ID 的密钥（设备被盗时）：从现在起它得不到任何数据" in said
    english = CliRunner(env={**ZH_ENV, "LANG": "C"}).invoke(main, ["hub", "--help"]).output
    assert "  revoke  Revoke gate box BOX_ID's key (a stolen box): it gets nothing from..." in (
        english
    )


def test_a_refused_face_photo_reads_in_one_language_the_readers():
    """Every refusal a photo can meet (quality, image, type, budget) is a msgid with its
    parameters: a refusal list reads all in Chinese or all in English, never "zh / en"."""
    limits = QualityLimits()
    reports = [
        QualityReport(40, 500, 0, 0, 120),  # small
        QualityReport(200, 10, 0, 0, 120),  # blurred
        QualityReport(200, 500, 0.9, 30, 120),  # turned
        QualityReport(200, 500, 0, 0, 10),  # dark
    ]
    reasons = [check(report, limits) for report in reports]
    reasons += [count_refusal([], limits)]
    refused = [PhotoRefused(i, f"p{i}.jpg", r.code, r.reason) for i, r in enumerate(reasons) if r]
    refused.append(PhotoRefused(9, "x.gif", "bad_type", Phrase("not a JPEG or PNG photo")))
    try:
        decode_image(b"\xff\xd8\xff" + bytes(100))
    except ImageInputError as exc:
        refused.append(PhotoRefused(10, "cut.jpg", "bad_image", exc))
    assert len(refused) == 7
    error = FaceEnrolmentError(refused)
    zh, english = error.render(translator("zh")), str(error)
    assert zh.startswith("未登记任何人脸，7 张照片被拒：p0.jpg：人脸太小（宽 40 像素，至少需要 80")
    assert (
        "；p1.jpg：照片模糊（清晰度 10，低于 60）；" in zh
        and "；x.gif：不是 JPEG 或 PNG 照片；" in zh
    )
    assert not latin_problems(re.sub(r"\S+\.(?:jpg|gif)", " ", zh), set(ALLOWED), "photos")
    assert english.startswith("nothing enrolled, 7 photo(s) refused: p0.jpg: face is 40 px wide")
    assert not re.search(r"[\u4e00-\u9fff]", english)
    assert [r.render(translator("en")) for r in refused] == [r.message for r in refused]
