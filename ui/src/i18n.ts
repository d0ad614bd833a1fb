// Every visible string goes through `t(key, params)`. The tables are one file per language in
// ./lang: English defines the keys, and Russian and Kyrgyz are typed `Table`, so a missing or
// misspelt key is a compile error. Values may hold `{name}` placeholders; numbers in params are
// formatted for the language. A count is one form per plural category, chosen for the `n` param
// by the language's own rule (Intl.PluralRules).

import { en, type Key, type Plural, type Table } from "./lang/en";
import { ky } from "./lang/ky";
import { ru } from "./lang/ru";

export type { Key, Plural };

export type Lang = "en" | "ru" | "ky";
export const LANGS: readonly Lang[] = ["en", "ru", "ky"];

const TABLES: Record<Lang, Table> = { en, ru, ky };
const LOCALES: Record<Lang, string> = { en: "en-GB", ru: "ru-RU", ky: "ky-KG" };

let current: Lang = "en";
const listeners = new Set<() => void>();

export type Params = Record<string, string | number>;

/** The language the UI is shown in. */
export function language(): Lang {
  return current;
}

/** The BCP 47 locale used for dates and numbers. */
export function locale(): string {
  return LOCALES[current];
}

export function isLang(value: unknown): value is Lang {
  return typeof value === "string" && (LANGS as readonly string[]).includes(value);
}

/** Switches the language and re-renders everything that registered with `onLanguageChange`. */
export function setLanguage(lang: Lang): void {
  if (lang === current) return;
  current = lang;
  document.documentElement.lang = lang;
  translateTree(document.body);
  for (const listener of listeners) listener();
}

/** Calls `listener` after every language switch; returns a function that stops it. */
export function onLanguageChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function hasKey(key: string): key is Key {
  return Object.prototype.hasOwnProperty.call(en, key);
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(locale()).format(n);
}

export function t(key: Key, params?: Params): string {
  const value: string | Plural = TABLES[current][key] ?? en[key];
  const text = typeof value === "string" ? value : pluralForm(value, params?.n);
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    if (v === undefined) return whole;
    return typeof v === "number" ? formatNumber(v) : v;
  });
}

/** The form of `forms` for the count `n`, by the current language's plural rule. */
function pluralForm(forms: Plural, n: string | number | undefined): string {
  if (typeof n !== "number") return forms.other;
  return forms[pluralRules().select(n)] ?? forms.other;
}

let rules: { locale: string; rules: Intl.PluralRules } | undefined;
function pluralRules(): Intl.PluralRules {
  const wanted = locale();
  if (rules?.locale !== wanted) rules = { locale: wanted, rules: new Intl.PluralRules(wanted) };
  return rules.rules;
}

/** Fills every element under `root` marked with `data-i18n*` attributes (set by `h`). */
export function translateTree(root: ParentNode): void {
  for (const node of root.querySelectorAll<HTMLElement>("[data-i18n]")) {
    const key = node.dataset.i18n;
    if (key && hasKey(key)) node.textContent = t(key, readParams(node));
  }
  for (const [attr, data] of ATTRS) {
    for (const node of root.querySelectorAll<HTMLElement>(`[data-i18n-${attr}]`)) {
      const key = node.dataset[data];
      if (key && hasKey(key)) node.setAttribute(attr, t(key));
    }
  }
}

const ATTRS: ReadonlyArray<[string, string]> = [
  ["placeholder", "i18nPlaceholder"],
  ["aria-label", "i18nAriaLabel"],
  ["title", "i18nTitle"],
];

function readParams(node: HTMLElement): Params | undefined {
  const raw = node.dataset.i18nParams;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as Params;
  } catch {
    return undefined;
  }
}

/** Exposed for the key-count check in the README and for tests. */
export const KEY_COUNT = Object.keys(en).length;
export const TABLES_FOR_CHECK: Readonly<Record<Lang, Table>> = TABLES;
