// Attachment list with upload progress and in-memory previews (images and text only). Bytes
// are fetched on demand, shown from a Blob URL or a <pre>, and dropped when the preview closes.

import type { AppError } from "../bindings/AppError";
import type { AttachmentMeta } from "../bindings/AttachmentMeta";
import type { MissingParts } from "../bindings/MissingParts";
import * as api from "../api";
import { handleLockedError, openOverlay } from "../app";
import { h, setT, setText } from "../dom";
import { errorText, formatDateTime, formatSize, num } from "../format";
import { t } from "../i18n";

const PREVIEW_LIMIT = 32 * 1024 * 1024;

/** The panel of the incident on screen; file drops and Ctrl+O go to it. */
let active: AttachmentsPanel | null = null;

export function activePanel(): AttachmentsPanel | null {
  return active;
}

export class AttachmentsPanel {
  readonly root: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly uploads: HTMLElement;
  private items: AttachmentMeta[];

  constructor(
    private readonly incidentId: string,
    items: AttachmentMeta[],
    /** Attachments (by id) that came in parts and wait for some still to be imported. */
    private readonly incomplete: Record<string, MissingParts | undefined> = {},
  ) {
    this.items = [...items];
    this.list = h("ul", { class: "attachment-list" });
    this.empty = h("p", { class: "muted small", t: "attach.none" });
    this.uploads = h("div", { class: "uploads" });
    this.root = h("section", { class: "attachments" }, h("h3", { t: "attach.title" }), this.uploads, this.list, this.empty);
    this.render();
    active = this;
  }

  dispose(): void {
    if (active === this) active = null;
  }

  render(): void {
    this.empty.hidden = this.items.length > 0;
    this.list.replaceChildren(
      ...this.items.map((meta) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "attachment", data: { id: meta.id, name: meta.original_name }, on: { click: () => void preview(meta) } },
            h("span", { class: "name", text: meta.original_name }),
            h("span", { class: "muted small", text: `${formatSize(num(meta.size))} · ${meta.media_type} · ${formatDateTime(meta.added_at)}` }),
            partsMissing(this.incomplete[meta.id]),
          ),
        ),
      ),
    );
  }

  /** Attaches files one after another, each with its own progress bar. */
  async attach(paths: string[]): Promise<void> {
    for (const path of paths) {
      const name = path.split(/[\\/]/).pop() || path;
      const bar = h("progress", { max: 1 });
      bar.removeAttribute("value");
      const label = h("span", { class: "small", t: "attach.adding", tParams: { name } });
      const row = h("div", { class: "upload" }, label, bar);
      this.uploads.append(row);
      try {
        // The channel reports bytes done; the total is not known here, so the bar stays
        // indeterminate and the label counts up.
        const meta = await api.addAttachment(this.incidentId, path, (done) => {
          setT(label, "attach.adding", { name: `${name} (${formatSize(num(done))})` });
        });
        row.remove();
        this.items.push(meta);
        this.render();
      } catch (err) {
        if (handleLockedError(err as AppError)) return;
        bar.remove();
        row.classList.add("error");
        setText(label, t("attach.failed", { name, error: errorText(err) }));
        row.append(h("button", { type: "button", class: "link", t: "common.close", on: { click: () => row.remove() } }));
      }
    }
  }
}

function previewKind(meta: AttachmentMeta): "image" | "text" | null {
  const type = meta.media_type.toLowerCase().split(";")[0]!.trim();
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("text/")) return "text";
  return null;
}

async function preview(meta: AttachmentMeta): Promise<void> {
  const body = h("div", { class: "preview-body" }, h("p", { class: "muted", t: "common.loading" }));
  const closeButton = h("button", { type: "button", t: "common.close" });
  const panel = h(
    "section",
    { class: "dialog preview", attrs: { role: "dialog", "aria-modal": "true" } },
    h("h2", { t: "attach.preview_title", tParams: { name: meta.original_name } }),
    body,
    h("div", { class: "actions" }, closeButton),
  );
  let url: string | null = null;
  let closed = false;
  const close = openOverlay(panel, () => {
    closed = true;
    if (url) URL.revokeObjectURL(url);
    url = null;
    body.replaceChildren();
  });
  closeButton.addEventListener("click", close);
  closeButton.focus();

  const kind = previewKind(meta);
  if (!kind) {
    body.replaceChildren(h("p", { t: "attach.no_preview" }));
    return;
  }
  if (num(meta.size) > PREVIEW_LIMIT) {
    body.replaceChildren(h("p", { t: "error.too_large" }));
    return;
  }
  try {
    const bytes = await api.attachmentBytes(meta.id);
    if (closed) return;
    if (kind === "image") {
      url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: meta.media_type }));
      body.replaceChildren(h("img", { src: url, alt: meta.original_name }));
    } else {
      const text = new TextDecoder("utf-8").decode(bytes);
      body.replaceChildren(h("pre", { text }));
    }
  } catch (err) {
    if (closed) return;
    if (handleLockedError(err as AppError)) return;
    body.replaceChildren(h("p", { class: "error", text: errorText(err) }));
  }
}

export async function pickAndAttach(): Promise<void> {
  const panel = active;
  if (!panel) return;
  try {
    const paths = await api.pickFiles(t("log.attach"));
    if (paths.length) await panel.attach(paths);
  } catch (err) {
    if (handleLockedError(err as AppError)) return;
    panel.root.append(h("p", { class: "error small", text: errorText(err) }));
  }
}

/** For an attachment that came in parts and waits for some: which are missing. */
function partsMissing(parts: MissingParts | undefined): HTMLElement | null {
  if (!parts) return null;
  return h(
    "span",
    { class: "parts-missing small", data: { missing: parts.missing.join(" "), of: String(parts.of) } },
    h("span", { t: "attach.parts_missing", tParams: { n: parts.missing.length } }),
    " ",
    h("span", { t: "attach.parts_which", tParams: { list: parts.missing.join(", "), of: parts.of } }),
  );
}
