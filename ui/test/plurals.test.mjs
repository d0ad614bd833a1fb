// Every count in every language, rendered with 0, 1, 2, 5 and 21 through the real `t()`: each
// picks the form its language's rule (Intl.PluralRules) asks for, and none shows a raw template.
// src/i18n.ts is bundled by esbuild for Node, as the window's build bundles it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

// `setLanguage` re-translates the page; here there is no page to translate.
globalThis.document = { documentElement: {}, body: { querySelectorAll: () => [] } };

const out = await mkdtemp(join(tmpdir(), "vigil-i18n-"));
await build({
  entryPoints: [new URL("../src/i18n.ts", import.meta.url).pathname],
  bundle: true,
  format: "esm",
  platform: "node",
  outfile: join(out, "i18n.mjs"),
  logLevel: "warning",
});
const i18n = await import(join(out, "i18n.mjs"));
await rm(out, { recursive: true, force: true });

const COUNTS = [0, 1, 2, 5, 21];
const en = i18n.TABLES_FOR_CHECK.en;
const pluralKeys = Object.keys(en).filter((k) => typeof en[k] !== "string");

test("there are counts to check", () => {
  assert.ok(pluralKeys.length >= 10, `only ${pluralKeys.length} plural keys`);
});

for (const lang of i18n.LANGS) {
  test(`${lang}: every count has the forms its language needs and renders cleanly`, () => {
    i18n.setLanguage(lang);
    const categories = new Intl.PluralRules(i18n.locale()).resolvedOptions().pluralCategories;
    for (const key of pluralKeys) {
      const forms = i18n.TABLES_FOR_CHECK[lang][key];
      assert.equal(typeof forms, "object", `${lang} ${key} is not written with plural forms`);
      for (const c of categories) {
        assert.ok(typeof forms[c] === "string", `${lang} ${key} lacks the "${c}" form`);
      }
      for (const c of Object.keys(forms)) {
        assert.ok(categories.includes(c), `${lang} ${key} has a "${c}" form ${lang} never uses`);
      }
      for (const n of COUNTS) {
        const text = i18n.t(key, { n, at: "2024-03-08", path: "/media/usb" });
        assert.doesNotMatch(text, /\b(zero|one|two|few|many|other)=/, `${lang} ${key} n=${n}: ${text}`);
        assert.doesNotMatch(text, /[{}|]/, `${lang} ${key} n=${n}: ${text}`);
        assert.ok(text.includes(i18n.formatNumber(n)), `${lang} ${key} n=${n} lacks the number: ${text}`);
      }
    }
  });

  test(`${lang}: no plain string is a plural template`, () => {
    for (const [key, value] of Object.entries(i18n.TABLES_FOR_CHECK[lang])) {
      if (typeof value === "string") {
        assert.doesNotMatch(value, /^(zero|one|two|few|many|other)=/, `${lang} ${key}`);
      }
    }
  });
}

test("known forms: Russian one/few/many, Kyrgyz's single form, English one/other", () => {
  const cases = {
    en: { 0: "0 entries", 1: "1 entry", 2: "2 entries", 5: "5 entries", 21: "21 entries" },
    ru: { 0: "0 записей", 1: "1 запись", 2: "2 записи", 5: "5 записей", 21: "21 запись" },
    ky: { 0: "0 жазуу", 1: "1 жазуу", 2: "2 жазуу", 5: "5 жазуу", 21: "21 жазуу" },
  };
  for (const [lang, byCount] of Object.entries(cases)) {
    i18n.setLanguage(lang);
    for (const [n, want] of Object.entries(byCount)) {
      assert.equal(i18n.t("list.entries", { n: Number(n) }), want, `${lang} n=${n}`);
    }
  }
  i18n.setLanguage("en");
});
