// A room on screen: header (title, topic, actions), history, typing line, composer, member panel.
import { closeRoom, joinRoom, leaveRoom, openRoom } from '../actions.js';
import { api } from '../api.js';
import { h, icon, iconButton, replace, srOnly, userText } from '../dom.js';
import { t, tNodes } from '../i18n.js';
import { person, roomLabel, roomTitleNodes } from '../people.js';
import { canInvite, moderatesAny, on, queues, roleAtLeast, store } from '../state.js';
import { markRead } from '../reads.js';
import { createComposer } from './composer.js';
import { createMemberPanel } from './members.js';
import { uploadStyles } from './media.js';
import { TimelineView } from './timeline.js';
import { describeError, dialog } from './ui.js';
import { roomNotifySettings } from '../prefs.js';
// -- message actions --
import { roomComposerOptions } from './msgparts.js';
import { pinsButton } from './pins.js';

// The dialogs load on first use.
const inviteDialog = dialog('inviteDialog');
const leaveDialog = dialog('leaveDialog');
const ownerDialog = dialog('ownerDialog');
const topicDialog = dialog('topicDialog');

// Moderation: settings, queues, the composer's gate and the removed notice load on first use
export const modTools = () => import('./modtools.js');

const WIDE_SCREEN = '(min-width: 1100px)';
let membersWanted = true;

/** Which face a room's view shows; when it changes (joined, archived...) the view is rebuilt. */
export function roomViewKind(roomId) {
  const room = store.rooms.get(roomId);
  if (!room) return 'missing';
  if (room.my_state === 'invited') return 'invited';
  if (room.my_state === 'removed') return 'removed'; // kicked or banned
  return room.archived ? 'archived' : 'joined';
}

export function createRoomView(roomId) {
  const kind = roomViewKind(roomId);
  const room = store.rooms.get(roomId);
  const view = kind === 'missing' ? createNotJoinedView(roomId)
    : kind === 'invited' ? createInvitedView(room) : createJoinedView(room);
  return { ...view, kind };
}

function backButton() {
  return iconButton('back', t('nav.back'), () => { location.hash = '#/'; }, { class: 'icon-btn back-btn' });
}

function createJoinedView(room) {
  const roomId = room.id;
  const title = h('h2', { class: 'room-title', id: `room-title-${roomId}` });
  const topicText = h('span');
  const editTopic = iconButton('edit', t('topic.edit'), () => topicDialog(store.rooms.get(roomId)), { class: 'icon-btn small' });
  const topic = h('p', { class: 'room-topic' }, topicText, editTopic);
  const timelineView = new TimelineView(roomId);
  const typingLine = h('p', { class: 'typing', 'aria-live': 'polite' });
  const label = t('composer.label', { room: roomLabel(room) });
  const composerOptions = roomComposerOptions(roomId, () => timelineView.editLast());
  const removed = room.my_state === 'removed';
  const composer = room.archived || removed
    ? { el: h('p', { class: 'archived-note' }, removed ? '' : t('room.archived')), mounted: () => {} }
    : createComposer(roomId, label, () => timelineView.jumpToLatest(), composerOptions);
  const pins = pinsButton(roomId);
  const callUi = (fn) => import('./call.js').then(fn); // calls (issue 13)
  const callBanner = h('div', { class: 'call-banner', hidden: true, dataset: { callRoom: roomId } });
  const callButton = iconButton('phone', t('call.start'), () => callUi((m) => m.startCall(roomId)), { class: 'icon-btn call-start', hidden: removed || room.archived });
  api.call('GET', `/rooms/${roomId}/call`).then(({ call }) => call && callUi((m) => m.onFrame({ type: 'call_state', room: roomId, call })), () => {});
  const main = h('div', { class: 'room-main' }, callBanner, timelineView.el, typingLine, composer.el);
  const body = h('div', { class: 'room-body' }, main);
  composer.acceptFiles?.(main); // uploads (issue 9): drop and paste anywhere in the room
  const membersButton = iconButton('people', t('members.toggle'), () => toggleMembers(), {
    'aria-expanded': 'false', 'aria-controls': `member-panel-${roomId}`,
  });
  const inviteButton = iconButton('invite', t('invite.open'), () => inviteDialog(store.rooms.get(roomId)));
  const ownerButton = iconButton('crown', t('owner.open'), () => ownerDialog(store.rooms.get(roomId)));
  // uploads (issue 9): the room's Files panel, loaded on first use
  const filesButton = iconButton('files', t('uploads.toggle'), () => toggleFiles(), {
    'aria-expanded': 'false', 'aria-controls': `files-panel-${roomId}`, class: 'icon-btn files-btn',
  });
  let filesPanel = null;
  async function toggleFiles(show = !filesPanel) {
    filesPanel?.destroy();
    filesPanel?.el.remove();
    filesPanel = null;
    filesButton.setAttribute('aria-expanded', String(show));
    if (!show) return;
    if (panel) toggleMembers(false);
    const [{ createFilesPanel }] = await Promise.all([import('./files.js'), uploadStyles()]);
    filesPanel = createFilesPanel(roomId, () => { toggleFiles(false); filesButton.focus(); });
    body.append(filesPanel.el);
  }
  // Per-room notifications and mute (the dialog loads on first use).
  const notifyButton = iconButton('bell', t('roomNotify.open'), async () => {
    const { roomNotifyDialog } = await import('./roomnotify.js');
    roomNotifyDialog(store.rooms.get(roomId));
  }, { class: 'icon-btn notify-btn' });
  const settingsButton = iconButton('sliders', t('roomSettings.open'), () => modTools().then((m) => m.roomSettings(store.rooms.get(roomId))));
  const queueButton = h('button', { type: 'button', class: 'icon-btn queue-btn', title: t('mod.open'),
    on: { click: () => modTools().then((m) => m.openQueues()) } }, icon('shield'), h('span', { class: 'badge' }));
  const gate = (id) => {
    const r = store.rooms.get(roomId);
    if (id === roomId && (removed || r?.my_muted_until || r?.slow_mode_s || r?.post_policy === 'moderators')) composer.gate ??= modTools().then((m) => m.gate(roomId, composer));
  };
  const actions = h('div', { class: 'room-actions', hidden: removed },
    callButton, pins.el, filesButton, notifyButton, membersButton, queueButton, settingsButton, inviteButton, ownerButton,
    room.kind === 'room' ? iconButton('leave', t('leave.open'), () => leaveDialog(store.rooms.get(roomId))) : null);
  const header = h('header', { class: 'room-header' }, backButton(),
    h('div', { class: 'room-heading' }, title, topic), actions);
  const el = h('section', { class: 'room', 'aria-labelledby': title.id, dataset: { roomId } }, header, body);

  let panel = null;
  function toggleMembers(show = !panel) {
    if (matchMedia(WIDE_SCREEN).matches) membersWanted = show;
    panel?.destroy();
    panel?.el.remove();
    if (show && filesPanel) toggleFiles(false); // uploads (issue 9): one side panel at a time
    panel = show ? createMemberPanel(roomId, () => { toggleMembers(false); membersButton.focus(); }) : null;
    if (panel) body.append(panel.el);
    membersButton.setAttribute('aria-expanded', String(show));
  }

  function renderHeader() {
    const current = store.rooms.get(roomId);
    if (!current) return;
    replace(title, current.kind === 'room' ? roomMark(current) : null, roomTitleNodes(current));
    inviteButton.hidden = !canInvite(current);
    // Owners hand their room over; a server admin can name an owner for any room.
    ownerButton.hidden = current.kind !== 'room' || !(current.my_role === 'owner' || store.me.is_admin);
    const canEdit = current.kind === 'room' && roleAtLeast(current, 'admin') && !current.archived;
    replace(topicText, current.topic ? userText(current.topic) : h('span', { class: 'muted' }, canEdit ? t('topic.empty') : ''));
    editTopic.hidden = !canEdit;
    settingsButton.hidden = current.kind !== 'room' || current.archived || !(roleAtLeast(current, 'admin') || store.me.is_admin);
    const count = queues.reports.size + queues.held.size;
    queueButton.hidden = !moderatesAny();
    queueButton.lastChild.textContent = count || '';
    queueButton.setAttribute('aria-label', `${t('mod.open')} ${count || ''}`.trim());
    const muted = roomNotifySettings(current).muted;
    notifyButton.replaceChildren(icon(muted ? 'bellOff' : 'bell'));
    notifyButton.dataset.muted = String(muted);
  }

  function renderTyping() {
    const people = [...(store.typing.get(roomId)?.values() ?? [])].map(({ user }) => person(user));
    let parts = [];
    if (people.length === 1) parts = tNodes('typing.one', { user: people[0] });
    else if (people.length === 2) parts = tNodes('typing.two', { user: people[0], other: people[1] });
    else if (people.length > 2) parts = [t('typing.many')];
    typingLine.replaceChildren(...parts);
  }

  const onVisible = () => document.visibilityState === 'visible' && markRead(roomId);
  document.addEventListener('visibilitychange', onVisible);
  const offs = [
    on('room', (id) => id === roomId && renderHeader()),
    on('user', () => renderHeader()),
    on('typing', (id) => id === roomId && renderTyping()),
    on('connection', (status) => status === 'connected' && !removed && openRoom(roomId).catch(() => {})),
    on('queue', renderHeader),
    on('room', gate),
  ];
  renderHeader();
  gate(roomId);
  openRoom(roomId).catch(() => {});
  return {
    el,
    mounted() {
      timelineView.mounted();
      composer.mounted();
      if (membersWanted && !removed && matchMedia(WIDE_SCREEN).matches) toggleMembers(true);
      if (matchMedia('(pointer: fine)').matches) composer.input?.focus();
    },
    destroy() {
      offs.forEach((off) => off());
      composer.gate?.then((g) => g.destroy());
      composerOptions.destroy();
      pins.destroy();
      document.removeEventListener('visibilitychange', onVisible);
      timelineView.destroy();
      panel?.destroy();
      filesPanel?.destroy();
      closeRoom(roomId);
    },
  };
}

/** `#` before a public room's name, a lock before a private one's. */
export function roomMark(room) {
  return room.visibility === 'private'
    ? h('span', { class: 'room-hash room-lock', title: t('room.private') }, icon('lock'), srOnly(t('room.private')))
    : h('span', { class: 'room-hash', 'aria-hidden': 'true' }, '#');
}

function createInvitedView(room) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const act = (fn) => async () => {
    try {
      await fn();
    } catch (err) {
      error.textContent = describeError(err);
    }
  };
  const accept = h('button', { type: 'button', class: 'btn primary', on: { click: act(() => joinRoom(room.id)) } }, t('invites.accept'));
  const decline = h('button', { type: 'button', class: 'btn', on: { click: act(async () => {
    await leaveRoom(room.id);
    location.hash = '#/';
  }) } }, t('invites.decline'));
  const el = h('section', { class: 'room placeholder' },
    h('header', { class: 'room-header' }, backButton(), h('div', { class: 'room-heading' }, h('h2', { class: 'room-title' }, roomTitleNodes(room)))),
    h('div', { class: 'notice' }, h('p', {}, t('invites.prompt')), room.topic ? userText(room.topic, 'p') : null,
      h('div', { class: 'dialog-actions' }, decline, accept), error));
  return { el };
}

/** A room I am not in: offer to join it, or, one I left, show it up to my leave (formerroom.js). */
function createNotJoinedView(roomId) {
  const el = h('section', { class: 'room placeholder' });
  const off = import('./formerroom.js').then((m) => m.mountNotJoined(roomId, el, backButton()));
  return { el, destroy: () => off.then((stop) => stop(), () => {}) };
}
