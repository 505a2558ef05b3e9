// The signed-in layout: sidebar plus the main pane, which follows the URL hash
// (#/room/<id>, #/browse, or #/ for the start page). On a phone one pane shows at a time.
import { h } from '../dom.js';
import { t, tError } from '../i18n.js';
import { emit, on } from '../state.js';
import { openMessageLink } from './msgparts.js';
import { createRoomView, roomViewKind } from './room.js';
import { createSidebar } from './sidebar.js';
import { dialog } from './ui.js';

// The dialogs load on first use.
const createRoomDialog = dialog('createRoomDialog');
const directDialog = dialog('directDialog');

const NOTICE_MS = 5000;

function parseRoute(hash) {
  const room = hash.match(/^#\/room\/(\d+)(?:\/(\d+))?$/);
  if (room) return { name: 'room', id: Number(room[1]), seq: room[2] ? Number(room[2]) : null };
  if (hash === '#/browse') return { name: 'browse' };
  // Search: #/search?q=...&room=...&from=...&has=file
  const search = hash.match(/^#\/search\?(.*)$/);
  if (search) return { name: 'search', params: Object.fromEntries(new URLSearchParams(search[1])) };
  if (hash.startsWith('#/admin')) return { name: 'admin' };
  return { name: 'home' };
}

/** A view whose module loads on first use: an empty busy pane now, the view once it arrives. */
function lazyView(make) {
  const el = h('div', { class: 'lazy-view', 'aria-busy': 'true' });
  let made = null;
  let gone = false;
  make().then((view) => {
    if (gone) {
      view.destroy?.();
      return;
    }
    made = view;
    el.replaceWith(view.el);
    view.mounted?.();
  });
  return { el, destroy: () => { gone = true; made?.destroy?.(); } };
}

export function createShell({ onLanguage, onLogout }) {
  const sidebar = createSidebar({ onLanguage, onLogout });
  const main = h('main', { class: 'main', id: 'main', tabindex: '-1' });
  const skip = h('button', { type: 'button', class: 'skip-link', on: { click: () => main.focus() } }, t('nav.skip'));
  const notice = h('p', { class: 'toast', role: 'status', hidden: true });
  const el = h('div', { class: 'app' }, skip, sidebar.el, main, notice);
  let view = null;
  let route = parseRoute(location.hash);
  let noticeTimer = null;

  function render() {
    route = parseRoute(location.hash);
    view?.destroy?.();
    if (route.name === 'room') view = createRoomView(route.id);
    else if (route.name === 'browse') view = lazyView(async () => (await import('./browse.js')).createBrowseView());
    else if (route.name === 'search') {
      const { params } = route;
      view = lazyView(async () => (await import('./search.js')).createSearchView(params));
    }
    else if (route.name === 'admin') view = lazyView(async () => (await import('./admin.js')).createAdminView(location.hash.slice(8)));
    else view = createHome();
    main.replaceChildren(view.el);
    view.mounted?.();
    if (route.seq) openMessageLink(route.id, route.seq);
    el.dataset.pane = route.name === 'home' ? 'sidebar' : 'main';
    emit('route', route);
  }

  /** A room whose face changed (joined, invited, archived, gone) gets its view rebuilt. */
  function refreshRoom() {
    if (route.name === 'room' && view.kind !== roomViewKind(route.id)) render();
  }

  function showNotice({ code }) {
    notice.textContent = tError(code);
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { notice.hidden = true; }, NOTICE_MS);
  }

  const offs = [
    on('rooms', refreshRoom),
    on('room', refreshRoom),
    on('room-removed', (id) => { if (route.name === 'room' && route.id === id) location.hash = '#/'; }),
    on('notice', showNotice),
  ];
  window.addEventListener('hashchange', render);
  // Ctrl/Cmd+K opens the quick switcher (loaded on first use).
  const onKey = (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'k') {
      event.preventDefault();
      openSwitcher();
    }
  };
  document.addEventListener('keydown', onKey);
  return {
    el,
    mounted: render,
    destroy() {
      window.removeEventListener('hashchange', render);
      document.removeEventListener('keydown', onKey);
      offs.forEach((off) => off());
      clearTimeout(noticeTimer);
      sidebar.destroy();
      view?.destroy?.();
    },
  };
}

export async function openSwitcher() {
  const switcher = await import('./switcher.js');
  switcher.openSwitcher();
}

function createHome() {
  return {
    kind: 'home',
    el: h('section', { class: 'home' },
      h('h2', {}, t('home.title')),
      h('p', { class: 'muted' }, t('home.hint')),
      h('div', { class: 'home-actions' },
        h('a', { class: 'btn primary', href: '#/browse' }, t('browse.open')),
        h('button', { type: 'button', class: 'btn', on: { click: createRoomDialog } }, t('createRoom.open')),
        h('button', { type: 'button', class: 'btn', on: { click: directDialog } }, t('direct.open')))),
  };
}
