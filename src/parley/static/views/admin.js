// The admin console (#/admin, also served at /admin) for server admins: users, rooms, reports,
// the audit log, registration and invite codes, the spam filter's figures. Loaded on first use.
import { h, iconButton, replace, userText } from '../dom.js';
import { t, tCount } from '../i18n.js';
import { store } from '../state.js';
import { avatar } from './avatar.js';
import { adminAssets, adminRow, findUser, get, named, pagedList, request, rowButton, tag, when, who } from './adminkit.js';
import { auditTab, figuresTab, registrationTab, reportsTab } from './adminlog.js';
import { field, openDialog, uid } from './ui.js';

const TABS = { users: usersTab, rooms: roomsTab, reports: reportsTab, audit: auditTab, registration: registrationTab, figures: figuresTab };
const SEARCH_DELAY_MS = 250;
const PURGE_WINDOWS = [3600, 86_400, 7 * 86_400];

/** The console, once its strings and styles are in; `tab` is the one to show first. */
export async function createAdminView(tab) {
  await adminAssets();
  const heading = h('h2', { class: 'room-title', id: uid('admin-title') }, t('admin.title'));
  const header = h('header', { class: 'room-header' },
    iconButton('back', t('nav.back'), () => { location.hash = '#/'; }, { class: 'icon-btn back-btn' }),
    h('div', { class: 'room-heading' }, heading));
  if (!store.me.is_admin) {
    return { kind: 'admin', el: h('section', { class: 'admin', 'aria-labelledby': heading.id }, header,
      h('p', { class: 'admin-body muted' }, t('admin.notAdmin'))) };
  }
  const tablist = h('div', { class: 'admin-tabs', role: 'tablist', 'aria-labelledby': heading.id });
  const panel = h('div', { class: 'admin-body', role: 'tabpanel', tabindex: '-1' });
  const buttons = Object.keys(TABS).map((name) => h('button', { type: 'button', role: 'tab', class: 'admin-tab',
    id: `admin-tab-${name}`, dataset: { tab: name }, on: { click: () => show(name, true) } }, t(`admin.tab.${name}`)));
  tablist.append(...buttons);
  let current = null;

  function show(name, focusTab = false) {
    if (!(name in TABS)) name = 'users';
    current?.destroy?.();
    for (const button of buttons) {
      const selected = button.dataset.tab === name;
      button.setAttribute('aria-selected', String(selected));
      button.tabIndex = selected ? 0 : -1;
      if (selected && focusTab) button.focus();
    }
    panel.setAttribute('aria-labelledby', `admin-tab-${name}`);
    current = TABS[name]();
    panel.replaceChildren(current.el);
    // The tab is part of the address (#/admin/audit), without a new history entry or a re-render.
    history.replaceState(null, '', `#/admin/${name}`);
  }

  // Arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern).
  tablist.addEventListener('keydown', (event) => {
    const i = buttons.indexOf(document.activeElement);
    const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1 };
    if (i < 0 || !(event.key in moves)) return;
    event.preventDefault();
    show(buttons[(moves[event.key] + buttons.length) % buttons.length].dataset.tab, true);
  });
  show(tab);
  return {
    kind: 'admin',
    el: h('section', { class: 'admin', 'aria-labelledby': heading.id }, header, tablist, panel),
    destroy: () => current?.destroy?.(),
  };
}

/** A search box above a paged list, reloading as one types. */
function searchable(label, list) {
  const input = h('input', { type: 'search', autocomplete: 'off', maxlength: 100 });
  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(list.reload, SEARCH_DELAY_MS);
  });
  return { input, el: h('div', { class: 'admin-pane' }, field(label, input), list.el), destroy: () => clearTimeout(timer) };
}

/** The tab of `GET /api/v1/admin/<what>` (users, rooms): a search box over the list, page by page. */
function searchTab(what, searchLabel, empty, row) {
  const list = pagedList({
    label: t(`admin.tab.${what}`),
    empty,
    row,
    load: async (before) => {
      const answer = await get(`/admin/${what}`, { q: search.input.value.trim(), before, limit: 50 });
      const items = answer[what] ?? [];
      return { items, more: Boolean(answer.has_more), next: items.at(-1)?.id };
    },
  });
  const search = searchable(searchLabel, list);
  list.reload();
  return search;
}

// -- users: search, disable/enable, grant/revoke admin, purge recent messages --
function usersTab() {
  return searchTab('users', t('admin.searchUsers'), 'admin.noUsers', userRow);
}

function userRow(user) {
  const tags = h('span', { class: 'admin-tags' });
  const disable = h('span');
  const grant = h('span');
  const info = [avatar(user, 32), h('div', { class: 'admin-text' }, h('div', {}, who(user)), tags)];
  const mine = user.id === store.me.id; // no disabling or demoting myself from here
  const purge = rowButton(t('admin.purge'), () => purgeDialog(user), 'danger-text');
  const li = adminRow(info, [disable, grant, purge], { dataset: { userId: user.id } });
  const change = async (changes) => {
    Object.assign(user, await request('PATCH', `/admin/users/${user.id}`, changes) ?? changes);
    draw();
  };
  function draw() {
    replace(tags,
      user.is_admin ? tag(t('admin.isAdmin'), 'accent') : null,
      user.disabled ? tag(t('admin.isDisabled'), 'danger') : null,
      user.created_at ? h('span', { class: 'muted' }, t('admin.joined', { date: when(user.created_at) })) : null);
    if (mine) return;
    disable.replaceChildren(rowButton(user.disabled ? t('admin.enable') : t('admin.disable'),
      () => change({ disabled: !user.disabled }), user.disabled ? '' : 'danger-text'));
    grant.replaceChildren(rowButton(user.is_admin ? t('admin.revokeAdmin') : t('admin.grantAdmin'),
      () => change({ is_admin: !user.is_admin })));
    li.classList.toggle('is-disabled', Boolean(user.disabled));
  }
  draw();
  return li;
}

/** Purge a user's recent messages in every room, after a confirmation naming the window. */
function purgeDialog(user) {
  const since = h('select', { name: 'since_s' },
    PURGE_WINDOWS.map((s) => h('option', { value: s }, named('admin.window', s))));
  openDialog({
    title: t('admin.purgeTitle'),
    submitLabel: t('admin.purge'),
    danger: true,
    body: [h('p', {}, who(user)), h('p', { class: 'muted' }, t('admin.purgeHint')), field(t('admin.purgeSince'), since)],
    onSubmit: async () => {
      const answer = await request('POST', `/admin/users/${user.id}/purge`, { since_s: Number(since.value) });
      const count = answer?.deleted;
      if (typeof count === 'number') {
        document.querySelector(`.admin-row[data-user-id="${user.id}"] .form-error`)
          ?.replaceChildren(h('span', { class: 'admin-done' }, tCount('admin.purged', count)));
      }
    },
  });
}

// -- rooms: list and search, open one, name an owner --
function roomsTab() {
  return searchTab('rooms', t('admin.searchRooms'), 'admin.noRooms', roomRow);
}

function roomRow(room) {
  const facts = [named('admin.visibility', room.visibility ?? room.kind),
    typeof room.member_count === 'number' ? tCount('browse.members', room.member_count) : null,
    room.archived ? t('admin.archived') : null].filter(Boolean).join(' · ');
  const owner = h('span');
  const owners = [...(room.owners ?? [])];
  const drawOwners = (named) => {
    if (named && !owners.some((user) => user.id === named.id)) owners.push(named);
    replace(owner, owners.length > 0 && [t('admin.owner'), ' ', owners.flatMap((user, i) => (i ? [', ', who(user)] : [who(user)]))]);
  };
  drawOwners();
  const info = h('div', { class: 'admin-text' },
    h('div', { class: 'admin-name' }, h('span', { 'aria-hidden': 'true' }, '# '), userText(room.name ?? '')),
    h('span', { class: 'muted' }, facts), owner);
  const open = h('a', { class: 'btn small', href: `#/room/${room.id}` }, t('admin.openRoom'));
  return adminRow(info, [open, rowButton(t('admin.nameOwner'), () => ownerDialog(room, drawOwners))], { dataset: { roomId: room.id } });
}

function ownerDialog(room, drawOwners) {
  const name = h('input', { name: 'username', required: true, autocomplete: 'off', maxlength: 33, placeholder: '@username' });
  const dialog = openDialog({
    title: t('admin.nameOwnerTitle', { room: room.name ?? '' }),
    submitLabel: t('admin.nameOwner'),
    body: [field(t('auth.username'), name, t('admin.nameOwnerHint'))],
    describe: (err) => err.message || t('error.unknown'),
    onSubmit: async () => {
      const user = await findUser(name.value);
      await request('PATCH', `/rooms/${room.id}/members/${user.id}`, { role: 'owner' });
      drawOwners(user);
    },
  });
  name.focus();
  return dialog;
}
