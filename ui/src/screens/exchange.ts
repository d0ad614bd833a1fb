// Export to a USB stick and import from one: the bundle work happens in the backend
// (vigil-exchange); this only picks a folder or file and shows progress and results.

import * as api from "../api";
import { openOverlay } from "../app";
import { h, setText } from "../dom";
import { errorText } from "../format";
import { t } from "../i18n";

/** The export dialog: removable drives found, or any folder typed or picked. */
export function showExportDialog(): void {
  const folder = h("input", { id: "export-folder", type: "text", tPlaceholder: "export.folder_placeholder" });
  const drives = h("div", { id: "export-drives", class: "drives" });
  const progress = h("progress", { id: "export-progress", max: "100", value: "0", hidden: true });
  const result = h("p", { id: "export-result", attrs: { role: "status" }, hidden: true });
  const go = h("button", { id: "export-go", type: "button", class: "primary", t: "export.go" });
  const browse = h("button", { id: "export-browse", type: "button", t: "export.browse" });
  const close = h("button", { id: "export-close", type: "button", t: "common.close" });
  const panel = h(
    "section",
    { id: "export-dialog", class: "dialog", attrs: { role: "dialog", "aria-modal": "true", "aria-labelledby": "export-heading" } },
    h("h2", { id: "export-heading", t: "export.title" }),
    h("p", { class: "muted small", t: "export.explain" }),
    h("div", { class: "field" }, h("span", { class: "caption", t: "export.drives" }), drives),
    h("label", { class: "field" }, h("span", { class: "caption", t: "export.folder" }), folder),
    progress,
    result,
    h("div", { class: "actions" }, browse, go, close),
  );
  const closeOverlay = openOverlay(panel);
  close.addEventListener("click", closeOverlay);
  void api.removableDrives().then((found) => {
    if (found.length === 0) {
      drives.append(h("span", { class: "muted", t: "export.no_drives" }));
    }
    for (const d of found) {
      drives.append(
        h("button", { type: "button", class: "drive", text: d, on: { click: () => { folder.value = d; } } }),
      );
    }
  });
  browse.addEventListener("click", async () => {
    const chosen = await api.pickFolder(t("export.browse"));
    if (chosen) folder.value = chosen;
  });
  go.addEventListener("click", async () => {
    const target = folder.value.trim();
    if (!target) {
      folder.focus();
      return;
    }
    go.disabled = true;
    progress.hidden = false;
    result.hidden = true;
    result.classList.remove("error");
    try {
      const summary = await api.exportBundle(target, (done, total) => {
        progress.value = total > 0 ? Math.floor((done * 100) / total) : 100;
      });
      progress.value = 100;
      setText(result, t("export.done", { revisions: summary.revisions, attachments: summary.attachments, path: summary.path }));
    } catch (err) {
      result.classList.add("error");
      setText(result, errorText(err));
    } finally {
      result.hidden = false;
      go.disabled = false;
    }
  });
  folder.focus();
}

/** Picks a bundle and imports it; the result is shown in a small dialog. */
export async function importBundleFromDisk(): Promise<void> {
  const paths = await api.pickFiles(t("import.pick"));
  const path = paths[0];
  if (!path) return;
  const result = h("p", { id: "import-result", attrs: { role: "status" } });
  const close = h("button", { id: "import-close", type: "button", t: "common.close" });
  const panel = h(
    "section",
    { id: "import-dialog", class: "dialog", attrs: { role: "dialog", "aria-modal": "true" } },
    h("h2", { t: "import.title" }),
    result,
    h("div", { class: "actions" }, close),
  );
  const closeOverlay = openOverlay(panel);
  close.addEventListener("click", closeOverlay);
  setText(result, t("common.loading"));
  try {
    const s = await api.importBundle(path);
    setText(result, t("import.done", { applied: s.applied, skipped: s.skipped, attachments: s.attachments }));
  } catch (err) {
    result.classList.add("error");
    setText(result, errorText(err));
  }
}
