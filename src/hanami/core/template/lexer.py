"""The template lexer: text to tokens with line and column, for errors that point at the text."""

import re
from typing import NamedTuple

INT, FLOAT, IDENT, COMMA, COLON, LPAREN, RPAREN, ARROW, EOF, ERROR = (
    "INT",
    "FLOAT",
    "IDENT",
    ",",
    ":",
    "(",
    ")",
    "->",
    "EOF",
    "ERROR",
)
_DIGITS = frozenset("0123456789")
_PUNCT = {",": COMMA, ":": COLON, "(": LPAREN, ")": RPAREN}
_NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_WORD_TAIL_RE = re.compile(r"[A-Za-z_0-9.]*")


class Token(NamedTuple):
    kind: str
    text: str
    line: int
    column: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens ending with EOF.

    A lexical error becomes a final ERROR token instead of an exception, so that the parser
    reports whichever problem comes first in the text.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    line, line_start = 1, 0
    end_line, end_col = 1, 1  # just after the last token, where EOF is reported
    while i < n:
        c = text[i]
        if c == "\n":
            i += 1
            line, line_start = line + 1, i
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        col = i - line_start + 1
        if c == "-" and text.startswith("->", i):
            tokens.append(Token(ARROW, "->", line, col))
            i += 2
        elif c in _PUNCT:
            tokens.append(Token(_PUNCT[c], c, line, col))
            i += 1
        elif c in _DIGITS or (c == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER_RE.match(text, i)
            assert m is not None
            tail = _WORD_TAIL_RE.match(text, m.end())
            assert tail is not None
            if tail.end() > m.end():
                bad = text[i : tail.end()]
                tokens.append(Token(ERROR, f"malformed number '{bad}'", line, col))
                return tokens
            kind = FLOAT if (m.group(1) or m.group(2)) else INT
            tokens.append(Token(kind, m.group(0), line, col))
            i = m.end()
        else:
            m = _IDENT_RE.match(text, i)
            if m is None:
                tokens.append(Token(ERROR, f"unexpected character {c!r}", line, col))
                return tokens
            tokens.append(Token(IDENT, m.group(0), line, col))
            i = m.end()
        end_line, end_col = line, i - line_start + 1
    tokens.append(Token(EOF, "", end_line, end_col))
    return tokens
