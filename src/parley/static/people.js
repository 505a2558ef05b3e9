// A person is named by display name and, beside it, the unique @username (shown once when equal),
// so two "Sam Lee"s are told apart. Bots carry a BOT badge (issue 12).
import { h, userText } from './dom.js';
import { t } from './i18n.js';
import { currentUser, displayName, store } from './state.js';

// A deleted account's placeholder (the server refuses these names at registration).
const DELETED = /^deleted-[0-9a-f]{16}$/i;

function handleShown(user) {
  return Boolean(user?.username) && !DELETED.test(user.username) && displayName(user) !== user.username;
}

function nameOf(user) {
  return DELETED.test(user?.username ?? '') ? t('person.deleted') : displayName(user);
}

/** The display name (in a span of class nameClass) and, if different, a muted @username. */
export function personParts(user, nameClass = 'person-name') {
  user = currentUser(user);
  const name = userText(nameOf(user), 'span', { class: nameClass });
  const parts = handleShown(user) ? [name, ' ', userText(`@${user.username}`, 'span', { class: 'handle' })] : [name];
  if (user?.bot) parts.at(-1).append(' ', h('span', { class: 'role bot-badge' }, t('bot.badge')));
  return parts;
}

/** The same parts in one element, for a place in a sentence. */
export function person(user, nameClass) {
  return h('span', { class: 'person' }, personParts(user, nameClass));
}

/** A person as plain text, for labels, announcements and notifications. */
export function personLabel(user) {
  user = currentUser(user);
  return handleShown(user) ? t('person.label', { name: displayName(user), username: user.username }) : nameOf(user);
}

function others(room) {
  return (room.members ?? []).filter((user) => user.id !== store.me?.id);
}

/** A room's title as nodes: its name, or for a direct chat the other people, each with @username. */
export function roomTitleNodes(room) {
  if (room.kind !== 'direct') return [userText(room.name)];
  return others(room).flatMap((user, i) => (i ? [', ', person(user)] : [person(user)]));
}

/** A room's title as plain text, with the same @usernames. */
export function roomLabel(room) {
  return room.kind === 'direct' ? others(room).map(personLabel).join(', ') : room.name;
}
