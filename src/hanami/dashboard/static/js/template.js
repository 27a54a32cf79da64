// Cluster-template parser: a port of hanami/core/template (recursive descent over the
// tokens of template-lexer.js) so that the template editor can validate as you type with
// the server's exact messages ("line L, column C: message").
// tests/dashboard/test_template_parity.py runs both parsers over the same templates and
// compares the results; keep the two in step.

import {
  ARROW, COLON, COMMA, EOF, ERROR, FLOAT, IDENT, INT, LPAREN, RPAREN, tokenize,
} from "./template-lexer.js";

export const SUPPORTED_VERSION = 1;
const MAX_COORDINATE = 2 ** 32 - 1;
const MAX_NAME_LENGTH = 254;
const MAX_REFRACTORY_TIME = 255;
const PROFILES = ["classic", "default", "stream"];
const INPUT_KINDS = ["binary", "match"];
const OUTPUT_TYPES = ["bool", "int", "float"];
const SECTION_KEYWORDS = new Set(["version", "settings", "hexagons", "axons", "inputs", "outputs"]);
const SETTING_NAMES = [
  "neuron_cooldown",
  "refractory_time",
  "max_connection_distance",
  "enable_reduction",
  "profile",
  "seed",
  "input_gain",
];

export class TemplateError extends Error {
  constructor(line, column, message) {
    super(`line ${line}, column ${column}: ${message}`);
    this.line = line;
    this.column = column;
    this.detail = message;
  }
}

const describe = (tok) => (tok.kind === EOF ? "end of input" : `'${tok.text}'`);
const fmtPos = (p) => `${p[0]},${p[1]},${p[2]}`;
const key = (p) => fmtPos(p);

// Python's int() of the token text (leading zeros, "-0"); exact for the values we compare.
const toInt = (text) => Number(text);

class Parser {
  constructor(tokens) {
    this.tokens = tokens;
    this.pos = 0;
    this.hexIds = new Map();
    this.hexLines = [];
  }

  peek() {
    const tok = this.tokens[this.pos];
    if (tok.kind === ERROR) throw new TemplateError(tok.line, tok.column, tok.text);
    return tok;
  }

  advance() {
    const tok = this.peek();
    if (tok.kind !== EOF) this.pos += 1;
    return tok;
  }

  fail(tok, message) {
    return new TemplateError(tok.line, tok.column, message);
  }

  expect(kind, what) {
    const tok = this.peek();
    if (tok.kind !== kind) throw this.fail(tok, `expected ${what}, found ${describe(tok)}`);
    return this.advance();
  }

  atWord(word) {
    const tok = this.peek();
    return tok.kind === IDENT && tok.text === word;
  }

  atName() {
    const tok = this.peek();
    return tok.kind === IDENT && !SECTION_KEYWORDS.has(tok.text);
  }

  header(word) {
    this.advance();
    this.expect(COLON, `':' after '${word}'`);
  }

  parse() {
    this.version();
    let settings = defaultSettings();
    const hadSettings = this.atWord("settings");
    if (hadSettings) settings = this.settings();
    if (!this.atWord("hexagons")) {
      const what = hadSettings ? "'hexagons' section" : "'settings' or 'hexagons' section";
      const tok = this.peek();
      throw this.fail(tok, `expected ${what}, found ${describe(tok)}`);
    }
    const hexagons = this.hexagons();
    let axons = [];
    if (this.atWord("axons")) axons = this.axons();
    if (!this.atWord("inputs")) {
      const tok = this.peek();
      const what = axons.length ? "'inputs' section" : "'axons' or 'inputs' section";
      throw this.fail(tok, `expected ${what}, found ${describe(tok)}`);
    }
    this.header("inputs");
    const owners = new Map();
    const names = new Map();
    const inputs = this.interfaces("input", INPUT_KINDS, owners, names);
    if (!this.atWord("outputs")) {
      const tok = this.peek();
      throw this.fail(tok, `expected 'outputs' section, found ${describe(tok)}`);
    }
    this.header("outputs");
    const outputs = this.interfaces("output", OUTPUT_TYPES, owners, names);
    const tok = this.peek();
    if (tok.kind !== EOF) {
      throw this.fail(
        tok, `expected an output 'name: x,y,z' or end of template, found ${describe(tok)}`);
    }
    return {
      settings,
      hexagons,
      axons,
      inputs: inputs.map(([name, hexagon, kind]) => ({ name, hexagon, kind })),
      outputs: outputs.map(([name, hexagon, type]) => ({ name, hexagon, type })),
    };
  }

  version() {
    const tok = this.peek();
    if (!this.atWord("version")) {
      throw this.fail(tok,
        `expected 'version: ${SUPPORTED_VERSION}' at the start of the template, ` +
        `found ${describe(tok)}`);
    }
    this.header("version");
    const num = this.expect(INT, "an integer version number after 'version:'");
    if (toInt(num.text) !== SUPPORTED_VERSION) {
      throw this.fail(num,
        `unsupported template version ${num.text}; ` +
        `only version ${SUPPORTED_VERSION} is supported`);
    }
  }

  settings() {
    this.header("settings");
    const values = defaultSettings();
    const seen = new Map();
    while (this.atName()) {
      const keyTok = this.advance();
      const name = keyTok.text;
      if (!SETTING_NAMES.includes(name)) {
        throw this.fail(keyTok,
          `unknown setting '${name}'; expected one of ${SETTING_NAMES.join(", ")}`);
      }
      if (seen.has(name)) {
        throw this.fail(keyTok, `setting '${name}' given twice (first given on line ${seen.get(name)})`);
      }
      seen.set(name, keyTok.line);
      this.expect(COLON, `':' after '${name}'`);
      values[name] = this[`setting_${name}`]();
    }
    return values;
  }

  setting_neuron_cooldown() {
    const tok = this.peek();
    if (tok.kind !== INT && tok.kind !== FLOAT) {
      throw this.fail(tok, `expected a number for neuron_cooldown, found ${describe(tok)}`);
    }
    this.advance();
    const value = parseFloat(tok.text);
    if (!(value > 1)) throw this.fail(tok, `neuron_cooldown must be > 1, found ${tok.text}`);
    if (value === Infinity) throw this.fail(tok, `neuron_cooldown must be finite, found ${tok.text}`);
    return value;
  }

  intSetting(name, minimum, maximum = null) {
    const tok = this.expect(INT, `an integer for ${name}`);
    const value = toInt(tok.text);
    if (value < minimum) throw this.fail(tok, `${name} must be >= ${minimum}, found ${tok.text}`);
    if (maximum !== null && value > maximum) {
      throw this.fail(tok, `${name} must be at most ${maximum}, found ${tok.text}`);
    }
    return value;
  }

  setting_refractory_time() { return this.intSetting("refractory_time", 1, MAX_REFRACTORY_TIME); }
  setting_max_connection_distance() { return this.intSetting("max_connection_distance", 1); }
  setting_seed() { return this.intSetting("seed", 0); }

  setting_enable_reduction() { return this.boolSetting("enable_reduction"); }
  setting_input_gain() { return this.boolSetting("input_gain"); }

  boolSetting(name) {
    const tok = this.peek();
    if (tok.kind !== IDENT || !["true", "false", "True", "False"].includes(tok.text)) {
      throw this.fail(tok, `expected true or false for ${name}, found ${describe(tok)}`);
    }
    this.advance();
    return tok.text.toLowerCase() === "true";
  }

  setting_profile() {
    const tok = this.peek();
    if (tok.kind !== IDENT || !PROFILES.includes(tok.text)) {
      throw this.fail(tok, `expected 'classic', 'default' or 'stream' for profile, found ${describe(tok)}`);
    }
    this.advance();
    return tok.text;
  }

  position() {
    const first = this.peek();
    const coords = [];
    for (const axis of ["x", "y", "z"]) {
      if (axis !== "x") {
        const prev = axis === "y" ? "x" : "y";
        this.expect(COMMA, `',' after ${prev} coordinate`);
      }
      const tok = this.expect(INT, `an integer ${axis} coordinate`);
      const value = toInt(tok.text);
      if (!(value >= 0 && value <= MAX_COORDINATE)) {
        throw this.fail(tok,
          `${axis} coordinate must be between 0 and ${MAX_COORDINATE}, found ${tok.text}`);
      }
      coords.push(value);
    }
    return [coords, first];
  }

  hexagons() {
    this.header("hexagons");
    const tok = this.peek();
    if (tok.kind !== INT) {
      throw this.fail(tok,
        `expected at least one hexagon 'x,y,z' after 'hexagons:', found ${describe(tok)}`);
    }
    const hexagons = [];
    while (this.peek().kind === INT) {
      const [pos, first] = this.position();
      if (this.hexIds.has(key(pos))) {
        const other = this.hexLines[this.hexIds.get(key(pos))];
        throw this.fail(first,
          `duplicate hexagon ${fmtPos(pos)} on line ${first.line}; already listed on line ${other}`);
      }
      this.hexIds.set(key(pos), hexagons.length);
      this.hexLines.push(first.line);
      hexagons.push(pos);
    }
    return hexagons;
  }

  hexagonId(pos, tok, what) {
    const id = this.hexIds.get(key(pos));
    if (id === undefined) throw this.fail(tok, `${what} ${fmtPos(pos)} is not a listed hexagon`);
    return id;
  }

  axons() {
    this.header("axons");
    const axons = [];
    const sources = new Map();
    while (this.peek().kind === INT) {
      const [srcPos, srcTok] = this.position();
      const src = this.hexagonId(srcPos, srcTok, "axon source");
      this.expect(ARROW, "'->' after axon source");
      const [dstPos, dstTok] = this.position();
      const dst = this.hexagonId(dstPos, dstTok, "axon target");
      if (src === dst) throw this.fail(dstTok, `axon from hexagon ${fmtPos(srcPos)} to itself`);
      if (sources.has(src)) {
        throw this.fail(srcTok,
          `hexagon ${fmtPos(srcPos)} already has an axon (line ${sources.get(src)}); ` +
          "a hexagon may have at most one outgoing axon");
      }
      sources.set(src, srcTok.line);
      axons.push([src, dst]);
    }
    return axons;
  }

  interfaces(what, suffixes, owners, names) {
    if (!this.atName()) {
      const tok = this.peek();
      throw this.fail(tok,
        `expected at least one ${what} 'name: x,y,z' after '${what}s:', found ${describe(tok)}`);
    }
    const suffixWord = what === "input" ? "kind" : "type";
    const entries = [];
    while (this.atName()) {
      const nameTok = this.advance();
      const name = nameTok.text;
      if (name.length > MAX_NAME_LENGTH) {
        throw this.fail(nameTok,
          `${what} name is ${name.length} characters long; ` +
          `names must be shorter than ${MAX_NAME_LENGTH + 1}`);
      }
      if (names.has(name)) {
        throw this.fail(nameTok, `duplicate name '${name}' (first used on line ${names.get(name)})`);
      }
      this.expect(COLON, `':' after ${what} name '${name}'`);
      const [pos, posTok] = this.position();
      const hid = this.hexagonId(pos, posTok, `${what} position`);
      if (owners.has(hid)) {
        const [oWhat, oName, oLine] = owners.get(hid);
        throw this.fail(posTok,
          `hexagon ${fmtPos(pos)} already carries ${oWhat} '${oName}' (line ${oLine}); ` +
          "a hexagon can carry at most one input or output");
      }
      let suffix = "plain";
      if (this.peek().kind === LPAREN) {
        this.advance();
        const tok = this.peek();
        if (tok.kind !== IDENT) {
          throw this.fail(tok,
            `expected ${what} ${suffixWord} (${suffixes.join(" or ")}) after '(', ` +
            `found ${describe(tok)}`);
        }
        if (!suffixes.includes(tok.text)) {
          throw this.fail(tok,
            `unknown ${what} ${suffixWord} '${tok.text}'; expected one of ${suffixes.join(", ")}`);
        }
        this.advance();
        suffix = tok.text;
        this.expect(RPAREN, `')' after ${what} ${suffixWord} '${suffix}'`);
      }
      names.set(name, nameTok.line);
      owners.set(hid, [what, name, nameTok.line]);
      entries.push([name, hid, suffix]);
    }
    return entries;
  }
}

function defaultSettings() {
  return {
    neuron_cooldown: 1e9,
    refractory_time: 1,
    max_connection_distance: 1,
    enable_reduction: false,
    profile: "default",
    seed: null,
    input_gain: true,
  };
}

/** Parse and validate template text; throws TemplateError on the first problem. */
export function parseTemplate(text) {
  return new Parser(tokenize(text)).parse();
}

/** {ok: true, template} or {ok: false, error: {line, column, message, text}}. */
export function validateTemplate(text) {
  try {
    return { ok: true, template: parseTemplate(text) };
  } catch (err) {
    if (err instanceof TemplateError) {
      return {
        ok: false,
        error: { line: err.line, column: err.column, message: err.detail, text: err.message },
      };
    }
    throw err;
  }
}

export const EXAMPLE_TEMPLATE = `version: 1
settings:
    neuron_cooldown: 10000000.0
    refractory_time: 1
    max_connection_distance: 1
    enable_reduction: false
hexagons:
    1,1,1
    3,1,1
    4,1,1
axons:
    1,1,1 -> 3,1,1
inputs:
    picture_hex: 1,1,1
outputs:
    label_hex: 4,1,1
`;
