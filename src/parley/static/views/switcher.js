// The quick switcher (Ctrl/Cmd+K): my rooms, direct chats and people, filtered fuzzily as I type;
// arrow keys choose, Enter opens (a person: our direct chat, started if need be), Escape closes.
import { searchUsers, startDirect } from '../actions.js';
import { h, icon, userText, stylesheet } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { personLabel, roomLabel } from '../people.js';
import { displayName, store } from '../state.js';
import { avatar } from './avatar.js';
import { describeError, uid } from './ui.js';

await Promise.all([loadStrings('later'), stylesheet('/static/later.css')]); // strings and styles of the parts loaded on first use

const MAX_ITEMS = 12;
const SEARCH_DELAY_MS = 150;

function fold(text) {
  return String(text ?? '').normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * A fuzzy score: every character of the query in order within the text; earlier, consecutive and
 * word-start matches score higher. 0: no match.
 */
export function fuzzyScore(query, text) {
  const q = fold(query).replace(/\s+/g, '');
  const s = fold(text);
  if (!q) return 1;
  let score = 0;
  let at = -1;
  for (const ch of q) {
    const next = s.indexOf(ch, at + 1);
    if (next < 0) return 0;
    score += next === at + 1 ? 3 : 1;
    if (next === 0 || /[\s#@._-]/.test(s[next - 1])) score += 2;
    at = next;
  }
  if (s.startsWith(q)) score += 10;
  return score - at * 0.01;
}

function directWith(userId) {
  return [...store.rooms.values()].find((room) => room.kind === 'direct' && room.my_state === 'joined'
    && (room.members ?? []).length === 2 && room.members.some((member) => member.id === userId));
}

let open = null;

export function openSwitcher() {
  if (open) { open.input.focus(); return; }
  const titleId = uid('switcher-title');
  const listId = uid('switcher-list');
  const input = h('input', { type: 'text', class: 'switcher-input', autocomplete: 'off', spellcheck: 'false',
    role: 'combobox', 'aria-expanded': 'true', 'aria-controls': listId, 'aria-autocomplete': 'list', 'aria-label': t('switcher.label'),
    placeholder: t('switcher.label') });
  const list = h('ul', { class: 'switcher-list', id: listId, role: 'listbox', 'aria-label': t('switcher.label') });
  const status = h('p', { class: 'field-hint', 'aria-live': 'polite' }, t('switcher.hint'));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const dialog = h('dialog', { class: 'dialog switcher', 'aria-labelledby': titleId },
    h('div', { class: 'dialog-form' }, h('h2', { id: titleId }, t('switcher.title')), input, status, list, error));
  let items = [];
  let active = 0;
  let remote = [];
  let timer = null;
  open = { input };

  const candidates = () => {
    const rooms = [...store.rooms.values()].filter((room) => room.my_state === 'joined').map((room) => ({
      key: `room-${room.id}`, text: room.kind === 'direct' ? roomLabel(room) : room.name,
      kind: room.kind === 'direct' ? 'direct' : 'room', room,
    }));
    const people = new Map();
    for (const user of [...store.users.values(), ...remote]) {
      if (user.id === store.me.id || people.has(user.id) || directWith(user.id)) continue;
      people.set(user.id, { key: `user-${user.id}`, text: `${displayName(user)} ${user.username}`, kind: 'person', user });
    }
    return [...rooms, ...people.values()];
  };
  const view = (item) => {
    if (item.kind === 'person') {
      return [avatar(item.user, 22), userText(personLabel(item.user), 'span', { class: 'room-name' }),
        h('span', { class: 'switcher-kind' }, t('switcher.person'))];
    }
    const other = item.room.kind === 'direct' && item.room.members?.find((user) => user.id !== store.me.id);
    const glyph = other ? avatar(other, 22)
      : h('span', { class: 'switcher-glyph', 'aria-hidden': 'true' }, item.room.visibility === 'private' ? icon('lock') : '#');
    return [glyph, userText(item.text, 'span', { class: 'room-name' }),
      h('span', { class: 'switcher-kind' }, t(item.kind === 'direct' ? 'switcher.direct' : 'switcher.room'))];
  };
  const highlight = (i) => {
    if (!items.length) { input.removeAttribute('aria-activedescendant'); return; }
    active = (i + items.length) % items.length;
    [...list.children].forEach((li, n) => li.setAttribute('aria-selected', String(n === active)));
    input.setAttribute('aria-activedescendant', list.children[active].id);
    list.children[active].scrollIntoView({ block: 'nearest' });
  };
  const render = () => {
    const q = input.value.trim();
    items = candidates().map((item) => [fuzzyScore(q, item.text), item]).filter(([score]) => score > 0)
      .sort((a, b) => b[0] - a[0] || a[1].text.localeCompare(b[1].text)).slice(0, MAX_ITEMS).map(([, item]) => item);
    list.replaceChildren(...items.map((item, i) => {
      const li = h('li', { class: 'switcher-item', role: 'option', id: `${listId}-${i}`, 'aria-selected': 'false',
        dataset: { key: item.key } }, view(item));
      li.addEventListener('click', () => choose(i));
      return li;
    }));
    status.textContent = items.length ? t('switcher.hint') : t('switcher.none');
    highlight(0);
  };
  const choose = async (i) => {
    const item = items[i];
    if (!item) return;
    try {
      const room = item.kind === 'person' ? await startDirect([item.user.username]) : item.room;
      dialog.close();
      location.hash = `#/room/${room.id}`;
    } catch (err) {
      error.textContent = describeError(err);
    }
  };

  input.addEventListener('input', () => {
    render();
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) return;
    timer = setTimeout(async () => {
      try {
        remote = await searchUsers(q);
      } catch {
        return;
      }
      if (open && input.value.trim() === q) render();
    }, SEARCH_DELAY_MS);
  });
  input.addEventListener('keydown', (event) => {
    if (event.isComposing) return;
    if (event.key === 'ArrowDown') highlight(active + 1);
    else if (event.key === 'ArrowUp') highlight(active - 1);
    else if (event.key === 'Enter') choose(active);
    else return;
    event.preventDefault();
  });
  const opener = document.activeElement;
  dialog.addEventListener('close', () => {
    clearTimeout(timer);
    open = null;
    dialog.remove();
    if (opener?.isConnected && !location.hash.startsWith('#/room/')) opener.focus();
  });
  dialog.addEventListener('click', (event) => { if (event.target === dialog) dialog.close(); });
  document.body.append(dialog);
  dialog.showModal();
  render();
  input.focus();
}
