// Dates as people type them: both forms read in every language, each language shown its own
// way, impossible days refused; and "happened at" HH:MM taken as the latest such minute.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

globalThis.document = { documentElement: {}, body: { querySelectorAll: () => [] } };

const out = await mkdtemp(join(tmpdir(), "vigil-dates-"));
// One bundle, so that the dates read the language that `setLanguage` sets.
await build({
  stdin: {
    contents: 'export * from "./parts/dates"; export { setLanguage } from "./i18n"; export { happenedAt } from "./format";',
    resolveDir: new URL("../src", import.meta.url).pathname,
    loader: "ts",
  },
  bundle: true,
  format: "esm",
  platform: "node",
  outfile: join(out, "dates.mjs"),
  logLevel: "warning",
});
const dates = await import(join(out, "dates.mjs"));
const i18n = dates;
const format = dates;
await rm(out, { recursive: true, force: true });

test("a day in either form, in every language", () => {
  for (const text of ["2019-05-23", "23.05.2019", "23/05/2019", " 23.5.2019 "]) {
    assert.equal(dates.parseDay(text), "2019-05-23", text);
  }
  for (const text of ["05/23/2019", "31.02.2019", "2019-13-01", "yesterday", ""]) {
    assert.equal(dates.parseDay(text), null, text);
  }
});

test("a date and time, seconds kept unless zero", () => {
  assert.equal(dates.parseDateTime("23.05.2019 14:30"), "2019-05-23T14:30");
  assert.equal(dates.parseDateTime("2019-05-23 14:30:07"), "2019-05-23T14:30:07");
  assert.equal(dates.parseDateTime("2019-05-23T09:05:00"), "2019-05-23T09:05");
  for (const text of ["23.05.2019", "23.05.2019 24:00", "23.05.2019 14:60", "14:30"]) {
    assert.equal(dates.parseDateTime(text), null, text);
  }
});

test("each language shows its own form, which reads back", () => {
  const shown = {};
  for (const lang of ["en", "ru", "ky"]) {
    i18n.setLanguage(lang);
    shown[lang] = dates.showDateTime("2019-05-23T14:30:07");
    assert.equal(dates.parseDateTime(shown[lang]), "2019-05-23T14:30:07");
  }
  assert.deepEqual(shown, { en: "2019-05-23 14:30:07", ru: "23.05.2019 14:30:07", ky: "23.05.2019 14:30:07" });
});

test("happened at HH:MM is the latest such minute, never later than now", () => {
  const now = new Date(2019, 4, 23, 14, 30, 0);
  const at = (text) => format.happenedAt(text, now);
  assert.match(at("14:02"), /^2019-05-23T14:02:00[+-]\d\d:\d\d$/);
  assert.match(at("14:30"), /^2019-05-23T14:30:00/);
  assert.match(at("23:50"), /^2019-05-22T23:50:00/, "later today means yesterday");
  for (const text of ["24:00", "7", "14:3", "noon"]) assert.equal(at(text), null, text);
});
