// The sidebar: connection state, my rooms, invitations and direct chats with unread counts and
// mention markers, and the footer with my name, language, notifications and log out.
import { h, icon, iconButton, replace, srOnly } from '../dom.js';
import { formatNumber, t } from '../i18n.js';
import { notificationPermission, notificationsAvailable, requestNotifications } from '../notify.js';
import { personParts, roomTitleNodes } from '../people.js';
import { on, roomTitle, store } from '../state.js';
import { openSwitcher } from './shell.js';
import { dialog, languageSelect, uid } from './ui.js';
import { avatar } from './avatar.js';
import { roomNotifySettings } from '../prefs.js';

// The dialogs load on first use.
const createRoomDialog = dialog('createRoomDialog');
const directDialog = dialog('directDialog');

/** onLanguage(code) switches the language; onLogout() logs out. */
export function createSidebar({ onLanguage, onLogout }) {
  const status = h('p', { class: 'conn', role: 'status' });
  const lists = {
    rooms: h('ul', { class: 'room-list', 'aria-label': t('sidebar.rooms') }),
    invites: h('ul', { class: 'room-list', 'aria-label': t('sidebar.invites') }),
    direct: h('ul', { class: 'room-list', 'aria-label': t('sidebar.direct') }),
  };
  const me = h('button', { type: 'button', class: 'me', title: t('profile.open'), on: { click: openSettings } });
  const renderMe = () => replace(me, avatar(store.me, 28), personParts(store.me, 'me-name'), srOnly(`, ${t('profile.open')}`));
  renderMe();
  const inviteSection = section(t('sidebar.invites'), null, lists.invites);
  const el = h('aside', { class: 'sidebar', 'aria-label': t('sidebar.label') },
    h('div', { class: 'sidebar-head' }, h('h1', { class: 'brand', translate: 'no' }, t('app.name')), status,
      iconButton('search', t('switcher.open'), openSwitcher, { class: 'icon-btn small switcher-btn', 'aria-keyshortcuts': 'Control+K Meta+K' })),
    createSearchBox(), // search
    h('nav', { class: 'sidebar-nav', 'aria-label': t('sidebar.conversations') },
      section(t('sidebar.rooms'), iconButton('plus', t('createRoom.open'), createRoomDialog), lists.rooms,
        h('a', { class: 'browse-link', href: '#/browse' }, t('browse.open'))),
      inviteSection,
      section(t('sidebar.direct'), iconButton('plus', t('direct.open'), directDialog), lists.direct)),
    footer(onLanguage, onLogout, me));
  const items = new Map();

  const renderStatus = () => {
    status.dataset.state = store.connection;
    status.textContent = t(`conn.${store.connection}`);
  };
  const renderRooms = () => {
    const rooms = [...store.rooms.values()].sort((a, b) => roomTitle(a).localeCompare(roomTitle(b)));
    const joined = rooms.filter((room) => room.my_state === 'joined');
    fillList(lists.rooms, joined.filter((room) => room.kind === 'room'), items);
    fillList(lists.direct, joined.filter((room) => room.kind === 'direct'), items);
    const invited = rooms.filter((room) => room.my_state === 'invited');
    fillList(lists.invites, invited, items);
    inviteSection.hidden = invited.length === 0;
    for (const [id, item] of items) if (!store.rooms.has(id)) { item.li.remove(); items.delete(id); }
  };
  const offs = [on('connection', renderStatus), on('rooms', renderRooms), on('room', renderRooms), on('route', renderRooms),
    on('user', (id) => { renderRooms(); if (id === store.me.id) renderMe(); })];
  renderStatus();
  renderRooms();
  return { el, destroy: () => offs.forEach((off) => off()) };
}

function section(title, action, ...content) {
  const id = uid('section');
  return h('section', { class: 'side-section', 'aria-labelledby': id },
    h('div', { class: 'side-section-head' }, h('h2', { id }, title), action), ...content);
}

/** Puts the rooms' items in order, reusing existing nodes so focus and hover survive updates. */
function fillList(list, rooms, items) {
  const wanted = rooms.map((room) => {
    if (!items.has(room.id)) items.set(room.id, roomItem(room));
    const item = items.get(room.id);
    item.update(room);
    return item.li;
  });
  const current = [...list.children];
  if (wanted.length !== current.length || wanted.some((li, i) => li !== current[i])) list.replaceChildren(...wanted);
}

function roomPrefix(room) {
  // A direct chat shows the other person's avatar.
  if (room.kind === 'direct') {
    const other = (room.members ?? []).find((user) => user.id !== store.me?.id);
    return other ? avatar(other, 20) : '@';
  }
  return room.visibility === 'private' ? icon('lock') : '#';
}

function roomItem(room) {
  const name = h('span', { class: 'room-name' });
  const marker = h('span', { class: 'mention-marker', 'aria-hidden': 'true' }, '@');
  const badge = h('span', { class: 'badge', 'aria-hidden': 'true' });
  const sr = srOnly('');
  const prefix = h('span', { class: 'room-prefix', 'aria-hidden': 'true' }, roomPrefix(room));
  const link = h('a', { class: 'room-link', href: `#/room/${room.id}` }, prefix, name, marker, badge, sr);
  const li = h('li', { dataset: { roomId: room.id } }, link);
  const update = (current) => {
    const title = roomTitleNodes(current);
    replace(name, title.length ? title : t('direct.untitled'));
    const unread = current.my_state === 'joined' ? current.unread ?? 0 : 0;
    badge.textContent = unread ? formatNumber(unread) : '';
    badge.hidden = !unread;
    marker.hidden = !current.mention;
    const notes = [];
    if (current.kind === 'direct') replace(prefix, roomPrefix(current));
    const muted = roomNotifySettings(current).muted;
    link.classList.toggle('muted-room', muted);
    if (muted) notes.push(t('sidebar.muted'));
    if (current.my_state === 'invited') notes.push(t('sidebar.invited'));
    if (unread) notes.push(t('sidebar.unread', { count: formatNumber(unread) }));
    if (current.mention) notes.push(t('sidebar.mentioned'));
    sr.textContent = notes.length ? `, ${notes.join(', ')}` : '';
    li.dataset.unread = unread;
    li.dataset.mention = String(Boolean(current.mention));
    link.classList.toggle('unread', unread > 0);
    if (store.currentRoom === current.id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  };
  return { li, update };
}

/** Settings (display name, status, picture, password, language, theme) load on first use. */
async function openSettings() {
  const settings = await import('./settings.js');
  settings.openSettings();
}

/** `me` is my name, a button that opens my profile. */
function footer(onLanguage, onLogout, me) {
  const notifyButton = h('button', { type: 'button', class: 'btn small', on: { click: async () => {
    await requestNotifications();
    notifyButton.hidden = true;
  } } }, t('settings.notifications'));
  notifyButton.hidden = !notificationsAvailable() || notificationPermission() !== 'default';
  return h('footer', { class: 'sidebar-foot' },
    me,
    h('div', { class: 'foot-actions' }, languageSelect(onLanguage), notifyButton,
      store.me.is_admin && h('a', { class: 'btn small', href: '#/admin' }, t('admin.open')),
      h('button', { type: 'button', class: 'btn small', on: { click: onLogout } }, t('auth.logout'))));
}

// -- search: the box in the sidebar's head (the results view, search.js, loads on first use) --
const FIELDS = ['q', 'room', 'from', 'has'];

/** The hash of a search: #/search?q=...&room=... */
export function searchHash(params) {
  const pairs = FIELDS.filter((name) => params[name]).map((name) => [name, params[name]]);
  return `#/search?${new URLSearchParams(pairs)}`;
}

/** The search box of the sidebar's head. */
function createSearchBox() {
  const input = h('input', { type: 'search', class: 'search-input', name: 'q', autocomplete: 'off', maxlength: 200,
    placeholder: t('search.placeholder'), 'aria-label': t('search.label') });
  const form = h('form', { class: 'search-box', role: 'search', on: { submit: (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) location.hash = searchHash({ q });
  } } }, input);
  return form;
}
