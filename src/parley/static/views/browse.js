// Browse public rooms: search by name, join, or open one I am already in.
import { joinRoom, publicRooms } from '../actions.js';
import { h, iconButton, userText, stylesheet } from '../dom.js';
import { loadStrings, t, tCount } from '../i18n.js';
import { store } from '../state.js';
import { describeError, dialog, field } from './ui.js';

await Promise.all([loadStrings('later'), stylesheet('/static/later.css')]); // strings and styles of the parts loaded on first use

// The dialogs load on first use.
const createRoomDialog = dialog('createRoomDialog');

const SEARCH_DELAY_MS = 200;

export function createBrowseView() {
  const search = h('input', { type: 'search', autocomplete: 'off' });
  const list = h('ul', { class: 'browse-list', 'aria-labelledby': 'browse-title' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const el = h('section', { class: 'browse', 'aria-labelledby': 'browse-title' },
    h('header', { class: 'room-header' },
      iconButton('back', t('nav.back'), () => { location.hash = '#/'; }, { class: 'icon-btn back-btn' }),
      h('div', { class: 'room-heading' }, h('h2', { class: 'room-title', id: 'browse-title' }, t('browse.title'))),
      h('div', { class: 'room-actions' }, h('button', { type: 'button', class: 'btn', on: { click: createRoomDialog } }, t('createRoom.open')))),
    h('div', { class: 'browse-body' }, field(t('browse.search'), search), status, list));

  let latest = 0;
  const load = async () => {
    const ticket = ++latest;
    status.textContent = t('common.loading');
    try {
      const rooms = await publicRooms(search.value.trim());
      if (ticket !== latest) return;
      list.replaceChildren(...rooms.map(roomCard));
      status.textContent = rooms.length ? '' : t('browse.none');
    } catch (err) {
      if (ticket === latest) status.textContent = describeError(err);
    }
  };
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, SEARCH_DELAY_MS);
  });
  load();
  return { el, kind: 'browse', mounted: () => search.focus(), destroy: () => clearTimeout(timer) };
}

function roomCard(room) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const joined = store.rooms.get(room.id)?.my_state === 'joined';
  const action = joined
    ? h('a', { class: 'btn', href: `#/room/${room.id}` }, t('browse.openRoom'))
    : h('button', { type: 'button', class: 'btn primary', on: { click: async () => {
      try {
        await joinRoom(room.id);
        location.hash = `#/room/${room.id}`;
      } catch (err) {
        error.textContent = describeError(err);
      }
    } } }, t('browse.join'));
  return h('li', { class: 'browse-card', dataset: { roomId: room.id } },
    h('div', { class: 'browse-info' },
      h('h3', {}, h('span', { 'aria-hidden': 'true' }, '#'), userText(room.name)),
      room.topic ? userText(room.topic, 'p', { class: 'muted' }) : null,
      h('p', { class: 'muted' }, tCount('browse.members', room.member_count ?? 0))),
    action, error);
}
