// A tiny element builder. Report content only ever reaches the DOM as text (textContent or
// property values), never as HTML.

import { type Key, type Params, t } from "./i18n";

export type Child = Node | string | null | undefined | false;

type Handlers = { [E in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[E]) => void };

export interface Props {
  class?: string;
  /** Plain text content (report data, numbers...). */
  text?: string;
  /** Translated text content; re-translated when the language changes. */
  t?: Key;
  tParams?: Params;
  tPlaceholder?: Key;
  tLabel?: Key;
  tTitle?: Key;
  data?: Record<string, string>;
  attrs?: Record<string, string>;
  on?: Handlers;
  /** Any other property assigned directly: id, type, value, checked, disabled, hidden... */
  [prop: string]: unknown;
}

const SPECIAL = new Set(["class", "text", "t", "tParams", "tPlaceholder", "tLabel", "tTitle", "data", "attrs", "on"]);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.t) {
    node.dataset.i18n = props.t;
    if (props.tParams) node.dataset.i18nParams = JSON.stringify(props.tParams);
    node.textContent = t(props.t, props.tParams);
  } else if (props.text !== undefined) {
    node.textContent = props.text;
  }
  if (props.tPlaceholder) {
    node.dataset.i18nPlaceholder = props.tPlaceholder;
    node.setAttribute("placeholder", t(props.tPlaceholder));
  }
  if (props.tLabel) {
    node.dataset.i18nAriaLabel = props.tLabel;
    node.setAttribute("aria-label", t(props.tLabel));
  }
  if (props.tTitle) {
    node.dataset.i18nTitle = props.tTitle;
    node.setAttribute("title", t(props.tTitle));
  }
  if (props.data) Object.assign(node.dataset, props.data);
  if (props.attrs) for (const [name, value] of Object.entries(props.attrs)) node.setAttribute(name, value);
  if (props.on) {
    for (const [name, handler] of Object.entries(props.on)) {
      node.addEventListener(name, handler as EventListener);
    }
  }
  for (const [name, value] of Object.entries(props)) {
    if (!SPECIAL.has(name) && value !== undefined) (node as unknown as Record<string, unknown>)[name] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/** Sets translated text on an existing element (and remembers the key for language switches). */
export function setT(node: HTMLElement, key: Key, params?: Params): void {
  node.dataset.i18n = key;
  if (params) node.dataset.i18nParams = JSON.stringify(params);
  else delete node.dataset.i18nParams;
  node.textContent = t(key, params);
}

/** Sets untranslated text (report content, or a message already translated). */
export function setText(node: HTMLElement, text: string): void {
  delete node.dataset.i18n;
  delete node.dataset.i18nParams;
  node.textContent = text;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing element #${id}`);
  return node as T;
}

/** A `<label>` wrapping a caption and a control, with an error slot for `path` if given. */
export function field(caption: Key, control: HTMLElement, path?: string, extra?: Child): HTMLElement {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "caption", t: caption }),
    control,
    extra,
    path === undefined ? null : errorSlot(path),
  );
}

export function errorSlot(path: string): HTMLElement {
  return h("span", { class: "field-error", data: { for: path }, attrs: { role: "alert" } });
}

export function option(value: string, label: string | Key, translated = false): HTMLOptionElement {
  return translated ? h("option", { value, t: label as Key }) : h("option", { value, text: label });
}

export function debounce<A extends unknown[]>(ms: number, fn: (...args: A) => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (...args: A) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}
