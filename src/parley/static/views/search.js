// Message search: the results view (loaded on first use; the box is in sidebar.js) at #/search?q=... with
// filters (room, from, has a file). Snippets arrive as [text, highlighted] parts and are built as
// text nodes, highlighted ones inside <mark>: nothing from a message is ever parsed as HTML.
// Choosing a result jumps to the message in its room (jump.js).
import { api } from '../api.js';
import { h, iconButton, userText, stylesheet } from '../dom.js';
import { formatDateTime, loadStrings, t } from '../i18n.js';
import { jumpTo } from '../jump.js';
import { personParts, roomLabel } from '../people.js';
import { isBlocked, roomTitle, store } from '../state.js';
import { searchHash } from './sidebar.js';
import { describeError, field } from './ui.js';

await Promise.all([loadStrings('later'), stylesheet('/static/later.css')]); // strings and styles of the parts loaded on first use

/** The results view; `params` come from the hash. */
export function createSearchView(params) {
  const q = h('input', { type: 'search', name: 'q', autocomplete: 'off', maxlength: 200, value: params.q ?? '' });
  const room = h('select', { name: 'room' }, h('option', { value: '' }, t('search.allRooms')),
    ...[...store.rooms.values()].filter((r) => r.my_state === 'joined')
      .sort((a, b) => roomTitle(a).localeCompare(roomTitle(b)))
      .map((r) => h('option', { value: String(r.id) }, roomLabel(r))));
  room.value = params.room ?? '';
  const from = h('input', { type: 'text', name: 'from', autocomplete: 'off', maxlength: 40, value: params.from ?? '' });
  const hasFile = h('input', { type: 'checkbox', name: 'has', checked: params.has === 'file' });
  const form = h('form', { class: 'search-form', role: 'search', on: { submit: (event) => {
    event.preventDefault();
    const next = { q: q.value.trim(), room: room.value, from: from.value.trim(), has: hasFile.checked ? 'file' : '' };
    if (next.q) location.hash = searchHash(next);
  } } },
  field(t('search.query'), q),
  h('div', { class: 'search-filters' },
    field(t('search.room'), room), field(t('search.from'), from, t('search.fromHint')),
    h('label', { class: 'search-check' }, hasFile, t('search.hasFile'))),
  h('button', { type: 'submit', class: 'btn primary' }, t('search.submit')));
  const status = h('p', { class: 'muted search-status', role: 'status' });
  const list = h('ol', { class: 'search-results', 'aria-labelledby': 'search-title' });
  const more = h('button', { type: 'button', class: 'btn search-more', hidden: true }, t('search.more'));
  const el = h('section', { class: 'search', 'aria-labelledby': 'search-title' },
    h('header', { class: 'room-header' },
      iconButton('back', t('nav.back'), () => { location.hash = '#/'; }, { class: 'icon-btn back-btn' }),
      h('div', { class: 'room-heading' }, h('h2', { class: 'room-title', id: 'search-title' }, t('search.title')))),
    h('div', { class: 'search-body' }, form, status, list, more));

  let cursor = null;
  let alive = true;
  async function load() {
    status.textContent = t('search.searching');
    more.hidden = true;
    try {
      const answer = await api.search({ q: params.q, room: params.room || undefined, from: params.from || undefined,
        has: params.has || undefined, before: cursor ?? undefined, limit: 20 });
      if (!alive) return;
      const first = !list.childElementCount;
      list.append(...answer.hits.map(hitItem));
      // Submitted from a search box: the keyboard goes on to the first result.
      if (first && document.activeElement?.matches('input[type="search"]')) list.querySelector('button')?.focus();
      cursor = answer.next_before;
      more.hidden = !answer.has_more;
      status.textContent = list.childElementCount ? t('search.count', { count: list.childElementCount }) : t('search.none');
    } catch (err) {
      if (alive) status.textContent = describeError(err);
    }
  }
  more.addEventListener('click', load);
  if (params.q) load();
  return {
    el,
    kind: 'search',
    mounted: () => { if (!params.q) q.focus(); },
    destroy: () => { alive = false; },
  };
}

function hitItem(hit) {
  const { message } = hit;
  const known = store.rooms.get(hit.room);
  const where = known ? roomLabel(known) : t('search.otherRoom');
  const snippet = h('p', { class: 'hit-snippet' },
    ...hit.snippet.map(([text, marked]) => (marked ? h('mark', {}, userText(text)) : userText(text))));
  const button = h('button', { type: 'button', class: 'search-hit', dataset: { room: hit.room, seq: hit.seq },
    on: { click: () => jumpTo(hit.room, hit.seq).catch(() => {}) } },
  h('span', { class: 'hit-meta' },
    h('span', { class: 'hit-room' }, known?.kind === 'room' ? '#' : '', userText(where)),
    h('span', { class: 'hit-author' }, personParts(message.sender, 'hit-sender')),
    h('time', { datetime: new Date(message.ts).toISOString() }, formatDateTime(message.ts))),
  snippet);
  if (!isBlocked(message.sender?.id)) return h('li', {}, button);
  // Someone I blocked: folded to one line, as in the timeline, until I show it.
  const item = h('li', { class: 'blocked-msg' }, t('timeline.blocked'), ' ', h('button', { type: 'button', class: 'link-btn',
    on: { click: () => { item.classList.remove('blocked-msg'); item.replaceChildren(button); button.focus(); } } }, t('timeline.showBlocked')));
  return item;
}
