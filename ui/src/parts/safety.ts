// Field safety: quick delete (Ctrl+Shift+Delete anywhere, with a question unless Settings drop
// it) and the Settings section for it, the wipe after wrong passphrases and a new key.

import type { AppError } from "../bindings/AppError";
import type { Settings } from "../bindings/Settings";
import * as api from "../api";
import { openOverlay, state } from "../app";
import { h, setT, setText } from "../dom";
import { errorText, num } from "../format";
import { t, type Key } from "../i18n";

let deleting = false;

/** How long text copied from Vigil stays on the clipboard. */
export const CLIPBOARD_SECONDS = 30;

/**
 * Copying from Vigil: what is selected goes to the clipboard as plain text, and 30 s later it
 * is cleared, unless something else was copied meanwhile (the backend compares).
 */
export function clearCopiesLater(): void {
  document.addEventListener("copy", (event) => {
    const text = selectedText();
    if (!text || !event.clipboardData) return;
    // Exactly this text, so that the backend can tell later whether it is still there.
    event.clipboardData.setData("text/plain", text);
    event.preventDefault();
    window.setTimeout(() => void api.clearClipboard(text).catch(() => undefined), CLIPBOARD_SECONDS * 1000);
  });
}

function selectedText(): string {
  const field = document.activeElement;
  if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) {
    const start = field.selectionStart ?? 0;
    const end = field.selectionEnd ?? 0;
    if (end > start) return field.value.slice(start, end);
  }
  return window.getSelection()?.toString() ?? "";
}

/** The page's title: the app's name, or the neutral one in discreet mode. */
export function applyDocumentTitle(): void {
  document.title = t(state.settings?.discreet ? "app.discreet_name" : "app.name");
}

/** Quick delete: asks first when the settings say so, then destroys the vault. */
export function quickDelete(): void {
  if (deleting) return;
  if (state.settings?.quick_delete_confirm === false) {
    void destroy(null);
    return;
  }
  const message = h("p", { class: "error", hidden: true, attrs: { role: "alert" } });
  const go = h("button", { id: "quick-delete-go", type: "button", class: "danger", t: "safety.dialog_go" });
  const cancel = h("button", { id: "quick-delete-cancel", type: "button", t: "safety.dialog_cancel" });
  const dialog = h(
    "section",
    { id: "quick-delete-dialog", class: "dialog", attrs: { role: "alertdialog", "aria-modal": "true", "aria-labelledby": "quick-delete-heading" } },
    h("h2", { id: "quick-delete-heading", t: "safety.dialog_title" }),
    h("p", { t: "safety.dialog_text" }),
    message,
    h("div", { class: "actions" }, cancel, go),
  );
  const close = openOverlay(dialog);
  cancel.addEventListener("click", close);
  go.addEventListener("click", () => void destroy(message));
  go.focus();
}

/** Destroys the vault; then the window starts over, at the first screen, with nothing kept. */
async function destroy(message: HTMLElement | null): Promise<void> {
  deleting = true;
  try {
    await api.quickDelete();
    location.reload();
  } catch (err) {
    deleting = false;
    if (message) {
      setText(message, errorText(err));
      message.hidden = false;
    }
  }
}

/** The unlock screen's answer when too many wrong passphrases destroyed the vault. */
export function destroyedByUnlock(err: AppError): boolean {
  if (err.code !== "vault_wiped") return false;
  location.reload();
  return true;
}

/** The Settings section: quick delete, the wipe after wrong passphrases, a new key. */
export function safetySection(save: (change: Partial<Settings>) => Promise<void>): HTMLElement {
  const confirm = h("input", {
    id: "setting-quick-delete-confirm",
    type: "checkbox",
    checked: state.settings?.quick_delete_confirm ?? true,
    on: { change: () => void save({ quick_delete_confirm: confirm.checked }) },
  });
  const limit = h("input", {
    id: "setting-wipe-after",
    type: "number",
    min: "0",
    max: "100",
    step: "1",
    value: String(num(state.settings?.wipe_after_failures ?? 0)),
    on: {
      change: () => {
        const n = Math.round(Number(limit.value));
        if (!Number.isFinite(n) || n < 0) return;
        void save({ wipe_after_failures: n as unknown as Settings["wipe_after_failures"] });
      },
    },
  });
  const discreet = h("input", {
    id: "setting-discreet",
    type: "checkbox",
    checked: state.settings?.discreet ?? false,
    on: {
      change: async () => {
        await save({ discreet: discreet.checked });
        applyDocumentTitle();
        await api.applyWindowLook().catch(() => undefined);
      },
    },
  });
  const pad = h("input", {
    id: "setting-pad-bundles",
    type: "checkbox",
    checked: state.settings?.pad_bundles ?? false,
    on: { change: () => void save({ pad_bundles: pad.checked }) },
  });
  return h(
    "fieldset",
    { id: "settings-safety", class: "field-group" },
    h("legend", { t: "safety.title" }),
    h("label", { class: "field checkbox" }, discreet, h("span", { t: "safety.discreet" })),
    h("label", { class: "field checkbox" }, pad, h("span", { t: "safety.pad_bundles" })),
    h(
      "div",
      { class: "field" },
      h("button", { id: "quick-delete", type: "button", class: "danger", t: "safety.quick_delete", on: { click: () => quickDelete() } }),
      h("span", { class: "muted small", t: "safety.quick_delete_hint" }),
    ),
    h("label", { class: "field checkbox" }, confirm, h("span", { t: "safety.quick_delete_confirm" })),
    h("label", { class: "field" }, h("span", { class: "caption", t: "safety.wipe_after" }), limit),
    h("p", { class: "muted small", t: "safety.wipe_after_note" }),
    rekeyForm(),
    duressForm(),
  );
}

/** The three passphrase fields of a form (current, new, new again) and its outcome line. */
function passphraseFields(prefix: string) {
  const field = (suffix: string, autocomplete: string) =>
    h("input", { id: `${prefix}-${suffix}`, type: "password", autocomplete, spellcheck: false });
  const current = field("passphrase", "current-password");
  const next = field("new", "new-password");
  const again = field("confirm", "new-password");
  const outcome = h("p", { id: `${prefix}-outcome`, class: "small", hidden: true, attrs: { role: "status" } });
  return {
    current,
    next,
    again,
    outcome,
    say(text: string, ok: boolean) {
      setText(outcome, text);
      outcome.className = ok ? "small muted" : "small error";
      outcome.hidden = false;
    },
    /** What is wrong with what was typed, if anything: nothing, or two different new ones. */
    problem(): "missing" | "mismatch" | null {
      if (current.value === "" || next.value === "") return "missing";
      return next.value === again.value ? null : "mismatch";
    },
    clear() {
      current.value = "";
      next.value = "";
      again.value = "";
    },
    /**
     * The form's submit handler: checks what was typed (saying `missing` or `mismatch`), then
     * runs `run` with `go` disabled (and labelled `busy`, if given) and says its outcome; the
     * fields are emptied either way.
     */
    submit(go: HTMLButtonElement, missing: Key, mismatch: Key, run: () => Promise<string>, busy?: [Key, Key]) {
      return async (event: Event) => {
        event.preventDefault();
        const problem = this.problem();
        if (problem) return this.say(t(problem === "missing" ? missing : mismatch), false);
        go.disabled = true;
        if (busy) setT(go, busy[0]);
        try {
          this.say(await run(), true);
        } catch (err) {
          this.say(errorText(err), false);
        } finally {
          this.clear();
          go.disabled = false;
          if (busy) setT(go, busy[1]);
        }
      };
    },
  };
}

function rekeyForm(): HTMLElement {
  const f = passphraseFields("rekey");
  const { current, next, again, outcome } = f;
  const go = h("button", { id: "rekey-go", type: "submit", t: "safety.rekey_go" });
  const submit = f.submit(
    go,
    "safety.rekey_missing",
    "safety.rekey_mismatch",
    async () => {
      await api.rekeyVault(current.value, next.value);
      return t("safety.rekey_done");
    },
    ["safety.rekey_busy", "safety.rekey_go"],
  );
  const form = h(
    "form",
    { class: "rekey", autocomplete: "off", noValidate: true, on: { submit } },
    h("h3", { t: "safety.rekey" }),
    h("p", { class: "muted small", t: "safety.rekey_note" }),
    h("label", { class: "field" }, h("span", { class: "caption", t: "safety.rekey_current" }), current),
    h("label", { class: "field" }, h("span", { class: "caption", t: "safety.rekey_new" }), next),
    h("label", { class: "field" }, h("span", { class: "caption", t: "safety.rekey_again" }), again),
    outcome,
    h("div", { class: "actions" }, go),
  );
  return form;
}

/** The duress passphrase: set (with the vault's own passphrase asked again), or removed. */
function duressForm(): HTMLElement {
  const f = passphraseFields("duress");
  const { current, next, again, outcome } = f;
  const say = f.say;
  const destroy = h("input", { id: "duress-destroy", type: "checkbox" });
  const stateLine = h("p", { id: "duress-state", class: "small" });
  const go = h("button", { id: "duress-go", type: "submit", t: "safety.duress_go" });
  const remove = h("button", { id: "duress-remove", type: "button", class: "danger", hidden: true, t: "safety.duress_remove" });
  const show = (set: boolean) => {
    setT(stateLine, set ? "safety.duress_is_set" : "safety.duress_not_set");
    remove.hidden = !set;
  };
  void api.hasDuress().then(show, () => show(false));
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await api.removeDuress();
      show(false);
      say(t("safety.duress_removed"), true);
    } catch (err) {
      say(errorText(err), false);
    } finally {
      remove.disabled = false;
    }
  });
  const submit = f.submit(go, "safety.duress_missing", "safety.duress_mismatch", async () => {
    await api.setDuress(current.value, next.value, destroy.checked);
    show(true);
    return t(destroy.checked ? "safety.duress_done_destroy" : "safety.duress_done");
  });
  return h(
    "form",
    { class: "duress", autocomplete: "off", noValidate: true, on: { submit } },
    h("h3", { t: "safety.duress" }),
    h("p", { class: "muted small", t: "safety.duress_note" }),
    h("p", { class: "small warning", t: "safety.duress_risk" }),
    stateLine,
    h("label", { class: "field" }, h("span", { class: "caption", t: "safety.rekey_current" }), current),
    h("label", { class: "field" }, h("span", { class: "caption", t: "safety.duress_new" }), next),
    h("label", { class: "field" }, h("span", { class: "caption", t: "safety.duress_again" }), again),
    h("label", { class: "field checkbox" }, destroy, h("span", { t: "safety.duress_destroy" })),
    outcome,
    h("div", { class: "actions" }, go, remove),
  );
}
