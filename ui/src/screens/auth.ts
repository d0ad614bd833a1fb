// The create-vault and unlock screens.

import type { AppError } from "../bindings/AppError";
import type { VaultOverview } from "../bindings/VaultOverview";
import * as api from "../api";
import { showScreen } from "../app";
import { h, setT, setText } from "../dom";
import { errorText, num } from "../format";
import { type Key, onLanguageChange, t } from "../i18n";
import { fillOf, strengthOf } from "../strength";
import { languagePicker } from "../parts/language";
import { destroyedByUnlock } from "../parts/safety";

function card(id: string, ...children: (HTMLElement | null)[]): HTMLElement {
  return h("main", { id, class: "auth-screen" }, h("div", { class: "auth-card" }, ...children));
}

export function showCreate(onCreated: (overview: VaultOverview) => void): void {
  const passphrase = h("input", { id: "create-passphrase", data: { typing: "" }, type: "password", autocomplete: "new-password", spellcheck: false });
  const confirm = h("input", { id: "create-confirm", type: "password", autocomplete: "new-password", spellcheck: false });
  const bar = h("span", { class: "strength-fill" });
  const label = h("span", { class: "strength-label", t: "strength.none" });
  const meter = h(
    "div",
    { id: "strength-meter", class: "strength", data: { level: "none" }, attrs: { role: "meter", "aria-valuemin": "0", "aria-valuemax": "100" } },
    h("span", { class: "strength-track" }, bar),
    label,
  );
  const hint = h("p", { class: "hint" });
  const submit = h("button", { id: "create-submit", type: "submit", class: "primary", disabled: true, t: "create.submit" });
  const error = h("p", { id: "create-error", class: "error", hidden: true, attrs: { role: "alert" } });
  let busy = false;

  const update = () => {
    const level = strengthOf(passphrase.value);
    meter.dataset.level = level;
    bar.style.width = `${Math.round(fillOf(passphrase.value) * 100)}%`;
    meter.setAttribute("aria-valuenow", String(Math.round(fillOf(passphrase.value) * 100)));
    setT(label, `strength.${level}` as Key);
    const matches = passphrase.value === confirm.value;
    const strongEnough = level === "fair" || level === "strong";
    let hintKey: Key | null = null;
    if (passphrase.value && !strongEnough) hintKey = "create.too_weak";
    else if (confirm.value && !matches) hintKey = "create.mismatch";
    if (hintKey) setT(hint, hintKey);
    else setText(hint, "");
    submit.disabled = busy || !matches || !strongEnough;
  };

  const form = h(
    "form",
    {
      class: "auth-form",
      autocomplete: "off",
      noValidate: true,
      on: {
        submit: async (event) => {
          event.preventDefault();
          update();
          if (submit.disabled) return;
          busy = true;
          submit.disabled = true;
          setT(submit, "create.busy");
          error.hidden = true;
          try {
            const overview = await api.createVault(passphrase.value);
            passphrase.value = "";
            confirm.value = "";
            onCreated(overview);
          } catch (err) {
            setText(error, errorText(err));
            error.hidden = false;
          } finally {
            busy = false;
            setT(submit, "create.submit");
            update();
          }
        },
      },
    },
    h("label", { class: "field" }, h("span", { class: "caption", t: "create.passphrase" }), passphrase),
    meter,
    h("p", { class: "muted small", t: "create.hint" }),
    h("label", { class: "field" }, h("span", { class: "caption", t: "create.confirm" }), confirm),
    hint,
    h("p", { class: "warning", t: "create.warning" }),
    submit,
    error,
  );
  passphrase.addEventListener("input", update);
  confirm.addEventListener("input", update);

  showScreen(
    "create",
    card("create-screen", h("div", { class: "mark", attrs: { "aria-hidden": "true" } }), h("h1", { t: "create.title" }), h("p", { class: "muted", t: "create.intro" }), form, languagePicker("create-language")),
    () => {
      passphrase.value = "";
      confirm.value = "";
    },
  );
  passphrase.focus();
}

/** The unlock screen; `idleSeconds` says that the vault locked itself after that long idle. */
export function showUnlock(onUnlocked: (overview: VaultOverview) => void, idleSeconds: number | null = null): void {
  const reason =
    idleSeconds === null
      ? null
      : idleSeconds % 60 === 0
        ? { t: "unlock.auto_locked" as const, tParams: { n: idleSeconds / 60 } }
        : { t: "unlock.auto_locked_seconds" as const, tParams: { n: idleSeconds } };
  const passphrase = h("input", { id: "passphrase", data: { typing: "" }, type: "password", autocomplete: "off", spellcheck: false });
  const button = h("button", { id: "unlock", type: "submit", class: "primary", t: "unlock.button" });
  const error = h("p", { id: "unlock-error", class: "error", hidden: true, attrs: { role: "alert" } });
  // After a wrong passphrase the backend holds the next attempt back for `retry_after_ms`.
  // The button shows it is waiting; a press meanwhile is kept and goes ahead when the wait
  // ends, so nothing the person did is lost.
  let waitUntil = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let deferred: ReturnType<typeof setTimeout> | undefined;
  let busy = false;
  let lastError: AppError | null = null;
  let emptyError = false;

  const showError = () => {
    if (!lastError && !emptyError) {
      error.hidden = true;
      return;
    }
    let text = lastError ? errorText(lastError) : t("unlock.empty");
    const remaining = waitUntil - Date.now();
    if (remaining > 0) text += " " + t("unlock.retry_in", { seconds: Math.ceil(remaining / 1000) });
    setText(error, text);
    error.hidden = false;
  };

  const tick = () => {
    const waiting = waitUntil > Date.now();
    button.setAttribute("aria-disabled", String(waiting || busy));
    button.classList.toggle("waiting", waiting);
    showError();
    if (!waiting && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  const attempt = async () => {
    deferred = undefined;
    if (busy) return;
    if (passphrase.value === "") {
      emptyError = true;
      lastError = null;
      showError();
      return;
    }
    busy = true;
    button.disabled = true;
    setT(button, "unlock.busy");
    emptyError = false;
    lastError = null;
    error.hidden = true;
    try {
      const overview = await api.unlock(passphrase.value);
      passphrase.value = "";
      onUnlocked(overview);
      return;
    } catch (err) {
      if (destroyedByUnlock(err as AppError)) return;
      lastError = err as AppError;
      const wait = lastError.code === "wrong_passphrase" ? num(lastError.retry_after_ms ?? 0) : 0;
      waitUntil = wait > 0 ? Date.now() + wait : 0;
      passphrase.select();
    } finally {
      busy = false;
      button.disabled = false;
      setT(button, "unlock.button");
    }
    tick();
    if (waitUntil > Date.now() && timer === undefined) timer = setInterval(tick, 250);
  };

  const form = h(
    "form",
    {
      class: "auth-form",
      autocomplete: "off",
      noValidate: true,
      on: {
        submit: (event) => {
          event.preventDefault();
          const remaining = waitUntil - Date.now();
          if (remaining > 0) {
            clearTimeout(deferred);
            deferred = setTimeout(() => void attempt(), remaining);
            return;
          }
          void attempt();
        },
      },
    },
    h("label", { class: "field" }, h("span", { class: "caption", t: "unlock.passphrase" }), passphrase),
    button,
    error,
  );
  const stopTranslating = onLanguageChange(showError);

  showScreen(
    "unlock",
    card("unlock-screen", h("div", { class: "mark", attrs: { "aria-hidden": "true" } }), h("h1", { t: "unlock.title" }), h("p", { class: "muted", t: "unlock.intro" }), reason && h("p", { id: "unlock-reason", class: "warning small", attrs: { role: "status" }, ...reason }), form, languagePicker("unlock-language")),
    () => {
      clearInterval(timer);
      clearTimeout(deferred);
      stopTranslating();
      passphrase.value = "";
      lastError = null;
      emptyError = false;
    },
  );
  passphrase.focus();
}
