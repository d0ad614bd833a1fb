// Dates as people write them in the chosen language, not as WebKit's own date fields show them
// (those follow the system's locale: mm/dd/yyyy on most machines, whatever the UI language).
// English is written ISO 8601 (2019-05-23, which nobody misreads), Russian and Kyrgyz
// day-first (23.05.2019). Either form is read in every language.

import { language } from "../i18n";

/** A day as `YYYY-MM-DD`, or null if `text` is not one (either form, a real calendar day). */
export function parseDay(text: string): string | null {
  const s = text.trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  let y: number, mo: number, d: number;
  if (m) [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else if ((m = /^(\d{1,2})[./](\d{1,2})[./](\d{4})$/.exec(s))) [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else return null;
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** `YYYY-MM-DD` as the language writes it. */
export function showDay(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return iso;
  return language() === "en" ? iso : `${m[3]}.${m[2]}.${m[1]}`;
}

/**
 * A local date and time, `YYYY-MM-DDTHH:MM` or with `:SS`, from a day (either form) and a time
 * (`HH:MM` or `HH:MM:SS`); null if it is not one.
 */
export function parseDateTime(text: string): string | null {
  const m = /^\s*(\S+)(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/.exec(text);
  if (!m) return null;
  const day = parseDay(m[1]!);
  const [hh, mm, ss] = [Number(m[2]), Number(m[3]), m[4] === undefined ? null : Number(m[4])];
  if (!day || hh > 23 || mm > 59 || (ss !== null && ss > 59)) return null;
  const time = `${String(hh).padStart(2, "0")}:${m[3]}${ss !== null && ss !== 0 ? `:${m[4]}` : ""}`;
  return `${day}T${time}`;
}

/** `YYYY-MM-DDTHH:MM[:SS]` as the language writes it, date and time apart by a space. */
export function showDateTime(local: string): string {
  const [day, time] = local.split("T");
  return day && time ? `${showDay(day)} ${time}` : local;
}
