// Building blocks of the admin console (views/admin.js, views/adminlog.js): paged lists, rows,
// people, times, and the console's strings and styles, which load with it.
import { request } from '../api.js';
import { h } from '../dom.js';
import { language, loadStrings, t } from '../i18n.js';
import { personParts } from '../people.js';
import { describeError } from './ui.js';

let styles = null;

/** The console's strings and styles; resolves once both are in. */
export async function adminAssets() {
  if (!styles) {
    styles = h('link', { rel: 'stylesheet', href: '/static/admin.css' });
    const loaded = new Promise((resolve) => { styles.addEventListener('load', resolve); styles.addEventListener('error', resolve); });
    document.head.append(styles);
    await loaded;
  }
  await loadStrings('admin');
}

/** GET /api/v1{path} with query parameters (empty ones left out). */
export function get(path, params = {}) {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== '');
  return request('GET', `${path}${pairs.length ? `?${new URLSearchParams(pairs)}` : ''}`);
}

export { request };

/** A timestamp of the server (ms, or s for older fields) as a short local date and time. */
export function when(ts) {
  if (ts === null || ts === undefined) return '';
  const ms = ts < 1e12 ? ts * 1000 : ts;
  return new Intl.DateTimeFormat(language(), { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

/** A person's name and @username, or "—" when there is none (a deleted account, the system). */
export function who(user) {
  return user ? h('span', { class: 'person' }, personParts(user)) : h('span', { class: 'muted' }, '—');
}

/** A small label: "admin", "disabled", a state. */
export function tag(text, kind = '') {
  return h('span', { class: `admin-tag ${kind}` }, text);
}

/** A translated name for a value (`prefix.value`), or the value itself when there is no string. */
export function named(prefix, value) {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

/**
 * A list that loads page by page: `load(cursor)` answers `{ items, next, more }`; `row(item)` draws
 * one. `reload()` starts again from the first page (new filters, say).
 */
export function pagedList({ load, row, empty, label }) {
  const list = h('ul', { class: 'admin-list', 'aria-label': label });
  const status = h('p', { class: 'muted admin-status', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'btn admin-more', hidden: true }, t('admin.more'));
  let cursor = null;
  let ticket = 0;
  async function fetchPage(reset) {
    if (reset) {
      ticket += 1;
      cursor = null;
      list.replaceChildren();
    }
    const mine = ticket;
    status.textContent = t('common.loading');
    more.hidden = true;
    try {
      const page = await load(cursor);
      if (mine !== ticket) return;
      list.append(...page.items.map(row));
      cursor = page.next;
      more.hidden = !page.more;
      status.textContent = list.children.length ? '' : t(empty);
    } catch (err) {
      if (mine === ticket) status.textContent = describeError(err);
    }
  }
  more.addEventListener('click', () => fetchPage(false));
  return { el: h('div', { class: 'admin-paged' }, list, status, more), list, status, reload: () => fetchPage(true) };
}

/** One row of a list: what it is on the left, buttons on the right, an error line under both. */
export function adminRow(info, actions, props = {}) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const li = h('li', { class: 'admin-row', ...props }, h('div', { class: 'admin-info' }, info),
    h('div', { class: 'admin-actions' }, actions), error);
  /** Runs an action with its button disabled; a refusal shows in the row. */
  li.run = async (button, action) => {
    button.disabled = true;
    error.textContent = '';
    try {
      await action();
    } catch (err) {
      error.textContent = err.message && [403, 409, 422].includes(err.status) ? err.message : describeError(err);
    } finally {
      button.disabled = false;
    }
  };
  return li;
}

/** A small button for a row; `action` runs through the row's `run`. */
export function rowButton(label, action, kind = '') {
  const button = h('button', { type: 'button', class: `btn small ${kind}` }, label);
  button.addEventListener('click', () => button.closest('.admin-row').run(button, action));
  return button;
}

/** The user whose username is exactly `name` (the server's user search), or an error to show. */
export async function findUser(name) {
  const wanted = name.trim().replace(/^@/, '').toLowerCase();
  const { users = [] } = await get('/users', { q: wanted, limit: 20 });
  const user = users.find((candidate) => candidate.username.toLowerCase() === wanted);
  if (!user) throw Object.assign(new Error(t('admin.noSuchUser', { name: wanted })), { status: 422, code: 'not_found' });
  return user;
}
