// The organisation dialog. HQ creates the organisation and writes its profile, and a single-use
// invitation for each device, to a USB stick; a monitor joins by choosing those files. Both see
// the organisation's key and their device's key, to compare by phone: a profile carries its own
// key, so only a human check proves it is HQ's. HQ lists the devices it trusts (revoking them),
// and the bundles it keeps in quarantine (accepting or dropping them).

import type { DevicesView } from "../bindings/DevicesView";
import type { OrgView } from "../bindings/OrgView";
import type { QuarantineRow } from "../bindings/QuarantineRow";
import * as api from "../api";
import { openOverlay, route } from "../app";
import { h, setT } from "../dom";
import { errorText, formatDateTime } from "../format";
import { type Key, t } from "../i18n";
import { fileField, folderField, reasonText, runInto } from "../parts/fields";

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

/** A monitor's enrolment: by an invitation from HQ, or not yet (HQ then holds its bundles). */
function enrolment(view: OrgView): HTMLElement | null {
  if (view.role !== "member") return null;
  return view.enrolment
    ? h("p", { id: "org-enrolment", class: "small", data: { enrolled: "yes" }, t: "org.enrolled", tParams: { name: view.enrolment.name, at: formatDateTime(view.enrolment.enrolled_at) } })
    : h("p", { id: "org-enrolment", class: "warning small", data: { enrolled: "no" }, t: "org.not_enrolled" });
}

/** Joining (or taking a newer profile of the same organisation). */
function joinSection(result: HTMLElement, render: (v: OrgView) => void): HTMLElement {
  const { field, input } = fileField("org-profile-path", "org.profile_file", "org.pick_profile");
  const { field: inviteField, input: invite } = fileField("org-invitation-path", "org.invitation_file", "org.pick_invitation");
  const go = h("button", { id: "org-join", type: "button", class: "primary", t: "org.join" });
  go.addEventListener("click", () => {
    const path = input.value.trim();
    if (!path) {
      input.focus();
      return;
    }
    void runInto(go, result, async () => {
      const view = await api.joinOrg(path, invite.value.trim() || null);
      render(view);
      const key = view.joined === "unchanged" ? "org.join_unchanged" : view.joined === "updated" ? "org.join_updated" : "org.joined";
      const joined = t(key, { name: view.name ?? "" });
      return view.enrolment ? `${joined} ${t("org.enrolled_now", { name: view.enrolment.name })}` : joined;
    });
  });
  return h(
    "section",
    { id: "org-join-section", class: "subsection" },
    h("h3", { t: "org.join_title" }),
    h("p", { class: "muted small", t: "org.join_explain" }),
    field,
    inviteField,
    h("p", { class: "muted small", t: "org.invitation_explain" }),
    h("div", { class: "actions" }, go),
  );
}

/** A button that asks once more, in place, before it does something that cannot be undone. */
function twoStep(id: string, label: Key, confirmLabel: Key, act: () => void): HTMLElement {
  const first = h("button", { id, type: "button", t: label });
  const yes = h("button", { id: `${id}-yes`, type: "button", class: "danger", t: confirmLabel });
  const no = h("button", { id: `${id}-no`, type: "button", t: "common.cancel" });
  const ask = h("span", { class: "confirm", hidden: true }, yes, no);
  first.addEventListener("click", () => {
    first.hidden = true;
    ask.hidden = false;
    no.focus();
  });
  no.addEventListener("click", () => {
    ask.hidden = true;
    first.hidden = false;
    first.focus();
  });
  yes.addEventListener("click", act);
  return h("span", { class: "two-step" }, first, ask);
}

/** HQ: a single-use invitation for one device, written to a stick. */
function inviteSection(result: HTMLElement, devices: HTMLElement): HTMLElement {
  const name = h("input", { id: "invite-name", type: "text", maxLength: 200 });
  const days = h("input", { id: "invite-days", type: "number", min: "1", max: "365", step: "1", value: "14" });
  const { field, input: folder } = folderField("invite-folder", "org.invite_folder");
  const go = h("button", { id: "invite-go", type: "button", class: "primary", t: "org.invite" });
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
      const view = await api.inviteDevice(name.value.trim(), Number(days.value), folder.value.trim());
      renderDevices(devices, view, result);
      return t("org.invited", { name: name.value.trim(), path: view.invitation_path ?? "" });
    });
  });
  return h(
    "section",
    { id: "org-invite-section", class: "subsection" },
    h("h3", { t: "org.invite_title" }),
    h("p", { class: "muted small", t: "org.invite_explain" }),
    h("label", { class: "field" }, h("span", { class: "caption", t: "org.invite_name" }), name),
    h("label", { class: "field" }, h("span", { class: "caption", t: "org.invite_days" }), days),
    field,
    h("div", { class: "actions" }, go),
  );
}

/** HQ's devices, each with its key to compare and a way to revoke it, and pending invitations. */
function renderDevices(target: HTMLElement, view: DevicesView, result: HTMLElement): void {
  const rows = view.devices.map((d, i) =>
    h(
      "li",
      { class: "device", data: { device: d.device, trust: d.trust, revoked: d.revoked_at ? "yes" : "no" } },
      h("div", {}, h("strong", { class: "device-name", text: d.name }), " ", h("span", { class: "muted small", t: d.trust === "enrolled" ? "org.device_enrolled" : "org.device_accepted" })),
      h("div", { class: "key small", text: d.device_key }),
      h("div", { class: "muted small", t: "org.device_last_seen", tParams: { at: formatDateTime(d.last_seen) } }),
      d.revoked_at
        ? h("div", { class: "error small", t: "org.device_revoked", tParams: { at: formatDateTime(d.revoked_at) } })
        : twoStep(`revoke-${i}`, "org.revoke", "org.revoke_confirm", () => {
            void (async () => {
              try {
                renderDevices(target, await api.revokeDevice(d.device), result);
                result.classList.remove("error");
                result.textContent = t("org.revoked", { name: d.name });
              } catch (err) {
                result.classList.add("error");
                result.textContent = errorText(err);
              }
              result.hidden = false;
            })();
          }),
    ),
  );
  const pending = view.invitations.map((inv) =>
    h("li", { class: "invitation muted small", t: inv.expired ? "org.invitation_expired" : "org.invitation_pending", tParams: { name: inv.name, until: formatDateTime(inv.expires_at) } }),
  );
  const parts: HTMLElement[] = [
    h("h3", { t: "org.devices_title" }),
    rows.length === 0 ? h("p", { class: "muted small", t: "org.devices_none" }) : h("ul", { id: "device-list", class: "plain-list" }, ...rows),
  ];
  if (pending.length > 0) parts.push(h("ul", { id: "invitation-list", class: "plain-list" }, ...pending));
  target.replaceChildren(...parts);
}

/** HQ: bundles kept in quarantine, with why, the key to compare, and accept or drop. */
function renderQuarantine(target: HTMLElement, rows: QuarantineRow[], result: HTMLElement, devices: HTMLElement): void {
  const act = (work: () => Promise<string>) => {
    void (async () => {
      try {
        result.classList.remove("error");
        result.textContent = await work();
      } catch (err) {
        result.classList.add("error");
        result.textContent = errorText(err);
      }
      result.hidden = false;
    })();
  };
  const items = rows.map((q, i) =>
    h(
      "li",
      { class: "quarantined", data: { device: q.device, reason: q.reason } },
      h("div", {}, h("strong", { text: q.name ?? q.device }), " ", h("span", { class: "muted small", t: "quarantine.entry", tParams: { n: Number(q.revisions), at: formatDateTime(q.received_at) } })),
      h("div", { class: "small quarantine-reason", text: reasonText(q.reason) }),
      h("div", { class: "key small", text: q.device_key }),
      h(
        "div",
        { class: "actions left" },
        twoStep(`accept-${i}`, "quarantine.accept", "quarantine.accept_confirm", () =>
          act(async () => {
            const outcome = await api.quarantineAccept(q.device);
            renderQuarantine(target, outcome.left, result, devices);
            renderDevices(devices, await api.orgDevices(), result);
            const applied = outcome.imports.reduce((n, s) => n + s.applied, 0);
            return t("quarantine.accepted", { n: applied });
          }),
        ),
        twoStep(`drop-${i}`, "quarantine.drop", "quarantine.drop_confirm", () =>
          act(async () => {
            renderQuarantine(target, await api.quarantineDrop(q.device), result, devices);
            return t("quarantine.dropped");
          }),
        ),
      ),
    ),
  );
  target.replaceChildren(
    h("h3", { t: "quarantine.title" }),
    h("p", { class: "muted small", t: "quarantine.explain" }),
    items.length === 0 ? h("p", { class: "muted small", t: "quarantine.none" }) : h("ul", { id: "quarantine-list", class: "plain-list" }, ...items),
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

route("org", () => showOrgDialog());

async function showOrgDialog(): Promise<void> {
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
    const enrolled = enrolment(view);
    if (enrolled) sections.push(enrolled);
    if (view.role === "none") sections.push(joinSection(result, render), createSection(result, render));
    if (view.role === "member") sections.push(joinSection(result, render));
    if (view.role === "hq") {
      const devices = h("section", { id: "org-devices-section", class: "subsection" });
      const quarantine = h("section", { id: "org-quarantine-section", class: "subsection" });
      // What needs a person's attention first: bundles waiting, then the devices.
      sections.push(quarantine, devices, inviteSection(result, devices), shareSection(result));
      void (async () => {
        try {
          renderDevices(devices, await api.orgDevices(), result);
          renderQuarantine(quarantine, await api.quarantineList(), result, devices);
        } catch (err) {
          result.classList.add("error");
          result.textContent = errorText(err);
          result.hidden = false;
        }
      })();
    }
    body.replaceChildren(...sections);
  };
  try {
    render(await api.orgStatus());
  } catch (err) {
    result.classList.add("error");
    result.textContent = errorText(err);
    result.hidden = false;
  }
  // The focus goes to Close without scrolling the dialog down to it: it opens at its top.
  close.focus({ preventScroll: true });
}
