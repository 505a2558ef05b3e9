// The dialogs: create a room, edit a topic, leave a room, and pick users (direct chat, invite).
import {
  createRoom, invite, leaveRoom, loadMembers, searchUsers, setRole, startDirect, updateRoom,
} from '../actions.js';
import { h, iconButton } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { personLabel, personParts, roomLabel } from '../people.js';
import { displayName, store } from '../state.js';
import { describeError, field, FormError, openDialog, uid } from './ui.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

const SEARCH_DELAY_MS = 200;

export function createRoomDialog() {
  const name = h('input', { name: 'name', required: true, maxlength: 80, autocomplete: 'off' });
  const topic = h('input', { name: 'topic', maxlength: 500, autocomplete: 'off' });
  const visibilityName = uid('visibility');
  const option = (value, label, hint, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: visibilityName, value, checked }),
    h('span', {}, h('strong', {}, label), h('span', { class: 'field-hint' }, hint)));
  const visibility = h('fieldset', { class: 'choices' }, h('legend', {}, t('createRoom.visibility')),
    option('public', t('createRoom.public'), t('createRoom.publicHint'), true),
    option('private', t('createRoom.private'), t('createRoom.privateHint'), false));
  openDialog({
    title: t('createRoom.title'),
    submitLabel: t('createRoom.submit'),
    body: [field(t('createRoom.name'), name), field(t('createRoom.topic'), topic), visibility],
    onSubmit: async () => {
      const chosen = visibility.querySelector('input:checked').value;
      const room = await createRoom({ name: name.value.trim(), topic: topic.value.trim(), visibility: chosen });
      location.hash = `#/room/${room.id}`;
    },
  });
}

export function topicDialog(room) {
  const topic = h('input', { name: 'topic', maxlength: 500, value: room.topic ?? '', autocomplete: 'off' });
  openDialog({
    title: t('topic.title'),
    submitLabel: t('common.save'),
    body: field(t('topic.label'), topic),
    onSubmit: () => updateRoom(room.id, { topic: topic.value.trim() }),
  });
}

/**
 * Leaving. The last owner of a room with other members must hand it over first (the server
 * answers 409 otherwise): an owner picks the heir here, who is made owner before I leave.
 */
export function leaveDialog(room) {
  const heir = heirField(room, t('leave.heir'), t('leave.heirHint'));
  heir.el.hidden = room.my_role !== 'owner';
  openDialog({
    title: t('leave.title'),
    submitLabel: t('leave.submit'),
    danger: true,
    body: [h('p', {}, t('leave.confirm', { room: roomLabel(room) })), heir.el],
    describe: (err) => {
      if (err?.status !== 409) return describeError(err);
      heir.el.hidden = false;
      return t('leave.lastOwner');
    },
    onSubmit: async () => {
      if (!heir.el.hidden && heir.value()) await setRole(room.id, heir.value(), 'owner');
      await leaveRoom(room.id);
      location.hash = '#/';
    },
  });
}

/** Names a new owner: the owner hands the room over (becoming admin); a server admin may too. */
export function ownerDialog(room) {
  const heir = heirField(room, t('owner.label'), t('owner.hint'));
  openDialog({
    title: t('owner.title', { room: roomLabel(room) }),
    submitLabel: t('owner.submit'),
    body: heir.el,
    onSubmit: async () => {
      if (!heir.value()) throw new FormError('pick_someone');
      await setRole(room.id, heir.value(), 'owner');
    },
  });
}

/** A choice among the room's other joined members; value() is the chosen user id, or null. */
function heirField(room, label, hint) {
  const select = h('select', { name: 'heir', class: 'heir-select' }, h('option', { value: '' }, t('owner.nobody')));
  const fill = () => {
    const others = (store.members.get(room.id) ?? [])
      .filter((member) => member.state === 'joined' && member.user.id !== store.me.id)
      .sort((a, b) => displayName(a.user).localeCompare(displayName(b.user)));
    select.replaceChildren(h('option', { value: '' }, t('owner.nobody')),
      ...others.map((member) => h('option', { value: member.user.id }, personLabel(member.user))));
  };
  if (store.members.has(room.id)) fill();
  else loadMembers(room.id).then(fill, () => {});
  return { el: field(label, select, hint), value: () => (select.value ? Number(select.value) : null) };
}

export function directDialog() {
  userPickerDialog({
    title: t('direct.title'),
    submitLabel: t('direct.submit'),
    onSubmit: async (usernames) => {
      const room = await startDirect(usernames);
      location.hash = `#/room/${room.id}`;
    },
  });
}

export function inviteDialog(room) {
  userPickerDialog({
    title: t('invite.title', { room: roomLabel(room) }),
    submitLabel: t('invite.submit'),
    onSubmit: (usernames) => invite(room.id, usernames),
  });
}

/** Search users by name, pick one or more, then act on their usernames. */
function userPickerDialog({ title, submitLabel, onSubmit }) {
  const chosen = new Map();
  const search = h('input', { type: 'search', autocomplete: 'off', class: 'user-search' });
  const results = h('ul', { class: 'user-results', 'aria-label': t('picker.results') });
  const status = h('p', { class: 'field-hint', 'aria-live': 'polite' });
  const chips = h('ul', { class: 'chips', 'aria-label': t('picker.chosen') });

  const renderChips = () => chips.replaceChildren(...[...chosen.values()].map((user) => h('li', { class: 'chip' },
    h('span', { class: 'chip-person' }, personParts(user)),
    iconButton('close', t('picker.remove', { user: personLabel(user) }), () => {
      chosen.delete(user.id);
      renderChips();
      search.focus();
    }))));
  const choose = (user) => {
    chosen.set(user.id, user);
    renderChips();
    search.value = '';
    results.replaceChildren();
    search.focus();
  };
  const userOption = (user) => h('li', {}, h('button', { type: 'button', class: 'user-option', on: { click: () => choose(user) } },
    personParts(user, 'user-name')));

  let timer = null;
  let latest = 0;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = search.value.trim();
      const ticket = ++latest;
      const users = q ? await searchUsers(q).catch(() => []) : [];
      if (ticket !== latest) return;
      const fresh = users.filter((user) => !chosen.has(user.id));
      results.replaceChildren(...fresh.map(userOption));
      status.textContent = q && !fresh.length ? t('picker.none') : '';
    }, SEARCH_DELAY_MS);
  });
  search.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    results.querySelector('button')?.click();
  });

  openDialog({
    title,
    submitLabel,
    body: [field(t('picker.search'), search, t('picker.hint')), status, results, chips],
    onSubmit: async () => {
      if (!chosen.size) throw new FormError('pick_someone');
      await onSubmit([...chosen.values()].map((user) => user.username));
    },
  });
}
