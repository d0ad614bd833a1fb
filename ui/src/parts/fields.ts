// Fields and helpers that several dialogs share: a folder on a removable drive, a file, a
// button that runs work and shows its outcome, and why a bundle waits in quarantine.

import * as api from "../api";
import { h, setText } from "../dom";
import { errorText } from "../format";
import { type Key, t } from "../i18n";

/**
 * A folder field: mounted removable drives as one-click choices, a text input (any folder typed)
 * and the native folder picker. `id` names the input; the drive list is `<id>-drives`.
 */
export function folderField(id: string, caption: Key): { field: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { id, type: "text", tPlaceholder: "export.folder_placeholder" });
  const drives = h("div", { id: `${id}-drives`, class: "drives" });
  const browse = h("button", {
    id: `${id}-browse`,
    type: "button",
    t: "export.browse",
    on: {
      click: async () => {
        const chosen = await api.pickFolder(t("export.browse"));
        if (chosen) {
          input.value = chosen;
          input.dispatchEvent(new Event("input"));
        }
      },
    },
  });
  void api.removableDrives().then((found) => {
    if (found.length === 0) drives.append(h("span", { class: "muted", t: "export.no_drives" }));
    for (const d of found) {
      drives.append(h("button", { type: "button", class: "drive", text: d, on: { click: () => { input.value = d; input.dispatchEvent(new Event("input")); } } }));
    }
  });
  const field = h(
    "div",
    { class: "field" },
    h("span", { class: "caption", t: "export.drives" }),
    drives,
    h("label", { class: "field" }, h("span", { class: "caption", t: caption }), h("div", { class: "row" }, input, browse)),
  );
  return { field, input };
}

/** A file field: a text input (any path typed) and the native file picker. */
export function fileField(id: string, caption: Key, pickTitle: Key): { field: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { id, type: "text" });
  const browse = h("button", {
    id: `${id}-browse`,
    type: "button",
    t: "common.choose_file",
    on: {
      click: async () => {
        const [chosen] = await api.pickFiles(t(pickTitle));
        if (chosen) {
          input.value = chosen;
          input.dispatchEvent(new Event("input"));
        }
      },
    },
  });
  const field = h("label", { class: "field" }, h("span", { class: "caption", t: caption }), h("div", { class: "row" }, input, browse));
  return { field, input };
}

/** Runs `work` with `button` disabled, showing its outcome (or translated error) in `result`. */
export async function runInto(button: HTMLButtonElement, result: HTMLElement, work: () => Promise<string>): Promise<void> {
  button.disabled = true;
  result.hidden = true;
  result.classList.remove("error");
  try {
    setText(result, await work());
  } catch (err) {
    result.classList.add("error");
    setText(result, errorText(err));
  } finally {
    result.hidden = false;
    button.disabled = false;
  }
}

const REASONS: Record<string, Key> = {
  no_certificate: "quarantine.no_certificate",
  certificate_invalid: "quarantine.certificate_invalid",
  invitation_expired: "quarantine.invitation_expired",
  invitation_reused: "quarantine.invitation_reused",
  device_revoked: "quarantine.device_revoked",
  key_conflict: "quarantine.key_conflict",
  former_id: "quarantine.former_id",
};

/** Why a bundle is kept in quarantine, in the reader's language. */
export function reasonText(reason: string): string {
  return t(REASONS[reason] ?? "quarantine.certificate_invalid");
}

