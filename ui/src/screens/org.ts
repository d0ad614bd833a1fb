// The organisation dialog. HQ creates the organisation and writes its profile to a USB stick;
// a monitor joins by choosing that file. Both see the organisation's key and their device's key,
// to compare by phone: a profile carries its own key, so only a human check proves it is HQ's.

import type { OrgView } from "../bindings/OrgView";
import * as api from "../api";
import { openOverlay } from "../app";
import { h, setT } from "../dom";
import { errorText } from "../format";
import { t } from "../i18n";
import { fileField, folderField, runInto } from "./exchange";

function fact(id: string, caption: "org.name" | "org.org_key" | "org.readers" | "org.device_key", value: string): HTMLElement {
  return h("div", { class: "fact" }, h("dt", { t: caption }), h("dd", { id, class: caption.endsWith("key") ? "key" : "", text: value }));
}

/** What this vault is in its organisation, and the keys to compare. */
function facts(view: OrgView): HTMLElement {
  return h(
    "dl",
    { class: "facts" },
    view.name === null ? null : fact("org-name-value", "org.name", view.name),
    view.org_key === null ? null : fact("org-key", "org.org_key", view.org_key),
    view.role === "none" ? null : fact("org-readers-value", "org.readers", String(view.readers)),
    fact("device-key", "org.device_key", view.device_key),
  );
}

/** Joining (or taking a newer profile of the same organisation). */
function joinSection(result: HTMLElement, render: (v: OrgView) => void): HTMLElement {
  const { field, input } = fileField("org-profile-path", "org.profile_file", "org.pick_profile");
  const go = h("button", { id: "org-join", type: "button", class: "primary", t: "org.join" });
  go.addEventListener("click", () => {
    const path = input.value.trim();
    if (!path) {
      input.focus();
      return;
    }
    void runInto(go, result, async () => {
      const view = await api.joinOrg(path);
      render(view);
      const key = view.joined === "unchanged" ? "org.join_unchanged" : view.joined === "updated" ? "org.join_updated" : "org.joined";
      return t(key, { name: view.name ?? "" });
    });
  });
  return h(
    "section",
    { id: "org-join-section", class: "subsection" },
    h("h3", { t: "org.join_title" }),
    h("p", { class: "muted small", t: "org.join_explain" }),
    field,
    h("div", { class: "actions" }, go),
  );
}

/** Creating an organisation, with this vault as HQ. */
function createSection(result: HTMLElement, render: (v: OrgView) => void): HTMLElement {
  const name = h("input", { id: "org-name", type: "text", maxLength: 200 });
  const readers = h("input", { id: "org-readers", type: "number", min: "1", max: "16", step: "1", value: "1" });
  const { field, input: folder } = folderField("org-folder", "org.profile_folder");
  const go = h("button", { id: "org-create", type: "button", t: "org.create" });
  go.addEventListener("click", () => {
    if (!name.value.trim()) {
      name.focus();
      return;
    }
    if (!folder.value.trim()) {
      folder.focus();
      return;
    }
    void runInto(go, result, async () => {
      try {
        const view = await api.createOrg(name.value.trim(), Number(readers.value), folder.value.trim());
        render(view);
        return t("org.created", { name: view.name ?? "", path: view.profile_path ?? "" });
      } catch (err) {
        // The organisation may exist even if its profile could not be written (a full or
        // removed stick): show what the vault is now, where the profile can be written again.
        const now = await api.orgStatus().catch(() => null);
        if (now && now.role !== "none") render(now);
        throw err;
      }
    });
  });
  return h(
    "section",
    { id: "org-create-section", class: "subsection" },
    h("h3", { t: "org.create_title" }),
    h("p", { class: "muted small", t: "org.create_explain" }),
    h("label", { class: "field" }, h("span", { class: "caption", t: "org.name" }), name),
    h("label", { class: "field" }, h("span", { class: "caption", t: "org.readers" }), readers),
    field,
    h("div", { class: "actions" }, go),
  );
}

/** HQ writes the profile again for more monitors. */
function shareSection(result: HTMLElement): HTMLElement {
  const { field, input: folder } = folderField("org-folder", "org.profile_folder");
  const go = h("button", { id: "org-save-profile", type: "button", class: "primary", t: "org.save_profile" });
  go.addEventListener("click", () => {
    if (!folder.value.trim()) {
      folder.focus();
      return;
    }
    void runInto(go, result, async () => {
      const view = await api.saveOrgProfile(folder.value.trim());
      return t("org.profile_saved", { path: view.profile_path ?? "" });
    });
  });
  return h(
    "section",
    { id: "org-share-section", class: "subsection" },
    h("h3", { t: "org.share_title" }),
    h("p", { class: "muted small", t: "org.share_explain" }),
    field,
    h("div", { class: "actions" }, go),
    h("p", { class: "muted small", t: "org.identity_note" }),
  );
}

export async function showOrgDialog(): Promise<void> {
  const body = h("div", { id: "org-body" });
  const result = h("p", { id: "org-result", attrs: { role: "status" }, hidden: true });
  const close = h("button", { id: "org-close", type: "button", t: "common.close" });
  const role = h("p", { id: "org-role" });
  const panel = h(
    "section",
    { id: "org-dialog", class: "dialog", attrs: { role: "dialog", "aria-modal": "true", "aria-labelledby": "org-heading" } },
    h("h2", { id: "org-heading", t: "org.title" }),
    role,
    body,
    result,
    h("div", { class: "actions" }, close),
  );
  const closeOverlay = openOverlay(panel);
  close.addEventListener("click", closeOverlay);
  const render = (view: OrgView) => {
    role.dataset.role = view.role;
    setT(role, view.role === "hq" ? "org.role_hq" : view.role === "member" ? "org.role_member" : "org.role_none");
    const sections: HTMLElement[] = [facts(view)];
    if (view.role === "none") sections.push(joinSection(result, render), createSection(result, render));
    if (view.role === "member") sections.push(joinSection(result, render));
    if (view.role === "hq") sections.push(shareSection(result));
    body.replaceChildren(...sections);
  };
  try {
    render(await api.orgStatus());
  } catch (err) {
    result.classList.add("error");
    result.textContent = errorText(err);
    result.hidden = false;
  }
  close.focus();
}
