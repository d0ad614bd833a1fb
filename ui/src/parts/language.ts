// The language picker: on the create and unlock screens and in Settings. A choice applies at
// once and is stored with the settings when the vault is open.

import type { Settings } from "../bindings/Settings";
import * as api from "../api";
import { state } from "../app";
import { h } from "../dom";
import { errorText } from "../format";
import { type Key, LANGS, type Lang, isLang, language, setLanguage, t } from "../i18n";

/** Applies and stores a language choice. Storing may fail while locked; the choice still applies. */
async function chooseLanguage(lang: Lang, report?: (message: string) => void, saved?: () => void): Promise<void> {
  setLanguage(lang);
  if (!state.settings) return;
  const settings: Settings = { ...state.settings, language: lang as Settings["language"] };
  state.settings = settings;
  try {
    await api.saveSettings(settings);
    saved?.();
  } catch (err) {
    report?.(t("settings.error", { error: errorText(err) }));
  }
}

export function languageSelect(id: string, report?: (message: string) => void, saved?: () => void): HTMLSelectElement {
  const select = h(
    "select",
    {
      id,
      on: {
        change: () => {
          if (isLang(select.value)) void chooseLanguage(select.value, report, saved);
        },
      },
    },
    ...LANGS.map((lang) => h("option", { value: lang, t: `lang.${lang}` as Key })),
  );
  select.value = language();
  return select;
}

export function languagePicker(id: string): HTMLElement {
  return h("label", { class: "language-picker" }, h("span", { class: "caption", t: "common.language" }), languageSelect(id));
}

