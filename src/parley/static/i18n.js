// Translations and locale-aware formatting. Strings live in locales/<code>.js; a key missing there
// falls back to English, and a key missing everywhere shows as itself so it is easy to spot.
import en from './locales/en.js';

// English ships with the first screen (it is every key's fallback); the others load when chosen.
export const LANGUAGES = [
  { code: 'en', name: 'English', strings: en },
  { code: 'zh-CN', name: '中文', strings: null, load: () => import('./locales/zh-CN.js') },
];
const STORAGE_KEY = 'parley.lang';
let current = LANGUAGES[0];

/** The saved choice, else the first browser language we speak, else English. */
export function detectLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  const wanted = saved ? [saved] : navigator.languages ?? [navigator.language];
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split('-')[0];
    const match = LANGUAGES.find((lang) => lang.code.toLowerCase().split('-')[0] === base);
    if (match) return match.code;
  }
  return 'en';
}

export function language() {
  return current.code;
}

/** Switch language (loading its strings the first time); resolves once `t` speaks it. */
export async function setLanguage(code, { save = false } = {}) {
  const lang = LANGUAGES.find((candidate) => candidate.code === code) ?? LANGUAGES[0];
  if (!lang.strings) lang.strings = (await lang.load()).default;
  current = lang;
  await Promise.all([...bundles].map((name) => addStrings(name, lang)));
  if (save) localStorage.setItem(STORAGE_KEY, current.code);
  document.documentElement.lang = current.code;
  formatters.clear();
}

// loadStrings('x') adds locales/x-<code>.js, for parts loaded on first use.
const bundles = new Set();
const addStrings = (name, lang) => Promise.all([LANGUAGES[0], lang].map(async (l) =>
  Object.assign(l.strings, (await import(`./locales/${name}-${l.code}.js`)).default)));
export async function loadStrings(name) {
  await addStrings(name, current);
  bundles.add(name);
}

function lookup(key) {
  return current.strings[key] ?? en[key] ?? key;
}

/** The string for `key` with `{name}` placeholders filled from params. */
export function t(key, params = {}) {
  return lookup(key).replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The message for an error code from the server (or 'network'), with a generic fallback. */
export function tError(code) {
  const key = `error.${code}`;
  return key in current.strings || key in en ? t(key) : t('error.unknown');
}

/** A counted string: uses `key.one` / `key.other` as the language's plural rules say. */
export function tCount(key, count, params = {}) {
  const category = new Intl.PluralRules(current.code).select(count);
  const variant = `${key}.${category}` in current.strings ? category : 'other';
  return t(`${key}.${variant}`, { count: formatNumber(count), ...params });
}

/**
 * A string whose placeholders are DOM nodes (a user's name, say): returns a list of strings and
 * nodes to append, so user text never passes through string concatenation into markup.
 */
export function tNodes(key, nodes) {
  return lookup(key).split(/(\{\w+\})/).filter(Boolean)
    .map((part) => { const name = part.match(/^\{(\w+)\}$/)?.[1]; return name && name in nodes ? nodes[name] : part; });
}

/** The locale for dates and numbers: the browser's own variant of the chosen language if it has one. */
function locale() {
  const base = current.code.split('-')[0];
  return (navigator.languages ?? []).find((tag) => tag.split('-')[0] === base && tag.includes('-')) ?? current.code;
}

const formatters = new Map();
function formatter(kind, options) {
  if (!formatters.has(kind)) formatters.set(kind, new Intl.DateTimeFormat(locale(), options));
  return formatters.get(kind);
}

export function formatTime(ts) {
  return formatter('time', { hour: 'numeric', minute: '2-digit' }).format(ts);
}

export function formatDateTime(ts) {
  return formatter('datetime', { dateStyle: 'full', timeStyle: 'short' }).format(ts);
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

/** "1 day", "30 seconds" */
export function formatSpan(ms) {
  // (a ban's `until` minus its event's `ts` falls a few ms short of the duration: whole minutes from 1 min)
  const s = ms >= 60_000 ? Math.round(ms / 60_000) * 60 : Math.max(1, Math.round(ms / 1000));
  const [unit, size] = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]].find(([, n]) => s >= n);
  return new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'long' }).format(Math.round(s / size));
}

/** "Today", "Yesterday", or the full date, for day separators. */
export function formatDay(ts) {
  const days = Math.round((startOfDay(Date.now()) - startOfDay(ts)) / 86_400_000);
  if (days === 0) return t('day.today');
  if (days === 1) return t('day.yesterday');
  return formatter('day', { dateStyle: 'full' }).format(ts);
}

export function startOfDay(ts) {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}
