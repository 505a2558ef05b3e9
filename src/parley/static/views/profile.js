// The profile card: clicking a person's name or avatar shows their picture, display name,
// @username, status and role in the room, with a "Message" button that opens (or starts) our
// direct chat. Loaded on first use.
import { loadMembers, startDirect } from '../actions.js';
import { h, userText, stylesheet } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { request } from '../api.js';
import { currentUser, displayName, emit, isBlocked, store } from '../state.js';
import { avatar } from './avatar.js';
import { describeError, uid } from './ui.js';

await Promise.all([loadStrings('later'), stylesheet('/static/later.css')]); // strings and styles of the parts loaded on first use

/** The direct chat with exactly this person, if I have one already. */
function existingDirect(user) {
  return [...store.rooms.values()].find((room) => room.kind === 'direct' && room.my_state === 'joined'
    && (room.members ?? []).length === 2 && room.members.some((member) => member.id === user.id));
}

/**
 * Issue 11: block or unblock this person (`PUT|DELETE /api/v1/me/blocks/{id}`). They are not told;
 * their messages fold away for me and their mentions stop notifying me.
 */
function blockButton(user, error) {
  const button = h('button', { type: 'button', class: 'btn card-block' });
  const draw = () => { button.textContent = isBlocked(user.id) ? t('card.unblock') : t('card.block'); };
  button.addEventListener('click', async () => {
    const blocking = !isBlocked(user.id);
    button.disabled = true;
    error.textContent = '';
    try {
      await request(blocking ? 'PUT' : 'DELETE', `/me/blocks/${user.id}`);
      const others = (store.me.blocked ?? []).filter((id) => id !== user.id);
      store.me.blocked = blocking ? [...others, user.id] : others;
      draw();
      emit('user', user.id); // timelines showing them redraw, folded or not
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      button.disabled = false;
    }
  });
  draw();
  return button;
}

/** Opens the card for `user`; `roomId` (optional) tells which room's role to show. */
export function openProfileCard(user, roomId = null) {
  user = currentUser(user);
  const titleId = uid('card-title');
  const mine = user.id === store.me.id;
  const role = h('p', { class: 'muted card-role' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const close = h('button', { type: 'button', class: 'btn', on: { click: () => dialog.close() } }, t('card.close'));
  const message = h('button', { type: 'button', class: 'btn primary card-message' }, t('card.message'));
  message.addEventListener('click', async () => {
    message.disabled = true;
    error.textContent = '';
    try {
      const room = existingDirect(user) ?? await startDirect([user.username]);
      dialog.close();
      location.hash = `#/room/${room.id}`;
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      message.disabled = false;
    }
  });
  const edit = h('button', { type: 'button', class: 'btn primary', on: { click: async () => {
    dialog.close();
    const { openSettings } = await import('./settings.js');
    openSettings();
  } } }, t('card.edit'));
  const status = typeof user.status === 'string' && user.status.trim() ? userText(user.status, 'p', { class: 'card-status' }) : null;
  const body = h('div', { class: 'card-body' },
    avatar(user, 72),
    h('h2', { id: titleId, class: 'card-name' }, userText(displayName(user)),
      user.bot ? [' ', h('span', { class: 'role bot-badge' }, t('bot.badge'))] : null),
    userText(`@${user.username}`, 'p', { class: 'handle card-handle' }),
    status, role, mine ? h('p', { class: 'muted' }, t('card.you')) : null,
    h('div', { class: 'card-actions' }, close, mine ? null : blockButton(user, error), mine ? edit : message), error);
  const dialog = h('dialog', { class: 'dialog card', 'aria-labelledby': titleId, dataset: { userId: user.id } }, body);

  const showRole = () => {
    const member = store.members.get(roomId)?.find((item) => item.user.id === user.id);
    role.textContent = member ? t('card.role', { role: t(`role.${member.role}`) }) : '';
    role.hidden = !member;
  };
  if (roomId && store.rooms.get(roomId)?.kind === 'room') {
    if (store.members.has(roomId)) showRole();
    else loadMembers(roomId).then(showRole, () => {});
  } else {
    role.hidden = true;
  }
  const opener = document.activeElement;
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener?.isConnected) opener.focus();
  });
  dialog.addEventListener('click', (event) => { if (event.target === dialog) dialog.close(); });
  document.body.append(dialog);
  dialog.showModal();
  (mine ? edit : message).focus();
  return dialog;
}
