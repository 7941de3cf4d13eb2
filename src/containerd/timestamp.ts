import type { Timestamp, Timestamp__Output } from '../gen/google/protobuf/Timestamp.js';

/** timestampToNanos converts a protobuf Timestamp to nanoseconds since the epoch (0n for null). */
export function timestampToNanos(ts: Timestamp__Output | null | undefined): bigint {
  if (!ts) return 0n;
  return BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos);
}

/** timestampToDate converts a protobuf Timestamp to a Date (millisecond precision; epoch for null). */
export function timestampToDate(ts: Timestamp__Output | null | undefined): Date {
  return new Date(Number(timestampToNanos(ts) / 1_000_000n));
}

/** dateToTimestamp converts a Date to a protobuf Timestamp. */
export function dateToTimestamp(d: Date): Timestamp {
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}
