/**
 * Query-parameter parsing shared by the Docker API routes, matching dockerd's rules:
 * `httputils.BoolValue`, `api/types/filters.FromJSON`, `api/types/time.{GetTimestamp,ParseTimestamps}`
 * and Go's `time.ParseDuration`.
 */
import { InvalidArgumentError } from '../errors/index.js';

/** QueryValue is what Fastify's querystring parser yields for one key. */
export type QueryValue = string | string[] | undefined;

/** firstValue returns the first value of a repeated query key, as Go's `r.Form.Get` does. */
export function firstValue(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length > 0 ? String(v[0]) : undefined;
  if (v === undefined || v === null) return undefined;
  return String(v);
}

const FALSE_VALUES = new Set(['', '0', 'no', 'false', 'none']);

/**
 * parseBool is moby's `BoolValueOrDefault`: absent -> `defaultValue`; otherwise `""`, `0`,
 * `no`, `false`, `none` (trimmed, any case) are false and anything else is true.
 */
export function parseBool(v: unknown, defaultValue = false): boolean {
  const s = firstValue(v);
  if (s === undefined) return defaultValue;
  return !FALSE_VALUES.has(s.trim().toLowerCase());
}

const NS_PER_SECOND = 1_000_000_000n;
const INT64_MAX = (1n << 63n) - 1n;

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: NS_PER_SECOND,
  m: 60n * NS_PER_SECOND,
  h: 3600n * NS_PER_SECOND,
};

/**
 * parseGoDuration parses a Go duration (`300ms`, `-1.5h`, `2h45m`) into nanoseconds, with the
 * grammar of `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`. Throws
 * InvalidArgumentError otherwise.
 */
export function parseGoDuration(value: string): bigint {
  const bad = () => new InvalidArgumentError(`time: invalid duration ${JSON.stringify(value)}`);
  let s = value;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw bad();
  let total = 0n;
  const component = /^(\d*)(?:\.(\d*))?([^\d.]+)/;
  while (s !== '') {
    const m = component.exec(s);
    if (!m) throw bad();
    const [whole, intPart = '', frac, unitName = ''] = m;
    if (intPart === '' && (frac === undefined || frac === '')) throw bad();
    const unit = DURATION_UNITS[unitName];
    if (unit === undefined) {
      throw new InvalidArgumentError(
        `time: unknown unit ${JSON.stringify(unitName)} in duration ${JSON.stringify(value)}`,
      );
    }
    let v = BigInt(intPart || '0') * unit;
    if (frac) v += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    total += v;
    if (total > INT64_MAX) throw bad();
    s = s.slice(whole.length);
  }
  return neg ? -total : total;
}

/** UNIX_TIMESTAMP is dockerd's server-side form: seconds with optional fractional digits. */
const UNIX_TIMESTAMP = /^([+-]?\d+)(?:\.(\d+))?$/;

/** DATE_LIKE is the union of the layouts GetTimestamp tries; parseDateLike narrows it down. */
const DATE_LIKE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{1,2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * parseTimestamp turns a `since`/`until` value into nanoseconds since the epoch, or undefined
 * for an absent/empty value. It accepts what dockerd parses server-side (`1700000000`,
 * `1700000000.123456789`) and, as the docker CLI's `GetTimestamp` does client-side, RFC3339
 * dates (`2024-01-02`, `2024-01-02T15:04`, `2024-01-02T15:04:05.5Z`, `...+02:00`; no zone =
 * local time) and Go durations counted back from `now` (`10m` = ten minutes ago, `-5s` = five
 * seconds ahead; truncated to whole seconds like the CLI). `param` names the value in errors.
 */
export function parseTimestamp(
  value: unknown,
  param = 'timestamp',
  now: Date = new Date(),
): bigint | undefined {
  const s = firstValue(value);
  if (s === undefined || s === '') return undefined;
  const invalid = () =>
    new InvalidArgumentError(
      `invalid ${param}: failed to parse value as time or duration: ${JSON.stringify(s)}`,
    );

  const unix = UNIX_TIMESTAMP.exec(s);
  if (unix) {
    const sec = BigInt(unix[1] ?? '0');
    const frac = unix[2] ?? '';
    const nsec =
      frac === ''
        ? 0n
        : frac.length <= 9
          ? BigInt(frac) * 10n ** BigInt(9 - frac.length)
          : BigInt(frac.slice(0, 9));
    if (sec > INT64_MAX / NS_PER_SECOND || sec < -INT64_MAX / NS_PER_SECOND) throw invalid();
    return sec * NS_PER_SECOND + nsec;
  }

  let duration: bigint | undefined;
  try {
    duration = parseGoDuration(s);
  } catch {
    duration = undefined;
  }
  if (duration !== undefined) {
    const nowNs = BigInt(now.getTime()) * 1_000_000n;
    return floorDiv(nowNs - duration, NS_PER_SECOND) * NS_PER_SECOND;
  }

  const t = parseDateLike(s, now);
  if (t === undefined) throw invalid();
  return t;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/**
 * parseDateLike applies GetTimestamp's layout choice: a zone is expected unless the value has
 * no `z`, `Z`, `+` and not exactly three `-`; a `.` means seconds with a fraction; otherwise
 * the colons after `T` say whether minutes and seconds are present.
 */
function parseDateLike(value: string, now: Date): bigint | undefined {
  const inLocation = !/[zZ+]/.test(value) && value.split('-').length - 1 !== 3;
  const m = DATE_LIKE.exec(value);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, frac, zone] = m;
  if (inLocation === (zone !== undefined)) return undefined;
  if (value.includes('.')) {
    if (frac === undefined) return undefined;
  } else if (value.includes('T')) {
    let colons = value.split(':').length - 1;
    if (!inLocation && !/[zZ]/.test(value) && colons > 0) colons--;
    const fields = 1 + (mis !== undefined ? 1 : 0) + (ss !== undefined ? 1 : 0);
    if (fields !== Math.min(colons, 2) + 1) return undefined;
  }
  const y = Number(ys);
  const mo = Number(mos);
  const d = Number(ds);
  const h = Number(hs ?? 0);
  const mi = Number(mis ?? 0);
  const sec = Number(ss ?? 0);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 59) return undefined;

  let offsetSeconds: number;
  if (zone === undefined) {
    // Go's ParseInLocation(FixedZone(reference.Zone())): the offset in force now, not at that date.
    offsetSeconds = -now.getTimezoneOffset() * 60;
  } else if (zone === 'Z') {
    offsetSeconds = 0;
  } else {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) return undefined;
    offsetSeconds = (zone[0] === '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  }
  const epochSeconds = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offsetSeconds;
  const nsec = frac === undefined ? 0n : BigInt(frac.slice(0, 9).padEnd(9, '0'));
  return BigInt(epochSeconds) * NS_PER_SECOND + nsec;
}

function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(mo) ? 30 : 31;
}

/** daysFromCivil counts days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
