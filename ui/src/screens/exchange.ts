// Export to a USB stick and import from one: the bundle work happens in the backend
// (vigil-exchange); this only picks a folder or file and shows progress and results.

import * as api from "../api";
import { openOverlay, route, setUnsent } from "../app";
import { h, setT, setText } from "../dom";
import { errorText, formatSize } from "../format";
import { type Key, t } from "../i18n";
import { fileField, folderField, reasonText, runInto } from "../parts/fields";

/** Enter in `input` presses `button`, as in any dialog with one main action. */
function submitOnEnter(input: HTMLInputElement, button: HTMLButtonElement): void {
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.isComposing) {
      e.preventDefault();
      button.click();
    }
  });
}

/** The export dialog: removable drives found, or any folder typed or picked. */
route("export", () => showExportDialog());
route("import", (r) => showImportDialog(r.onClose));

function showExportDialog(): void {
  const { field, input: folder } = folderField("export-folder", "export.folder");
  const progress = h("progress", { id: "export-progress", max: "100", value: "0", hidden: true });
  const phase = h("p", { id: "export-phase", class: "muted small", hidden: true });
  const result = h("p", { id: "export-result", attrs: { role: "status" }, hidden: true });
  // What will be sent, said before anything is written.
  const preview = h("p", { id: "export-preview", class: "preview", t: "common.loading" });
  void api.exportPreview().then(
    (p) => {
      if (p.revisions === 0) setT(preview, "export.preview_none");
      else setT(preview, "export.preview", { versions: p.revisions, records: p.records, files: p.attachments, size: formatSize(p.attachment_bytes) });
      preview.dataset.revisions = String(p.revisions);
    },
    (err) => setText(preview, errorText(err)),
  );
  // What will be written to the chosen folder's drive: how many files, how large, and whether
  // they fit; said before anything is written.
  const files = h("p", { id: "export-files", class: "small", attrs: { "aria-live": "polite" }, hidden: true });
  let asked = 0;
  const showFiles = () => {
    const target = folder.value.trim();
    const mine = ++asked;
    if (!target) {
      files.hidden = true;
      return;
    }
    void api.exportFiles(target).then(
      (f) => {
        if (mine !== asked) return;
        const parts = [t("export.files", { n: f.files }), t("export.files_size", { size: formatSize(f.bytes) })];
        if (f.max_file !== null) parts.push(t("export.files_limit", { fs: f.fs ?? "FAT32", max: formatSize(f.max_file) }));
        if (!f.fits) parts.push(t("export.files_no_room", { free: formatSize(f.free ?? 0) }));
        setText(files, parts.join(" "));
        files.classList.toggle("error", !f.fits);
        files.dataset.files = String(f.files);
        files.dataset.fits = String(f.fits);
        files.hidden = false;
      },
      () => {
        if (mine === asked) files.hidden = true;
      },
    );
  };
  let pending: number | undefined;
  folder.addEventListener("input", () => {
    window.clearTimeout(pending);
    pending = window.setTimeout(showFiles, 250);
  });
  const go = h("button", { id: "export-go", type: "button", class: "primary", t: "export.go" });
  const close = h("button", { id: "export-close", type: "button", t: "common.close" });
  const panel = h(
    "section",
    { id: "export-dialog", class: "dialog", attrs: { role: "dialog", "aria-modal": "true", "aria-labelledby": "export-heading" } },
    h("h2", { id: "export-heading", t: "export.title" }),
    h("p", { class: "muted small", t: "export.explain" }),
    preview,
    field,
    files,
    phase,
    progress,
    result,
    h("div", { class: "actions" }, go, close),
  );
  const closeOverlay = openOverlay(panel);
  close.addEventListener("click", closeOverlay);
  go.addEventListener("click", () => {
    const target = folder.value.trim();
    if (!target) {
      folder.focus();
      return;
    }
    progress.hidden = false;
    progress.value = 0;
    delete phase.dataset.phases;
    void runInto(go, result, async () => {
      let shown: string | null = null;
      try {
        const summary = await api.exportBundle(target, (now, done, total) => {
          if (now !== shown) {
            shown = now;
            // Every phase passed through, in order (the window tests read it).
            phase.dataset.phases = [phase.dataset.phases, now].filter(Boolean).join(" ");
            setText(phase, t(`export.phase.${now}` as Key));
            phase.hidden = false;
          }
          progress.value = total > 0 ? Math.floor((done * 100) / total) : 100;
        });
        progress.value = 100;
        // An export carries every sealed version not yet sent.
        setUnsent(0);
        if (summary.files > 1) {
          return t("export.done_files", { n: summary.files, path: summary.path });
        }
        return t("export.done", { revisions: summary.revisions, attachments: summary.attachments, path: summary.path });
      } catch (err) {
        // A refused export wrote nothing: the bar does not pretend otherwise.
        progress.hidden = true;
        throw err;
      } finally {
        phase.hidden = true;
      }
    });
  });
  submitOnEnter(folder, go);
  folder.focus();
}

/** The import dialog: a bundle file typed or picked, checked whole before anything is stored. */
function showImportDialog(onClose?: () => void): void {
  const { field, input: path } = fileField("import-path", "import.file", "import.pick");
  const progress = h("progress", { id: "import-progress", max: "100", value: "0", hidden: true });
  const result = h("p", { id: "import-result", attrs: { role: "status" }, hidden: true });
  const go = h("button", { id: "import-go", type: "button", class: "primary", t: "import.go" });
  const close = h("button", { id: "import-close", type: "button", t: "common.close" });
  const panel = h(
    "section",
    { id: "import-dialog", class: "dialog", attrs: { role: "dialog", "aria-modal": "true", "aria-labelledby": "import-heading" } },
    h("h2", { id: "import-heading", t: "import.title" }),
    h("p", { class: "muted small", t: "import.explain" }),
    field,
    progress,
    result,
    h("div", { class: "actions" }, go, close),
  );
  const closeOverlay = openOverlay(panel, onClose);
  close.addEventListener("click", closeOverlay);
  go.addEventListener("click", () => {
    const file = path.value.trim();
    if (!file) {
      path.focus();
      return;
    }
    progress.hidden = false;
    progress.value = 0;
    void runInto(go, result, async () => {
      let s;
      try {
        s = await api.importBundle(file, (done, total) => {
          progress.value = total > 0 ? Math.floor((done * 100) / total) : 100;
        });
      } catch (err) {
        // A refused import changed nothing: the bar does not stay full as if it had.
        progress.hidden = true;
        throw err;
      }
      progress.value = 100;
      if (s.quarantined) {
        result.dataset.outcome = "quarantined";
        return t("import.quarantined", { reason: reasonText(s.quarantined.reason), key: s.quarantined.device_key });
      }
      result.dataset.outcome = "applied";
      const parts = [t("import.done", { applied: s.applied, skipped: s.skipped, attachments: s.attachments })];
      if (s.custody_conflicts > 0) parts.push(t("import.custody_conflicts", { n: s.custody_conflicts }));
      if (s.forks > 0) parts.push(t("import.forks", { n: s.forks }));
      if (s.refused_after_revocation > 0) parts.push(t("import.refused_late", { n: s.refused_after_revocation }));
      return parts.join(" ");
    });
  });
  submitOnEnter(path, go);
  path.focus();
}
