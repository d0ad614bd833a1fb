// Settings overlay: language, auto-lock, sync (by itself or not, a SOCKS5 proxy), the vault
// folder and field safety (quick delete, the wipe after wrong passphrases, a new key).

import type { Settings } from "../bindings/Settings";
import * as api from "../api";
import { openOverlay, route, state } from "../app";
import { h, setText } from "../dom";
import { errorText, num } from "../format";
import { t } from "../i18n";
import { languageSelect } from "../parts/language";
import { safetySection } from "../parts/safety";

route("settings", () => showSettings());

function showSettings(): void {
  const message = h("p", { class: "error", hidden: true, attrs: { role: "alert" } });
  const savedNote = h("p", { id: "settings-saved", class: "muted small", hidden: true, attrs: { role: "status" }, t: "settings.saved" });
  const report = (text: string) => {
    setText(message, text);
    message.hidden = false;
    savedNote.hidden = true;
  };
  const saved = () => {
    message.hidden = true;
    savedNote.hidden = false;
  };
  const autolock = h("input", {
    id: "setting-autolock",
    type: "number",
    min: "1",
    max: "1440",
    step: "1",
    value: String(Math.max(1, Math.round(num(state.settings?.auto_lock_seconds ?? 300) / 60))),
    on: {
      change: async () => {
        const minutes = Math.round(Number(autolock.value));
        if (!state.settings || !Number.isFinite(minutes) || minutes < 1) return;
        const settings: Settings = {
          ...state.settings,
          auto_lock_seconds: (minutes * 60) as unknown as Settings["auto_lock_seconds"],
        };
        state.settings = settings;
        message.hidden = true;
        try {
          await api.saveSettings(settings);
          saved();
        } catch (err) {
          report(t("settings.error", { error: errorText(err) }));
        }
      },
    },
  });
  /** Saves `change` applied to the current settings. */
  const save = async (change: Partial<Settings>) => {
    if (!state.settings) return;
    const settings: Settings = { ...state.settings, ...change };
    message.hidden = true;
    try {
      await api.saveSettings(settings);
      state.settings = settings;
      saved();
    } catch (err) {
      report(t("settings.error", { error: errorText(err) }));
    }
  };
  const automatic = h("input", {
    id: "setting-sync-automatic",
    type: "checkbox",
    checked: state.settings?.sync_automatic ?? true,
    on: { change: () => void save({ sync_automatic: automatic.checked }) },
  });
  const free = h("input", {
    id: "setting-sync-free-delivered",
    type: "checkbox",
    checked: state.settings?.sync_free_delivered ?? false,
    on: { change: () => void save({ sync_free_delivered: free.checked }) },
  });
  const proxy = h("input", {
    id: "setting-sync-proxy",
    type: "text",
    spellcheck: false,
    autocomplete: "off",
    placeholder: "socks5h://127.0.0.1:9050",
    value: state.settings?.sync_proxy ?? "",
    on: { change: () => void save({ sync_proxy: proxy.value.trim() || null }) },
  });
  const close = h("button", { id: "settings-close", type: "button", t: "settings.close" });
  const dir = h("output", { class: "path", text: state.settings?.vault_dir || state.vaultDir });
  const panel = h(
    "section",
    { id: "settings-screen", class: "dialog", attrs: { role: "dialog", "aria-modal": "true", "aria-labelledby": "settings-heading" } },
    h("h2", { id: "settings-heading", t: "settings.title" }),
    h("label", { class: "field" }, h("span", { class: "caption", t: "settings.language" }), languageSelect("setting-language", report, saved)),
    h("label", { class: "field" }, h("span", { class: "caption", t: "settings.autolock" }), autolock),
    h("label", { class: "field checkbox" }, automatic, h("span", { t: "settings.sync_automatic" })),
    h("label", { class: "field checkbox" }, free, h("span", { t: "settings.sync_free_delivered" })),
    h("label", { class: "field" }, h("span", { class: "caption", t: "settings.sync_proxy" }), proxy),
    h("div", { class: "field" }, h("span", { class: "caption", t: "settings.vault_dir" }), dir, h("span", { class: "muted small", t: "settings.vault_dir_note" })),
    safetySection(save),
    message,
    savedNote,
    h("div", { class: "actions" }, close),
  );
  const closeOverlay = openOverlay(panel);
  close.addEventListener("click", closeOverlay);
  (panel.querySelector("#setting-language") as HTMLElement).focus();
}
