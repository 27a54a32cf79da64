// Template lexer: the tokens of hanami/core/template/lexer.py, with its messages, for the
// template parser (template.js). Kept apart as the Python side is: the lexer's job is
// characters and columns, the parser's job is the grammar.

export const INT = "INT", FLOAT = "FLOAT", IDENT = "IDENT", COMMA = ",", COLON = ":";
export const LPAREN = "(", RPAREN = ")", ARROW = "->", EOF = "EOF", ERROR = "ERROR";
const PUNCT = { ",": COMMA, ":": COLON, "(": LPAREN, ")": RPAREN };
const NUMBER_RE = /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const IDENT_RE = /[A-Za-z_][A-Za-z_0-9]*/y;
const WORD_TAIL_RE = /[A-Za-z_0-9.]*/y;
const isDigit = (c) => c >= "0" && c <= "9" && c.length === 1;

function matchAt(re, text, i) {
  re.lastIndex = i;
  return re.exec(text);
}

// Python's repr() of one character, enough for error messages.
function pyRepr(ch) {
  if (ch === "'") return `"'"`;
  if (ch === "\\") return "'\\\\'";
  const code = ch.codePointAt(0);
  if (code < 0x20 || (code >= 0x7f && code <= 0xa0) || code === 0xad) {
    return `'\\x${code.toString(16).padStart(2, "0")}'`;
  }
  return `'${ch}'`;
}

// Columns count code points, like Python.
const columnOf = (text, lineStart, i) => Array.from(text.slice(lineStart, i)).length + 1;

export function tokenize(text) {
  const tokens = [];
  const n = text.length;
  let i = 0, line = 1, lineStart = 0, endLine = 1, endCol = 1;
  while (i < n) {
    const c = text[i];
    if (c === "\n") {
      i += 1;
      line += 1;
      lineStart = i;
      continue;
    }
    if (" \t\r\f\v".includes(c)) {
      i += 1;
      continue;
    }
    if (c === "#") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? n : nl;
      continue;
    }
    const col = columnOf(text, lineStart, i);
    if (c === "-" && text.startsWith("->", i)) {
      tokens.push({ kind: ARROW, text: "->", line, column: col });
      i += 2;
    } else if (Object.hasOwn(PUNCT, c)) {
      tokens.push({ kind: PUNCT[c], text: c, line, column: col });
      i += 1;
    } else if (isDigit(c) || (c === "-" && i + 1 < n && isDigit(text[i + 1]))) {
      const m = matchAt(NUMBER_RE, text, i);
      const end = i + m[0].length;
      const tail = matchAt(WORD_TAIL_RE, text, end);
      if (tail[0].length > 0) {
        const bad = text.slice(i, end + tail[0].length);
        tokens.push({ kind: ERROR, text: `malformed number '${bad}'`, line, column: col });
        return tokens;
      }
      const kind = m[1] || m[2] ? FLOAT : INT;
      tokens.push({ kind, text: m[0], line, column: col });
      i = end;
    } else {
      const m = matchAt(IDENT_RE, text, i);
      if (!m) {
        const ch = String.fromCodePoint(text.codePointAt(i));
        tokens.push({ kind: ERROR, text: `unexpected character ${pyRepr(ch)}`, line, column: col });
        return tokens;
      }
      tokens.push({ kind: IDENT, text: m[0], line, column: col });
      i += m[0].length;
    }
    endLine = line;
    endCol = columnOf(text, lineStart, i);
  }
  tokens.push({ kind: EOF, text: "", line: endLine, column: endCol });
  return tokens;
}
