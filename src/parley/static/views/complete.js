// Completion in the composer: `@al` lists the room's members (and @room / @here for moderators and
// up), `:smi` lists emoji by shortcode. Arrow keys move, Enter or Tab takes, Escape closes. The
// emoji data loads on the first `:` completion only.
import { loadMembers } from '../actions.js';
import { h, stylesheet } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { personParts } from '../people.js';
import { displayName, roleAtLeast, store } from '../state.js';
import { avatar } from './avatar.js';
import { uid } from './ui.js';

await Promise.all([loadStrings('later'), stylesheet('/static/later.css')]); // strings and styles of the parts loaded on first use

const MAX_ITEMS = 8;
const MENTION_BEFORE = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{0,32})$/;
const SHORTCODE_BEFORE = /(^|[\s(])(:[a-z0-9_+-]{2,40})$/i;
const SLASH_BEFORE = /^\/([a-z0-9_-]{0,32})$/i;
const SHORTCODE_DONE = /(^|[\s(]):([a-z0-9_+-]{2,40}):$/i;

let emojiModule = null;
function emoji() {
  emojiModule ??= import('./emoji.js').then(async (module) => ({ module, list: await module.loadEmoji() }))
    .catch((error) => { emojiModule = null; throw error; });
  return emojiModule;
}

/** People of the room I can mention: its members (fetched on first need), else a direct chat's members. */
async function roomPeople(roomId) {
  if (!store.members.has(roomId)) await loadMembers(roomId).catch(() => {});
  const members = store.members.get(roomId);
  return members ? members.map((member) => member.user) : store.rooms.get(roomId)?.members ?? [];
}

function fold(text) {
  return String(text ?? '').normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Attaches completion to the composer's textarea; `wrap` holds the popup. Returns {close, update}. */
export function attachCompletion(input, wrap, roomId) {
  const listId = uid('completions');
  const list = h('ul', { class: 'completions', id: listId, role: 'listbox', 'aria-label': t('complete.label'), hidden: true });
  wrap.append(list);
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', listId);
  input.setAttribute('aria-expanded', 'false');
  let items = [];
  let active = 0;
  let token = null;
  let generation = 0;

  const close = () => {
    items = [];
    token = null;
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };
  const highlight = (i) => {
    active = (i + items.length) % items.length;
    [...list.children].forEach((li, n) => li.setAttribute('aria-selected', String(n === active)));
    const li = list.children[active];
    input.setAttribute('aria-activedescendant', li.id);
    li.scrollIntoView({ block: 'nearest' });
  };
  const show = (found, at) => {
    items = found.slice(0, MAX_ITEMS);
    token = at;
    if (!items.length) { close(); return; }
    list.replaceChildren(...items.map((item, i) => {
      const li = h('li', { class: 'completion', role: 'option', id: `${listId}-${i}`, 'aria-selected': 'false' }, item.view);
      li.addEventListener('pointerdown', (event) => { event.preventDefault(); take(i); });
      return li;
    }));
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(0);
  };
  const replaceToken = (start, end, text) => {
    input.setRangeText(text, start, end, 'end');
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const take = (i) => {
    const item = items[i];
    if (!item || !token) return;
    const { start, end } = token;
    close();
    replaceToken(start, end, item.insert);
    if (item.emoji) emoji().then(({ module }) => module.rememberEmoji(item.emoji), () => {});
    input.focus();
  };

  const mentionItems = async (query) => {
    const q = fold(query);
    const room = store.rooms.get(roomId);
    const seen = new Set();
    const people = (await roomPeople(roomId)).filter((user) => {
      if (!user || user.id === store.me.id || seen.has(user.id)) return false;
      seen.add(user.id);
      return fold(user.username).startsWith(q) || fold(displayName(user)).split(/\s+/).some((word) => word.startsWith(q));
    }).sort((a, b) => displayName(a).localeCompare(displayName(b)));
    const found = people.map((user) => ({
      insert: `@${user.username} `,
      view: [avatar(user, 22), h('span', { class: 'completion-name' }, personParts(user, 'user-name'))],
    }));
    if (room?.kind === 'room' && roleAtLeast(room, 'moderator')) {
      for (const [name, hint] of [['room', 'complete.room'], ['here', 'complete.here']]) {
        if (name.startsWith(q)) {
          found.push({ insert: `@${name} `, view: [h('span', { class: 'completion-glyph', 'aria-hidden': 'true' }, '@'),
            h('strong', {}, `@${name}`), h('span', { class: 'completion-hint' }, t(hint))] });
        }
      }
    }
    return found;
  };

  const update = async () => {
    const caret = input.selectionStart;
    if (caret !== input.selectionEnd) { close(); return; }
    const before = input.value.slice(0, caret);
    const mention = before.match(MENTION_BEFORE);
    const mine = ++generation;
    const current = () => mine === generation && input.selectionStart === caret;
    const slash = before.match(SLASH_BEFORE);
    if (slash) { // slash commands (issue 12): built-ins and the room's bots' commands
      const found = await (await import('./slash.js')).commandItems(roomId, slash[1]);
      if (current()) {
        show(found.map((c) => ({ insert: `/${c.name} `, view: [h('strong', { class: 'completion-command' }, `/${c.name}`),
          c.usage ? h('span', { class: 'completion-usage' }, c.usage) : null, h('span', { class: 'completion-hint' }, c.hint),
          c.bot ? h('span', { class: 'bot-badge' }, `@${c.bot.username}`) : null] })), { start: 0, end: caret });
      }
      return;
    }
    if (mention) {
      const found = await mentionItems(mention[2]);
      if (current()) show(found, { start: caret - mention[2].length - 1, end: caret });
      return;
    }
    const done = before.match(SHORTCODE_DONE);
    const code = before.match(SHORTCODE_BEFORE);
    if (!done && !code) { close(); return; }
    let loaded;
    try {
      loaded = await emoji();
    } catch {
      return;
    }
    if (!current()) return;
    const { module, list: all } = loaded;
    if (done) {
      // A whole `:shortcode:` typed out becomes its emoji.
      const name = done[2].toLowerCase();
      const hit = all.find((item) => item.codes.includes(name));
      if (hit) {
        close();
        replaceToken(caret - name.length - 2, caret, hit.emoji);
        module.rememberEmoji(hit.emoji);
      }
      return;
    }
    const query = code[2];
    const found = module.searchEmoji(all, query, { limit: MAX_ITEMS, shortcodesOnly: true }).map((item) => ({
      emoji: item.emoji,
      insert: item.emoji,
      view: [h('span', { class: 'completion-glyph', 'aria-hidden': 'true' }, item.emoji),
        h('span', {}, `:${item.codes.find((c) => c.startsWith(query.slice(1).toLowerCase())) ?? item.codes[0]}:`),
        h('span', { class: 'completion-hint' }, module.emojiName(item))],
    }));
    show(found, { start: caret - query.length, end: caret });
  };

  input.addEventListener('keydown', (event) => {
    if (list.hidden || !items.length || event.isComposing) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      highlight(active + (event.key === 'ArrowDown' ? 1 : -1));
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      take(active);
    } else if (event.key === 'Escape') {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  });
  input.addEventListener('input', (event) => { if (event.isTrusted !== false) update(); });
  input.addEventListener('click', update);
  input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== input) close(); }, 150));
  return { close, update };
}
