// Dates, sizes and error messages in the UI language.

import type { AppError } from "./bindings/AppError";
import type { TermView } from "./bindings/TermView";
import { hasKey, language, locale, t } from "./i18n";

/** u64 fields may be generated as `bigint`; at run time serde_json sends plain numbers. */
export function num(value: number | bigint | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}

function parse(iso: string): Date | null {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * Times are shown as the wall clock where they were recorded (the offset stored with them), not
 * converted to this computer's zone: a monitor's 10:30 in Bishkek stays 10:30 at HQ. The date is
 * shifted by that offset and formatted as UTC.
 */
function recorded(iso: string): Date | null {
  const d = parse(iso);
  if (!d) return null;
  const m = /([+-])(\d{2}):(\d{2})$/.exec(iso);
  const minutes = m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  return new Date(d.getTime() + minutes * 60_000);
}

export function formatDateTime(iso: string): string {
  const d = recorded(iso);
  return d
    ? new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }).format(d)
    : iso;
}

export function formatNow(): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date());
}

/** HH:MM:SS on the clock where the entry was typed, for the live log. */
export function formatClock(iso: string | Date): string {
  const d = typeof iso === "string" ? recorded(iso) : iso;
  if (!d) return String(iso);
  return new Intl.DateTimeFormat(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    ...(typeof iso === "string" ? { timeZone: "UTC" } : {}),
  }).format(d);
}

/** HH:MM on the clock where it was noted, for a time given to the minute. */
export function formatMinute(iso: string): string {
  const d = recorded(iso);
  if (!d) return iso;
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" }).format(d);
}

/**
 * "HH:MM" typed by a person as an RFC 3339 time with this computer's offset: the latest such
 * minute that is not after `now` (today, or yesterday for a time later than now). `null` if the
 * text is not a time.
 */
export function happenedAt(text: string, now: Date = new Date()): string | null {
  const m = /^\s*([01]?\d|2[0-3])[:.]([0-5]\d)\s*$/.exec(text);
  if (!m) return null;
  const at = new Date(now.getFullYear(), now.getMonth(), now.getDate(), Number(m[1]), Number(m[2]), 0, 0);
  if (at.getTime() > now.getTime()) at.setDate(at.getDate() - 1);
  const pad = (n: number) => String(Math.abs(n)).padStart(2, "0");
  const offset = -at.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  return (
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}:00` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

export function formatSize(bytes: number): string {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(locale(), {
    style: "unit",
    unit: units[unit],
    unitDisplay: unit === 0 ? "long" : "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

/** The translation of an error's code, or its English message when there is none. */
export function errorText(err: AppError | unknown): string {
  const e = err as Partial<AppError> | null;
  const code = e && typeof e.code === "string" ? e.code : "";
  const key = `error.${code}`;
  if (code && hasKey(key)) return t(key);
  if (e && typeof e.message === "string" && e.message) return e.message;
  return t("error.unexpected", { message: String(err) });
}

export function termLabel(term: TermView): string {
  const labels = term.labels as Record<string, string | undefined>;
  return labels[language()] ?? labels.en ?? term.code;
}

/** A random (version 4) UUID for new parties, acts, sources and interventions. */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const NIL_UUID = "00000000-0000-0000-0000-000000000000";
