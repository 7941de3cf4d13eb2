/**
 * `docker commit --change`: Dockerfile instructions applied to an image's container config, the
 * way moby's `builder/dockerfile.BuildFromConfig` does it with BuildKit's parser — same accepted
 * instructions, same syntax (JSON and shell forms, `ENV a=b c=d` and legacy `ENV a b`, quotes,
 * `$VAR` expansion against the config's Env) and the same error texts.
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { HealthConfig, ImageRuntimeConfig } from './image-config.js';

/** VALID_CHANGE_COMMANDS are the instructions `docker commit --change` accepts (moby `validCommitCommands`). */
export const VALID_CHANGE_COMMANDS: ReadonlySet<string> = new Set([
  'cmd',
  'entrypoint',
  'healthcheck',
  'env',
  'expose',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const ESCAPE = '\\';
const WHITESPACE = /[\t\v\f\r ]+/;
const MINIMUM_DURATION_NS = 1_000_000; // container.MinimumDuration, 1ms
const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

function bad(msg: string): never {
  throw new InvalidArgumentError(msg);
}

// ---------------------------------------------------------------------------------------------
// Parsing: logical lines -> instruction nodes (BuildKit's frontend/dockerfile/parser)

interface Node {
  /** cmd is the instruction word as written (moby prints it as is in its error). */
  cmd: string;
  lower: string;
  original: string;
  flags: string[];
  args: string[];
  json: boolean;
  /** kv holds ENV/LABEL pairs (raw, before quote removal and expansion). */
  kv?: [string, string][];
}

function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending: string | undefined;
  for (const physical of text.split('\n')) {
    const trimmed = physical.trimStart();
    if (pending === undefined && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (pending !== undefined && trimmed.startsWith('#')) continue; // comments inside a continuation
    const m = /\\[ \t]*$/.exec(physical);
    const part = m ? physical.slice(0, m.index) : physical;
    pending = pending === undefined ? part : pending + part;
    if (!m) {
      out.push(pending);
      pending = undefined;
    }
  }
  if (pending !== undefined && pending.trim() !== '') out.push(pending);
  return out;
}

// parseWords of line_parsers.go: whitespace-separated words, quotes and escapes kept in the text.
function parseWords(rest: string): string[] {
  const words: string[] = [];
  let phase: 'space' | 'word' | 'quote' = 'space';
  let quote = '';
  let blankOK = false;
  let cur = '';
  const chars = [...rest];
  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = chars[pos] ?? '';
    if (phase === 'space') {
      if (pos === chars.length) break;
      if (/\s/.test(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || cur.length > 0) words.push(cur);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'space';
        if (blankOK || cur.length > 0) words.push(cur);
        cur = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === ESCAPE) {
        if (pos + 1 === chars.length) continue;
        cur += ch;
        pos++;
        cur += chars[pos] ?? '';
        continue;
      }
      cur += ch;
      continue;
    }
    // in quote
    if (ch === quote) phase = 'word';
    if (ch === ESCAPE && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      cur += ch;
      pos++;
      cur += chars[pos] ?? '';
      continue;
    }
    cur += ch;
  }
  return words;
}

function parseNameVal(rest: string, key: string): [string, string][] {
  const words = parseWords(rest);
  if (words.length === 0) return [];
  const first = words[0] ?? '';
  if (!first.includes('=')) {
    const parts = rest.split(WHITESPACE);
    const i = rest.search(WHITESPACE);
    if (parts.length < 2 || i === -1) bad(`${key} must have two arguments`);
    const m = WHITESPACE.exec(rest.slice(i));
    return [[rest.slice(0, i), rest.slice(i + (m?.[0].length ?? 1))]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq === -1) bad(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [w.slice(0, eq), w.slice(eq + 1)] as [string, string];
  });
}

// parseJSON: a JSON array of strings, or undefined when rest is not JSON (shell form).
function parseJSON(rest: string): string[] | undefined {
  const r = rest.trimStart();
  if (!r.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(r);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((s) => typeof s === 'string')) bad(NOT_STRING_ARRAY);
  return v as string[];
}

function parseMaybeJSON(rest: string): { args: string[]; json: boolean } {
  if (rest === '') return { args: [], json: false };
  const j = parseJSON(rest);
  return j !== undefined ? { args: j, json: true } : { args: [rest], json: false };
}

function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE);
}

function extractFlags(rest: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let r = rest;
  for (;;) {
    r = r.trimStart();
    if (!r.startsWith('--')) break;
    const m = /^\S+/.exec(r);
    const word = m?.[0] ?? '';
    r = r.slice(word.length);
    if (word === '--') break;
    flags.push(word.slice(2));
  }
  return { flags, rest: r.trim() };
}

function parseLine(line: string): Node {
  const trimmed = line.trim();
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(trimmed);
  const cmd = m?.[1] ?? '';
  const { flags, rest } = extractFlags(m?.[2] ?? '');
  const lower = cmd.toLowerCase();
  const node: Node = { cmd, lower, original: line, flags, args: [], json: false };
  switch (lower) {
    case 'env':
    case 'label':
      node.kv = parseNameVal(rest, lower === 'env' ? 'ENV' : 'LABEL');
      break;
    case 'cmd':
    case 'entrypoint': {
      const r = parseMaybeJSON(rest);
      node.args = r.args;
      node.json = r.json;
      break;
    }
    case 'healthcheck': {
      const s = /^(\S+)\s*([\s\S]*)$/.exec(rest);
      if (s) {
        const r = parseMaybeJSON(s[2] ?? '');
        node.args = [s[1] ?? '', ...r.args];
        node.json = r.json;
      }
      break;
    }
    case 'expose':
      node.args = splitWhitespace(rest);
      break;
    case 'volume': {
      const j = parseJSON(rest);
      node.args = j ?? splitWhitespace(rest);
      node.json = j !== undefined;
      break;
    }
    case 'onbuild':
      if (rest !== '') node.args = [rest];
      break;
    default:
      // user, workdir, stopsignal take the rest as one string; unknown instructions are ignored here.
      if (rest !== '') node.args = [rest];
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Word processing: quote removal and variable expansion (BuildKit's shell.Lex)

type Env = readonly string[];

function lookupEnv(env: Env, name: string): string | undefined {
  let found: string | undefined;
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq !== -1 && e.slice(0, eq) === name) found = e.slice(eq + 1);
  }
  return found;
}

class Lexer {
  pos = 0;
  readonly chars: string[];
  constructor(
    text: string,
    private readonly env: Env,
  ) {
    this.chars = [...text];
  }

  peek(): string | undefined {
    return this.chars[this.pos];
  }

  next(): string | undefined {
    return this.chars[this.pos++];
  }

  /** words processes the text; with split, unquoted whitespace (also from expansions) separates words. */
  words(split: boolean): string[] {
    const out: string[] = [];
    let cur = '';
    let inWord = false;
    const flush = (): void => {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    };
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) break;
      if (split && /\s/.test(ch)) {
        this.pos++;
        flush();
        continue;
      }
      if (ch === "'") {
        this.pos++;
        cur += this.singleQuoted();
        inWord = true;
      } else if (ch === '"') {
        this.pos++;
        cur += this.doubleQuoted();
        inWord = true;
      } else if (ch === '$') {
        const value = this.dollar();
        if (!split) {
          cur += value;
          inWord = true;
        } else {
          const parts = value.split(/\s+/);
          parts.forEach((p, i) => {
            if (i > 0) flush();
            if (p !== '') {
              cur += p;
              inWord = true;
            }
          });
        }
      } else if (ch === ESCAPE) {
        this.pos++;
        const n = this.next();
        if (n !== undefined) cur += n;
        inWord = true;
      } else {
        this.pos++;
        cur += ch;
        inWord = true;
      }
    }
    if (split) flush();
    else out.push(cur);
    return out;
  }

  singleQuoted(): string {
    let s = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) bad('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return s;
      s += ch;
    }
  }

  doubleQuoted(): string {
    let s = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) bad('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.pos++;
        return s;
      }
      if (ch === '$') {
        s += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === ESCAPE) {
        const n = this.next();
        if (n === undefined) return s;
        s += n;
        continue;
      }
      s += ch;
    }
  }

  dollar(): string {
    this.pos++; // '$'
    const ch = this.peek();
    if (ch === '{') {
      this.pos++;
      let name = '';
      while (this.peek() !== undefined && /[A-Za-z0-9_]/.test(this.peek() ?? '')) name += this.next();
      const c = this.next();
      if (c === '}') return lookupEnv(this.env, name) ?? '';
      if (c === ':') {
        const op = this.next();
        const word = this.braceWord();
        const value = lookupEnv(this.env, name);
        switch (op) {
          case '-':
            return value === undefined || value === '' ? word : value;
          case '+':
            return value === undefined || value === '' ? '' : word;
          case '?':
            if (value === undefined || value === '') bad(`${name}: ${word || 'is not allowed to be unset'}`);
            return value;
          default:
            return bad(`unsupported modifier (${op ?? ''}) in substitution`);
        }
      }
      return bad(`missing ':' in substitution`);
    }
    let name = '';
    while (this.peek() !== undefined && /[A-Za-z0-9_]/.test(this.peek() ?? '')) name += this.next();
    if (name === '') return '$';
    return lookupEnv(this.env, name) ?? '';
  }

  braceWord(): string {
    let depth = 0;
    let raw = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) bad(`syntax error: missing '}'`);
      if (ch === '}' && depth === 0) break;
      if (ch === '{') depth++;
      if (ch === '}') depth--;
      raw += ch;
    }
    return new Lexer(raw, this.env).words(false)[0] ?? '';
  }
}

/** processWord removes quotes and expands `$VAR`/`${VAR}`/`${VAR:-x}`/`${VAR:+x}` against env. */
export function processWord(word: string, env: readonly string[]): string {
  return new Lexer(word, env).words(false)[0] ?? '';
}

/** processWords is processWord with word splitting on unquoted whitespace (EXPOSE only). */
export function processWords(word: string, env: readonly string[]): string[] {
  return new Lexer(word, env).words(true);
}

// ---------------------------------------------------------------------------------------------
// Values: durations, signals, ports

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** parseGoDuration parses a Go `time.Duration` string (`1m30s`, `500ms`, `1.5h`) into nanoseconds. */
export function parseGoDuration(s: string): number {
  const invalid = (): never => bad(`time: invalid duration "${s}"`);
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') invalid();
  let total = 0;
  while (rest !== '') {
    const m = /^([0-9]*(?:\.[0-9]*)?)([^0-9.]*)/.exec(rest);
    const num = m?.[1] ?? '';
    const unit = m?.[2] ?? '';
    if (num === '' || num === '.') invalid();
    if (unit === '') bad(`time: missing unit in duration "${s}"`);
    const mult = UNIT_NS[unit];
    if (mult === undefined) bad(`time: unknown unit "${unit}" in duration "${s}"`);
    total += Number.parseFloat(num) * mult;
    rest = rest.slice(num.length + unit.length);
  }
  return sign * Math.round(total);
}

const SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
  'RTMIN',
  'RTMAX',
]);

/**
 * validateSignal accepts what moby's `signal.ParseSignal` accepts on Linux: a non-zero number or a
 * signal name with or without `SIG`, any case (`RTMIN+n`, `RTMAX-n` included); else
 * `Invalid signal: x`.
 */
export function validateSignal(raw: string): string {
  if (/^[+-]?[0-9]+$/.test(raw)) {
    if (Number.parseInt(raw, 10) === 0) bad(`Invalid signal: ${raw}`);
    return raw;
  }
  let name = raw.toUpperCase();
  if (name.startsWith('SIG')) name = name.slice(3);
  const rt = /^RTMIN\+([0-9]+)$/.exec(name) ?? /^RTMAX-([0-9]+)$/.exec(name);
  if (rt) {
    const n = Number.parseInt(rt[1] ?? '', 10);
    if (n >= 1 && n <= (name.startsWith('RTMIN') ? 15 : 14)) return raw;
  } else if (SIGNALS.has(name)) {
    return raw;
  }
  return bad(`Invalid signal: ${raw}`);
}

function parsePortNumber(p: string): number | undefined {
  if (!/^[0-9]+$/.test(p)) return undefined;
  const n = Number.parseInt(p, 10);
  return n <= 65535 ? n : undefined;
}

/**
 * exposedPortKeys turns EXPOSE port specs (`80`, `80/udp`, `8000-8002/tcp`, `[ip:]host:ctr[/p]`)
 * into `port/proto` keys as go-connections `nat.ParsePortSpecs` does; errors are
 * `invalid containerPort: x`, `invalid proto: x`.
 */
export function exposedPortKeys(specs: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of specs) {
    const containerPart = raw.slice(raw.lastIndexOf(':') + 1);
    const slash = containerPart.split('/');
    let proto = 'tcp';
    let port = containerPart;
    if (containerPart === '' || slash[0] === '') bad(`no port specified: ${raw}<empty>`);
    if (slash.length > 1) {
      port = slash[0] ?? '';
      if ((slash[1] ?? '') !== '') proto = slash[1] ?? '';
    }
    const dash = port.split('-');
    const start = parsePortNumber(dash[0] ?? '');
    const end = dash.length === 2 ? parsePortNumber(dash[1] ?? '') : start;
    if (start === undefined || end === undefined || dash.length > 2) bad(`invalid containerPort: ${port}`);
    if (end < start) bad(`invalid containerPort: ${port}`);
    if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) bad(`invalid proto: ${proto}`);
    for (let p = start; p <= end; p++) out.push(`${p}/${proto.toLowerCase()}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Instructions -> config

function noFlags(node: Node): void {
  const f = node.flags[0];
  if (f !== undefined) bad(`unknown flag: ${f.split('=')[0] ?? f}`);
}

function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') bad('cannot normalize nothing');
  const joined = requested.startsWith('/') ? requested : `/${current}/${requested}`;
  const parts: string[] = [];
  for (const seg of joined.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

function healthFlags(node: Node): Record<string, string> {
  const allowed = new Set(['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
  const out: Record<string, string> = {};
  for (const f of node.flags) {
    const eq = f.indexOf('=');
    const name = eq === -1 ? f : f.slice(0, eq);
    if (!allowed.has(name)) bad(`unknown flag: ${name}`);
    if (eq === -1) bad(`missing a value on flag: ${name}`);
    out[name] = f.slice(eq + 1);
  }
  return out;
}

function parseInterval(flags: Record<string, string>, name: string): number {
  const v = flags[name];
  if (v === undefined || v === '') return 0;
  const d = parseGoDuration(v);
  if (d === 0) return 0;
  if (d < MINIMUM_DURATION_NS) bad(`Interval "${name}" cannot be less than 1ms`);
  return d;
}

function parseHealthcheck(node: Node): HealthConfig {
  if (node.args.length === 0) bad('HEALTHCHECK requires at least one argument');
  const typ = (node.args[0] ?? '').toUpperCase();
  const args = node.args.slice(1);
  if (typ === 'NONE') {
    if (args.length !== 0) bad('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  const flags = healthFlags(node);
  if (typ !== 'CMD') bad(`Unknown type "${typ}" in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? args : args.length > 0 ? [args.join(' ')] : [];
  if (cmd.length === 0) bad('Missing command after HEALTHCHECK CMD');
  const health: HealthConfig = { Test: [node.json ? 'CMD' : 'CMD-SHELL', ...cmd] };
  const set = (k: keyof HealthConfig, v: number): void => {
    if (v !== 0) (health as Record<string, unknown>)[k] = v;
  };
  set('Interval', parseInterval(flags, 'interval'));
  set('Timeout', parseInterval(flags, 'timeout'));
  set('StartPeriod', parseInterval(flags, 'start-period'));
  set('StartInterval', parseInterval(flags, 'start-interval'));
  const retries = flags.retries;
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?[0-9]+$/.test(retries)) bad(`strconv.ParseInt: parsing "${retries}": invalid syntax`);
    const n = Number.parseInt(retries, 10);
    if (n < 0) bad(`--retries cannot be negative (${n})`);
    set('Retries', n);
  }
  return health;
}

// ParseCommand's argument checks, before anything is applied.
function checkArgs(node: Node): void {
  const upper = node.lower.toUpperCase();
  switch (node.lower) {
    case 'env':
    case 'label':
      noFlags(node);
      if ((node.kv ?? []).length === 0) bad(`${upper} requires at least one argument`);
      if ((node.kv ?? []).some(([k]) => k === '')) bad(`${upper} names can not be blank`);
      break;
    case 'user':
    case 'workdir':
    case 'stopsignal':
      if (node.args.length !== 1) bad(`${upper} requires exactly one argument`);
      if (node.lower !== 'stopsignal') noFlags(node);
      break;
    case 'expose':
      if (node.args.length === 0) bad('EXPOSE requires at least one argument');
      noFlags(node);
      break;
    case 'volume':
      if (node.args.length === 0) bad('VOLUME requires at least one argument');
      noFlags(node);
      if (node.args.some((v) => v.trim() === '')) bad('VOLUME specified can not be an empty string');
      break;
    case 'onbuild': {
      if (node.args.length === 0) bad('ONBUILD requires at least one argument');
      noFlags(node);
      const trigger = (/^\S+/.exec(node.args[0] ?? '')?.[0] ?? '').toUpperCase();
      if (trigger === 'ONBUILD') bad("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM')
        bad(`${trigger} isn't allowed as an ONBUILD trigger`);
      break;
    }
    case 'healthcheck':
      parseHealthcheck(node);
      break;
    default:
      noFlags(node);
  }
}

// setOwn defines an own property, so a user key like `__proto__` is stored, not a prototype change.
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function cloneConfig(c: ImageRuntimeConfig): ImageRuntimeConfig {
  return structuredClone(c);
}

/**
 * applyChanges returns a copy of config with the `--change` instructions applied in order, as
 * `docker commit --change` does. Accepted: CMD ENTRYPOINT ENV EXPOSE HEALTHCHECK LABEL ONBUILD
 * STOPSIGNAL USER VOLUME WORKDIR, in any case. Shell-form CMD/ENTRYPOINT run through the config's
 * Shell (default `/bin/sh -c`); ENTRYPOINT clears Cmd unless a CMD came earlier in the same
 * changes; ENV/LABEL/USER/WORKDIR/VOLUME/STOPSIGNAL/EXPOSE expand `$VAR` against the Env as it
 * stands. Any other instruction is InvalidArgumentError `X is not a valid change command`; bad
 * syntax gets BuildKit's message (`ENV must have two arguments`, `USER requires exactly one
 * argument`, ...). The input config is never modified.
 */
export function applyChanges(config: ImageRuntimeConfig, changes: readonly string[]): ImageRuntimeConfig {
  if (changes.length === 0) return cloneConfig(config);
  const nodes = logicalLines(changes.join('\n')).map(parseLine);
  for (const n of nodes) {
    if (!VALID_CHANGE_COMMANDS.has(n.lower)) bad(`${n.cmd} is not a valid change command`);
  }
  nodes.forEach(checkArgs);

  const c = cloneConfig(config);
  let cmdSet = false;
  const shell = (): string[] => (c.Shell && c.Shell.length > 0 ? [...c.Shell] : [...DEFAULT_SHELL]);
  const cmdLine = (n: Node): string[] => {
    if (n.args.length === 0) return [];
    return n.json ? [...n.args] : [...shell(), n.args.join(' ')];
  };
  const setArgsEscaped = (): void => {
    if (c.ArgsEscaped !== undefined) c.ArgsEscaped = false;
  };

  for (const n of nodes) {
    const env = c.Env ?? [];
    const word = (w: string): string => processWord(w, env);
    switch (n.lower) {
      case 'cmd':
        c.Cmd = cmdLine(n);
        if (n.args.length > 0) {
          setArgsEscaped();
          cmdSet = true;
        }
        break;
      case 'entrypoint':
        c.Entrypoint = cmdLine(n);
        if (n.args.length > 0) setArgsEscaped();
        if (!cmdSet) c.Cmd = null;
        break;
      case 'env': {
        const next = [...env];
        for (const [k, v] of n.kv ?? []) {
          const entry = `${word(k)}=${word(v)}`;
          const key = word(k);
          const i = next.findIndex((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) === key);
          if (i === -1) next.push(entry);
          else next[i] = entry;
        }
        c.Env = next;
        break;
      }
      case 'label': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of n.kv ?? []) setOwn(labels, word(k), word(v));
        c.Labels = labels;
        break;
      }
      case 'expose': {
        const ports = n.args.flatMap((p) => processWords(p, env));
        const exposed = { ...(c.ExposedPorts ?? {}) };
        for (const key of exposedPortKeys(ports)) exposed[key] = {};
        c.ExposedPorts = exposed;
        break;
      }
      case 'healthcheck':
        c.Healthcheck = parseHealthcheck(n);
        break;
      case 'onbuild':
        c.OnBuild = [...(c.OnBuild ?? []), n.original.replace(/^\s*ONBUILD\s*/i, '')];
        break;
      case 'stopsignal':
        c.StopSignal = validateSignal(word(n.args[0] ?? ''));
        break;
      case 'user':
        c.User = word(n.args[0] ?? '');
        break;
      case 'volume': {
        const volumes = { ...(c.Volumes ?? {}) };
        for (const v of n.args) {
          const path = n.json ? v.trim() : word(v.trim());
          if (path === '') bad('VOLUME specified can not be an empty string');
          setOwn(volumes, path, {});
        }
        c.Volumes = volumes;
        break;
      }
      case 'workdir':
        c.WorkingDir = normalizeWorkdir(c.WorkingDir ?? '', word(n.args[0] ?? ''));
        break;
    }
  }
  return c;
}
