// Vigil's window: unlock screen, then incident list + detail. Talks to the Rust side only through
// `invoke`; every error arrives as {code, message}. Report content is only ever put in the DOM
// with textContent (never as HTML) and is never stored: no localStorage, sessionStorage or
// IndexedDB. Locking clears everything shown.

import { detectLanguage, has, language, t, translatePage } from "./i18n.js";

const invoke = window.__TAURI__.core.invoke;
const PAGE = 100;
const $ = (id) => document.getElementById(id);

let shown = 0; // incidents shown in the list (when not searching)
let selected = null; // id of the incident in the detail pane
let listRequest = 0; // bumped on every list or search request; stale answers are dropped
let detailRequest = 0; // the same for the detail pane
let searchTimer = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function errorText(err) {
  const code = err && err.code;
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  if (err && err.message) return err.message;
  return t("error.unexpected", { message: String(err) });
}

function formatDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

function show(node, visible) {
  node.hidden = !visible;
}

// ---- Unlock / lock --------------------------------------------------------------------------

async function unlock(event) {
  event.preventDefault();
  const field = $("passphrase");
  const button = $("unlock");
  const error = $("unlock-error");
  show(error, false);
  if (field.value === "") {
    error.textContent = t("unlock.empty");
    show(error, true);
    return;
  }
  button.disabled = true;
  button.textContent = t("unlock.busy");
  try {
    const overview = await invoke("unlock", { passphrase: field.value });
    field.value = "";
    openVault(overview);
  } catch (err) {
    error.textContent = errorText(err);
    show(error, true);
    field.select();
  } finally {
    button.disabled = false;
    button.textContent = t("unlock.button");
  }
}

function openVault(overview) {
  $("vault-count").textContent = t("vault.count", { n: overview.incidents });
  show($("unlock-screen"), false);
  show($("vault-screen"), true);
  $("search").focus();
  loadList(true);
}

async function lock() {
  clearVaultScreen();
  try {
    await invoke("lock");
  } catch (err) {
    // Locking cannot fail on the Rust side; nothing else to do.
  }
}

function clearVaultScreen() {
  listRequest += 1;
  detailRequest += 1;
  clearTimeout(searchTimer);
  selected = null;
  shown = 0;
  $("search").value = "";
  $("incident-list").replaceChildren();
  $("vault-count").textContent = "";
  clearDetail();
  show($("app-error"), false);
  show($("list-more"), false);
  show($("list-empty"), false);
  show($("vault-screen"), false);
  show($("unlock-screen"), true);
  $("passphrase").value = "";
  $("passphrase").focus();
}

/** Shows an error from a command; a locked vault sends the person back to the unlock screen. */
function fail(err) {
  if (err && err.code === "locked") {
    clearVaultScreen();
    return;
  }
  $("app-error").textContent = errorText(err);
  show($("app-error"), true);
}

// ---- List and search ------------------------------------------------------------------------

async function loadList(fresh) {
  const mine = ++listRequest;
  if (fresh) shown = 0;
  try {
    const page = await invoke("list_incidents", { offset: shown, limit: PAGE });
    if (mine !== listRequest) return;
    const list = $("incident-list");
    if (fresh) list.replaceChildren();
    for (const summary of page.incidents) list.append(listItem(summary));
    shown += page.incidents.length;
    $("vault-count").textContent = t("vault.count", { n: page.total });
    $("list-empty").textContent = t("list.empty");
    show($("list-empty"), page.total === 0);
    show($("list-more"), shown < page.total);
    show($("app-error"), false);
  } catch (err) {
    if (mine === listRequest) fail(err);
  }
}

function listItem(summary) {
  const li = el("li");
  const button = el("button", "incident");
  button.type = "button";
  button.dataset.id = summary.id;
  button.setAttribute("aria-current", String(summary.id === selected));
  button.append(el("span", "title", summary.title));
  const meta = el("span", "meta");
  meta.append(
    el("span", "", formatDate(summary.created_at)),
    el("span", `status ${summary.status}`, t(`status.${summary.status}`)),
    el("span", "", t("list.entries", { n: summary.log_entries })),
  );
  if (summary.attachments > 0) {
    meta.append(el("span", "", t("list.attachments", { n: summary.attachments })));
  }
  button.append(meta);
  li.append(button);
  return li;
}

function hitItem(hit) {
  const li = el("li");
  const button = el("button", "incident");
  button.type = "button";
  button.dataset.id = hit.id;
  button.setAttribute("aria-current", String(hit.id === selected));
  button.append(el("span", "title", hit.title));
  const snippet = el("span", "snippet");
  // The store marks the matched words as [word]; show them highlighted, still as plain text.
  for (const [i, part] of hit.snippet.split(/\[|\]/).entries()) {
    snippet.append(i % 2 === 1 ? el("mark", "", part) : document.createTextNode(part));
  }
  const meta = el("span", "meta");
  meta.append(el("span", "", t(`match.${hit.matched}`)));
  button.append(snippet, meta);
  li.append(button);
  return li;
}

async function runSearch() {
  const query = $("search").value.trim();
  if (query === "") {
    loadList(true);
    return;
  }
  const mine = ++listRequest;
  try {
    const hits = await invoke("search", { query });
    if (mine !== listRequest) return;
    $("incident-list").replaceChildren(...hits.map(hitItem));
    $("list-empty").textContent = t("list.no_results");
    show($("list-empty"), hits.length === 0);
    show($("list-more"), false);
    show($("app-error"), false);
  } catch (err) {
    if (mine === listRequest) fail(err);
  }
}

function onSearchInput() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 200);
}

// ---- Detail ---------------------------------------------------------------------------------

function clearDetail() {
  for (const id of ["detail-title", "detail-meta", "detail-summary"]) $(id).textContent = "";
  $("detail-parties").replaceChildren();
  $("detail-log").replaceChildren();
  show($("detail"), false);
  show($("detail-empty"), true);
}

async function select(id) {
  selected = id;
  for (const b of $("incident-list").querySelectorAll("button.incident")) {
    b.setAttribute("aria-current", String(b.dataset.id === id));
  }
  const mine = ++detailRequest;
  try {
    const view = await invoke("get_incident", { id });
    if (mine !== detailRequest) return;
    renderDetail(view);
  } catch (err) {
    if (mine === detailRequest) fail(err);
  }
}

function partyName(party) {
  const k = party.kind;
  let name = k.name || "";
  if (!name.trim() && k.kind === "group") {
    const what = k.description || k.unit || "";
    name = k.size ? `${k.size} ${what}`.trim() : what;
  }
  return name.trim() || t("party.unnamed");
}

function renderDetail({ incident, log }) {
  $("detail-title").textContent = incident.title;
  $("detail-meta").textContent = [
    t(`status.${incident.status}`),
    t("detail.created", { date: formatDate(incident.created_at) }),
    t("detail.updated", { date: formatDate(incident.updated_at) }),
  ].join(" · ");

  const summary = $("detail-summary");
  summary.textContent = incident.summary || t("detail.no_summary");
  summary.classList.toggle("muted", !incident.summary);

  const parties = $("detail-parties");
  parties.replaceChildren();
  for (const party of incident.parties) {
    const li = el("li");
    li.append(el("span", "name", partyName(party)));
    if (party.kind.kind === "person" && party.kind.occupation) {
      li.append(el("span", "muted", `, ${party.kind.occupation}`));
    }
    for (const role of party.roles) li.append(el("span", "role", t(`role.${role}`)));
    parties.append(li);
  }
  if (incident.parties.length === 0) parties.append(el("li", "muted", t("detail.no_parties")));

  const entries = $("detail-log");
  entries.replaceChildren();
  for (const entry of log) {
    const li = el("li", entry.flagged ? "flagged" : "");
    const time = el("time", "", formatDate(entry.at));
    time.dateTime = entry.at;
    li.append(time, el("p", "", entry.text));
    entries.append(li);
  }
  if (log.length === 0) entries.append(el("li", "muted", t("detail.no_log")));

  show($("detail-empty"), false);
  show($("detail"), true);
}

// ---- Wiring ---------------------------------------------------------------------------------

function start() {
  detectLanguage();
  translatePage();
  $("unlock-form").addEventListener("submit", unlock);
  $("lock").addEventListener("click", lock);
  $("search").addEventListener("input", onSearchInput);
  $("search").addEventListener("keydown", (e) => {
    if (e.key === "Escape" && $("search").value !== "") {
      $("search").value = "";
      runSearch();
    }
  });
  $("list-more").addEventListener("click", () => loadList(false));
  $("incident-list").addEventListener("click", (e) => {
    const button = e.target.closest("button.incident");
    if (button) select(button.dataset.id);
  });
  $("passphrase").focus();
}

start();
