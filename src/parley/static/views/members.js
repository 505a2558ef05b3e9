// The member panel: who is in the room, their role, and whether they are online.
import { loadMembers } from '../actions.js';
import { h, iconButton, srOnly } from '../dom.js';
import { t } from '../i18n.js';
import { personParts } from '../people.js';
import { displayName, on, roleAtLeast, store } from '../state.js';
import { avatar, profileButton } from './avatar.js';

const ROLE_ORDER = ['owner', 'admin', 'moderator', 'member'];

export function createMemberPanel(roomId, onClose) {
  const list = h('ul', { class: 'member-list' });
  const heading = h('h3', { id: `members-${roomId}` }, t('members.title'));
  const el = h('aside', { class: 'members', id: `member-panel-${roomId}`, 'aria-labelledby': heading.id },
    h('div', { class: 'panel-head' }, heading, iconButton('close', t('members.close'), onClose, { class: 'icon-btn close-members' })),
    list);
  el.append(h('button', { class: 'btn add-bot', on: { click: () => import('./bots.js').then((m) => m.addBotDialog(roomId)) } }, t('bot.add')));

  const render = () => {
    const members = store.members.get(roomId);
    if (!members) {
      list.replaceChildren(h('li', { class: 'muted' }, t('common.loading')));
      loadMembers(roomId).catch(() => list.replaceChildren(h('li', { class: 'muted' }, t('error.unavailable'))));
      return;
    }
    const sorted = [...members].sort((a, b) => rank(a) - rank(b) || displayName(a.user).localeCompare(displayName(b.user)));
    list.replaceChildren(...sorted.map((member) => memberRow(member, roomId)));
  };
  const shown = (ids) => store.members.get(roomId)?.some((m) => [].concat(ids).includes(m.user.id)) && render();
  const offs = [
    on('members', (id) => id === roomId && render()),
    on('presence', shown),
    on('user', shown),
  ];
  render();
  return { el, destroy: () => offs.forEach((off) => off()) };
}

function rank(member) {
  const online = store.presence.get(member.user.id) ? 0 : 1;
  return online * 10 + ROLE_ORDER.indexOf(member.role);
}

function memberRow(member, roomId) {
  const online = Boolean(store.presence.get(member.user.id));
  // Avatar and name in one button that opens the profile card.
  const muted = member.muted_until > Date.now();
  return h('li', { class: `member${online ? ' online' : ''}`, dataset: { userId: member.user.id } },
    h('span', { class: 'presence-dot', 'aria-hidden': 'true' }),
    srOnly(online ? t('presence.online') : t('presence.offline')),
    profileButton(member.user, roomId, [avatar(member.user, 28),
      h('span', { class: 'member-names' }, personParts(member.user, 'member-name')),
      member.role !== 'member' ? h('span', { class: `role role-${member.role}` }, t(`role.${member.role}`)) : null,
      member.state === 'invited' ? h('span', { class: 'role' }, t('members.invited')) : null,
      muted ? h('span', { class: 'role role-muted' }, t('members.muted')) : null], 'member-btn'),
    canModerate(store.rooms.get(roomId), member) ? iconButton('more', t('members.actions', { user: displayName(member.user) }),
      () => import('./modtools.js').then((m) => m.memberMenu(roomId, member.user)), { class: 'icon-btn small' }) : null);
}

/** Moderation: moderators and up act on members below them; server admins on anyone. */
export function canModerate(room, member) {
  return room?.kind === 'room' && !room.archived && member.user.id !== store.me.id
    && (store.me.is_admin || (roleAtLeast(room, 'moderator') && !roleAtLeast({ my_role: member.role ?? 'member' }, room.my_role)));
}
