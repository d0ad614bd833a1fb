// Every string the UI shows, by language. Code looks strings up with t(key); nothing visible is
// written inline in HTML or JS. `{name}` marks a value filled in by t(key, {name: value}).
// Languages fall back to English key by key, so a missing translation shows English, never a key.

const STRINGS = {
  en: {
    "app.name": "Vigil",
    "unlock.title": "Unlock the vault",
    "unlock.intro": "Enter the vault's passphrase. Nothing is shown until the vault is unlocked.",
    "unlock.passphrase": "Passphrase",
    "unlock.button": "Unlock",
    "unlock.busy": "Unlocking…",
    "unlock.empty": "Enter the passphrase.",
    "vault.lock": "Lock",
    "vault.count": "Incidents: {n}",
    "search.label": "Search",
    "search.placeholder": "Search incidents, parties and logs…",
    "list.label": "Incidents",
    "list.empty": "This vault has no incidents yet.",
    "list.no_results": "Nothing found.",
    "list.more": "Show more",
    "list.entries": "Log: {n}",
    "list.attachments": "Files: {n}",
    "status.draft": "Draft",
    "status.sealed": "Sealed",
    "match.incident": "in the record",
    "match.party": "in a party",
    "match.log": "in the log",
    "detail.none": "Select an incident to read it.",
    "detail.created": "Created {date}",
    "detail.updated": "updated {date}",
    "detail.summary": "Summary",
    "detail.no_summary": "No summary yet.",
    "detail.parties": "Parties",
    "detail.no_parties": "No parties recorded.",
    "detail.log": "Running log",
    "detail.no_log": "The log is empty.",
    "party.unnamed": "Unnamed",
    "role.victim": "victim",
    "role.perpetrator": "perpetrator",
    "role.source": "source",
    "role.witness": "witness",
    "role.intervening_party": "intervening party",
    "error.wrong_passphrase": "Wrong passphrase. Check the keyboard layout and Caps Lock.",
    "error.vault_locked": "The vault is open in another Vigil window or command. Close it and try again.",
    "error.locked": "The vault is locked. Unlock it with the passphrase.",
    "error.unexpected": "Something went wrong: {message}",
  },
  ru: {
    "app.name": "Vigil",
    "unlock.title": "Открыть хранилище",
    "unlock.intro": "Введите пароль хранилища. Пока хранилище закрыто, ничего не показывается.",
    "unlock.passphrase": "Пароль",
    "unlock.button": "Открыть",
    "unlock.busy": "Открываем…",
    "unlock.empty": "Введите пароль.",
    "vault.lock": "Закрыть",
    "vault.count": "Инцидентов: {n}",
    "search.label": "Поиск",
    "search.placeholder": "Поиск по инцидентам, участникам и журналам…",
    "list.label": "Инциденты",
    "list.empty": "В хранилище пока нет инцидентов.",
    "list.no_results": "Ничего не найдено.",
    "list.more": "Показать ещё",
    "list.entries": "Журнал: {n}",
    "list.attachments": "Файлы: {n}",
    "status.draft": "Черновик",
    "status.sealed": "Закрыт для правок",
    "match.incident": "в записи",
    "match.party": "в участнике",
    "match.log": "в журнале",
    "detail.none": "Выберите инцидент, чтобы его прочитать.",
    "detail.created": "Создан {date}",
    "detail.updated": "изменён {date}",
    "detail.summary": "Описание",
    "detail.no_summary": "Описания пока нет.",
    "detail.parties": "Участники",
    "detail.no_parties": "Участники не указаны.",
    "detail.log": "Журнал событий",
    "detail.no_log": "Журнал пуст.",
    "party.unnamed": "Без имени",
    "role.victim": "пострадавший",
    "role.perpetrator": "нарушитель",
    "role.source": "источник",
    "role.witness": "свидетель",
    "role.intervening_party": "заступник",
    "error.wrong_passphrase": "Неверный пароль. Проверьте раскладку клавиатуры и Caps Lock.",
    "error.vault_locked": "Хранилище открыто в другом окне или команде Vigil. Закройте его и попробуйте снова.",
    "error.locked": "Хранилище закрыто. Откройте его паролем.",
    "error.unexpected": "Что-то пошло не так: {message}",
  },
};

let lang = "en";

/** Chooses the language: `ru` for Russian-speaking systems, English otherwise. */
export function detectLanguage() {
  const wanted = (navigator.language || "en").toLowerCase().split("-")[0];
  setLanguage(wanted in STRINGS ? wanted : "en");
}

export function setLanguage(code) {
  lang = code in STRINGS ? code : "en";
  document.documentElement.lang = lang;
}

export function language() {
  return lang;
}

/** Whether `key` has a string (in this language or in English). */
export function has(key) {
  return key in STRINGS[lang] || key in STRINGS.en;
}

/** The string for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** Fills elements marked `data-i18n` (text) and `data-i18n-placeholder` / `-label` (attributes). */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
  document.title = t("app.name");
}
