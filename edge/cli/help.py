"""``--help`` in the locale's language: the commands' docstrings and their options' help stay
English msgids in the code, and are translated through the catalogs (``cli_help.po``) when
the help is written, with the same language choice as every other line the command line
prints (``locale_language``).

Every command and group of ``menwei`` is a ``MenweiCommand`` or ``MenweiGroup``
(``edge.cli.common``), so a new command's help is translated without anything written for
it; tests/test_zh_class.py walks the command tree and fails on a help without its Chinese.
Chinese is wrapped by display width (a Chinese character takes two columns), which click's
own wrapping, counting characters between spaces, does not do.
"""

from __future__ import annotations

import copy
import inspect
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import click

from edge.vocabulary import locale_language, translator

# A character of the wide scripts (CJK, full-width punctuation), a run of anything else but
# space (a word, an option, a path), or a run of spaces: the units a line may break between.
_WIDE = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_TOKENS = re.compile(rf"[{_WIDE}]|[^\s{_WIDE}]+|\s+")
_SENTENCE_END = "。；"
HELP_OPTION = "Show this message and exit."  # click's help of --help (in click.po)
_NO_LINE_START = set("，。、；：！？）」』》】")  # closing punctuation stays on its line


def help_msgid(text: str | None) -> str:
    """The msgid of a docstring or ``help=`` text: as click shows it (up to a form feed),
    each paragraph on one line, so re-wrapping the docstring does not change it."""
    if not text:
        return ""
    body = inspect.cleandoc(text).partition("\f")[0]
    return "\n\n".join(" ".join(p.split()) for p in body.split("\n\n") if p.strip())


def translated_help(text: str | None) -> str | None:
    """``text`` (a docstring or ``help=``) in the locale's language; English unchanged."""
    if not text:
        return text
    lang = locale_language()
    if lang == "en":
        return text
    msgid = help_msgid(text)
    found = translator(lang)(msgid)
    return text if found == msgid else found


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (a wide character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def is_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


def wrap(text: str, columns: int) -> list[str]:
    """Lines of ``text`` no wider than ``columns``, broken between wide characters or at
    spaces, never inside a Latin word, option or path; paragraphs kept apart by a blank."""
    lines: list[str] = []
    for number, paragraph in enumerate(p for p in text.split("\n\n") if p.strip()):
        if number:
            lines.append("")
        line: list[str] = []
        for token in _TOKENS.findall(" ".join(paragraph.split())):
            if token.isspace():
                if line:
                    line.append(" ")
                continue
            if line and width("".join(line) + token) > columns:
                carried: list[str] = []
                if token in _NO_LINE_START and len(line) > 1:  # a comma never starts a line
                    carried = [line.pop()]
                lines.append("".join(line).rstrip())
                line = carried
            line.append(token)
        if line:
            lines.append("".join(line).rstrip())
    return lines


class MenweiFormatter(click.HelpFormatter):
    """click's help formatter, wrapping Chinese by display width."""

    def write_text(self, text: str) -> None:
        if not is_wide(text):
            super().write_text(text)
            return
        indent = " " * self.current_indent
        body = wrap(text, max(self.width - self.current_indent, 20))
        self.write("\n".join(indent + line if line else "" for line in body) + "\n")

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = list(rows)
        if not any(is_wide(second) for _first, second in rows):
            super().write_dl(rows, col_max, col_spacing)
            return
        first_col = min(max((width(first) for first, _s in rows), default=0), col_max)
        first_col += col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - width(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = wrap(second, max(self.width - first_col - 2, 10)) or [""]
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class MenweiContext(click.Context):
    formatter_class = MenweiFormatter


def short_help(help_text: str, limit: int) -> str:
    """A translated help's first sentence, cut to ``limit`` columns between words (a list
    of commands)."""
    first = help_text.split("\n\n")[0].strip()
    for index, char in enumerate(first):
        if char in _SENTENCE_END:
            first = first[:index]
            break
    first = " ".join(first.split())
    if width(first) <= limit:
        return first
    cut = ""
    for token in _TOKENS.findall(first):  # never inside a word, an option or a path
        if width(cut + token) > limit - 1:
            break
        cut += token
    return cut.rstrip() + "…"


class TranslatedHelp(click.Command):
    """A command whose help, short help and options' help read in the locale's language."""

    context_class = MenweiContext

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own help, written from a copy whose help, epilog and options' help are
        translated (the command itself is shared by every caller and stays English)."""
        shown = copy.copy(self)
        shown.help = translated_help(self.help)
        shown.epilog = translated_help(self.epilog)
        shown.params = [_translated_param(param) for param in self.params]
        help_option = self.get_help_option(ctx)
        if help_option is not None:  # click made its help once, in the first caller's language
            shown_option = copy.copy(help_option)
            shown_option.help = translated_help(HELP_OPTION)
            shown.get_help_option = lambda _ctx: shown_option  # type: ignore[assignment]
        super(TranslatedHelp, shown).format_help(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help:
            shown = translated_help(self.short_help)
            if shown is None or shown is self.short_help:
                return super().get_short_help_str(limit)
            return " ".join(shown.split())
        shown = translated_help(self.help)
        if shown is None or shown is self.help:
            return super().get_short_help_str(limit)
        return short_help(shown, limit)


def _translated_param(param: click.Parameter) -> Any:
    help_text = getattr(param, "help", None)
    default = getattr(param, "show_default", None)
    if not help_text and not isinstance(default, str):
        return param
    clone = copy.copy(param)
    if help_text:
        clone.help = translated_help(help_text)
    if isinstance(default, str):
        clone.show_default = translated_help(default)  # type: ignore[attr-defined]
    return clone


class MenweiCommand(TranslatedHelp):
    """Every ``menwei`` command (groups: ``edge.cli.common.MenweiGroup``)."""
