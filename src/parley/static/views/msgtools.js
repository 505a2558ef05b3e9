// The toolbar on a message (hover, focus), the sheet after a long press on phones, editing in
// place, the delete confirm, the edit history and copying a link (issue 10). Loaded on first use
// by views/msgparts.js, with its styles (actions-tools.css).
import { h, icon, iconButton, userText } from '../dom.js';
import { formatDateTime, loadStrings, t } from '../i18n.js';
import { api } from '../api.js';
import { copies, findMessage, loadPins, setReply, threadKey } from '../messages.js';
import { personParts } from '../people.js';
import { emit, on, store } from '../state.js';
import { canModerate } from './members.js';
import { modTools } from './room.js';
import { canDelete, canEdit, canPin, jump, openThread, react, roomOf, snippet, toast, writable } from './msgparts.js';
import { describeError, openDialog } from './ui.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

// Its styles come with it; the module is ready once they apply, so nothing shows unstyled.
const styles = h('link', { rel: 'stylesheet', href: '/static/actions-tools.css' });
await new Promise((resolve) => {
  styles.addEventListener('load', resolve);
  styles.addEventListener('error', resolve);
  document.head.append(styles);
});

function failed(err) {
  toast(describeError(err));
}

/** A URL that opens the room at this message. */
export function messageLink(roomId, seq) {
  return new URL(`#/room/${roomId}/${seq}`, location.href).href;
}

export async function pickAndReact(message, anchor) {
  const emoji = await pickEmoji(anchor);
  if (emoji) react(message, emoji);
}

/** The emoji picker of the client (views/emoji.js) when it is there, else a small grid. */
export async function pickEmoji(anchor) {
  try {
    const module = await import('./emoji.js');
    return await module.pickEmoji(anchor);
  } catch {
    return fallbackPicker();
  }
}

function fallbackPicker() {
  return new Promise((resolve) => {
    let chosen = null;
    const dialog = h('dialog', { class: 'dialog emoji-fallback', 'aria-label': t('actions.react') },
      h('div', { class: 'quick-reactions' }, [...QUICK_REACTIONS, '👀', '🙏', '✅', '🔥', '💯', '🚀'].map((emoji) =>
        h('button', { type: 'button', class: 'quick-reaction', on: { click: () => { chosen = emoji; dialog.close(); } } }, emoji))));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(chosen); });
    dialog.addEventListener('click', (event) => event.target === dialog && dialog.close());
    document.body.append(dialog);
    dialog.showModal();
  });
}

async function copyLink(message) {
  const link = messageLink(message.room, message.seq);
  try {
    await navigator.clipboard.writeText(link);
    toast(t('actions.copied'));
  } catch {
    toast(link);
  }
}

function confirmDelete(message) {
  // Someone else's message (a moderator's deletion): "it is spam" teaches the spam filter.
  const spam = message.sender && message.sender.id !== store.me.id ? h('input', { type: 'checkbox', name: 'spam' }) : null;
  openDialog({
    title: t('actions.deleteTitle'),
    submitLabel: t('actions.delete'),
    danger: true,
    body: [h('p', {}, t('actions.deleteConfirm')), h('blockquote', { class: 'delete-preview', 'data-user': true }, snippet(message)),
      spam && h('label', { class: 'choice' }, spam, h('span', {}, t('actions.deleteAsSpam')))],
    onSubmit: () => deleteMessage(message.room, message.seq, spam?.checked),
  });
}

/** Reply from the composer of where the message is shown: its thread's panel, or the room. */
function startReply(message, row) {
  const panel = row?.closest('.thread-panel');
  setReply(panel ? threadKey(message.room, Number(panel.dataset.root)) : message.room, message);
  (panel ?? document.querySelector(`.room[data-room-id="${message.room}"] .room-main`))?.querySelector('.composer-input')?.focus();
}

/** The actions on a message, in the order the toolbar and the sheet show them. */
function actionsFor(message) {
  const room = roomOf(message);
  const list = [];
  if (writable(room) && !message.deleted) {
    list.push({ key: 'reply', icon: 'reply', run: (row) => startReply(message, row) });
    if (!message.thread_root) list.push({ key: 'thread', icon: 'thread', run: () => openThread(message.room, message.seq) });
  }
  if (canEdit(message)) list.push({ key: 'edit', icon: 'edit', run: (row) => startEdit(row, message) });
  if (canPin(message)) list.push({ key: message.pinned ? 'unpin' : 'pin', icon: 'pin', run: () => setPinned(message.room, message.seq, !message.pinned).catch(failed) });
  list.push({ key: 'copyLink', icon: 'link', run: () => copyLink(message) });
  if (canDelete(message)) list.push({ key: 'delete', icon: 'trash', run: () => confirmDelete(message), danger: true });
  // moderation (issue 11): anyone reports someone else's message; moderators act on its sender
  const sender = message.sender;
  if (room?.my_state === 'joined' && !message.deleted && sender && sender.id !== store.me.id) {
    list.push({ key: 'report', icon: 'flag', run: () => modTools().then((m) => m.reportDialog(message)) });
    const member = store.members.get(room.id)?.find((item) => item.user.id === sender.id) ?? { user: sender };
    if (canModerate(room, member)) {
      list.push({ key: 'moderate', icon: 'shield', run: (row) => modTools().then((m) => m.memberMenu(room.id, sender, row)) });
    }
  }
  return list;
}

// -- what a person does: the server is asked, each copy held changes at once, the event follows --

/** The server answers with the changed message (or its event); apply it at once, the event follows. */
function applyAnswer(roomId, seq, answer, fields) {
  for (const message of copies(roomId, seq)) Object.assign(message, fields(answer));
  emit('message-changed', { roomId, seq });
}

export async function editMessage(roomId, seq, text) {
  const answer = await api.editMessage(roomId, seq, text);
  applyAnswer(roomId, seq, answer, (a) => ({ text, edited_at: a?.edited_at ?? Date.now() }));
}

export async function deleteMessage(roomId, seq, asSpam = false) {
  await (asSpam ? api.call('DELETE', `/rooms/${roomId}/messages/${seq}?reason=spam`) : api.deleteMessage(roomId, seq));
  applyAnswer(roomId, seq, null, () => ({ text: '', mentions: [], attachments: [], reactions: [], deleted: true }));
}

export async function setPinned(roomId, seq, pinned) {
  await api.pin(roomId, seq, pinned);
  applyAnswer(roomId, seq, null, () => ({ pinned }));
  emit('pins', roomId);
}

export const versions = (roomId, seq) => api.versions(roomId, seq);


// -- the toolbar (hover, focus) and the sheet (long press) --

function toolbar(row, message) {
  const reactable = writable(roomOf(message)) && !message.deleted;
  const quick = reactable ? QUICK_REACTIONS.slice(0, 3).map((emoji) => h('button', { type: 'button', class: 'icon-btn quick-reaction',
    title: t('actions.reactWith', { emoji }), 'aria-label': t('actions.reactWith', { emoji }), on: { click: () => react(message, emoji) } }, emoji)) : [];
  const more = reactable ? iconButton('smile', t('actions.react'), (event) => pickAndReact(message, event.currentTarget)) : null;
  const buttons = actionsFor(message).map((action) => iconButton(action.icon, t(`actions.${action.key}`), () => action.run(row),
    { class: `icon-btn action-${action.key}` }));
  const bar = h('div', { class: 'msg-tools', role: 'toolbar', 'aria-label': t('actions.toolbar') }, quick, more, buttons);
  bar.addEventListener('keydown', (event) => toolbarKeys(event, bar, row));
  return bar;
}

function toolbarKeys(event, bar, row) {
  const buttons = [...bar.querySelectorAll('button')];
  const i = buttons.indexOf(document.activeElement);
  if (event.key === 'Escape') row.focus();
  else if (event.key === 'ArrowRight') buttons[(i + 1) % buttons.length].focus();
  else if (event.key === 'ArrowLeft') buttons[(i - 1 + buttons.length) % buttons.length].focus();
  else return;
  event.preventDefault();
  event.stopPropagation();
}

/** The same actions as a bottom sheet, for touch screens (long press on a message). */
export function openSheet(row, message) {
  const reactable = writable(roomOf(message)) && !message.deleted;
  const dialog = h('dialog', { class: 'sheet', 'aria-label': t('actions.toolbar') });
  const close = (then) => () => { dialog.close(); then?.(); };
  dialog.append(
    reactable ? h('div', { class: 'quick-reactions' },
      QUICK_REACTIONS.map((emoji) => h('button', { type: 'button', class: 'quick-reaction', 'aria-label': t('actions.reactWith', { emoji }),
        on: { click: close(() => react(message, emoji)) } }, emoji)),
      iconButton('more', t('actions.moreReactions'), close(() => pickAndReact(message, row)), { class: 'icon-btn quick-reaction' })) : null,
    h('ul', { class: 'sheet-list' }, actionsFor(message).map((action) => h('li', {},
      h('button', { type: 'button', class: `sheet-item${action.danger ? ' danger' : ''}`, on: { click: close(() => action.run(row)) } },
        icon(action.icon), t(`actions.${action.key}`))))),
    h('button', { type: 'button', class: 'btn sheet-cancel', on: { click: close() } }, t('common.cancel')));
  dialog.addEventListener('close', () => dialog.remove());
  dialog.addEventListener('click', (event) => event.target === dialog && dialog.close());
  document.body.append(dialog);
  dialog.showModal();
}


// One toolbar at a time, built when a row is entered, so it follows roles and pins as they are.
let current = null;

export function showToolbar(row, message) {
  if (row === current && row.querySelector(':scope > .msg-tools')) return;
  if (current && !current.contains(document.activeElement)) current.querySelector(':scope > .msg-tools')?.remove();
  current = row;
  if (row.querySelector('.edit-box')) return;
  row.querySelector(':scope > .msg-tools')?.remove();
  row.append(toolbar(row, message));
}

/** Enter on a focused message: into its toolbar, or where the toolbar is hidden (phones) its sheet. */
export function enterToolbar(row, message) {
  showToolbar(row, message);
  const first = row.querySelector(':scope > .msg-tools button');
  if (first?.checkVisibility()) first.focus();
  else openSheet(row, message);
}

// -- editing in place --

/** Replaces the row's text with an editor: Enter saves, Shift+Enter a new line, Escape cancels. */
export function startEdit(row, message) {
  if (!row || !canEdit(message)) return;
  row.querySelector(':scope > .msg-tools')?.remove();
  const body = row.querySelector('.msg-body');
  const input = h('textarea', { class: 'edit-input', rows: 1, value: message.text, 'aria-label': t('actions.editLabel') });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const cancel = () => {
    box.replaceWith(body);
    row.focus();
  };
  const save = async () => {
    const text = input.value;
    if (!text.trim()) return confirmDelete(message);
    if (text === message.text) return cancel();
    input.disabled = true;
    try {
      await editMessage(message.room, message.seq, text);
      if (box.isConnected) cancel();
      // Rows are not redrawn under an open editor: now that it is closed, show the new text.
      emit('message-changed', { roomId: message.room, seq: message.seq });
    } catch (err) {
      error.textContent = describeError(err);
      input.disabled = false;
      input.focus();
    }
  };
  const box = h('div', { class: 'edit-box' }, input,
    h('div', { class: 'edit-actions' }, h('span', { class: 'muted' }, t('actions.editHint')),
      h('button', { type: 'button', class: 'btn', on: { click: cancel } }, t('common.cancel')),
      h('button', { type: 'button', class: 'btn primary', on: { click: save } }, t('common.save'))), error);
  input.addEventListener('keydown', (event) => {
    event.stopPropagation();
    if (event.key === 'Escape') {
      event.preventDefault();
      cancel();
    } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      save();
    }
  });
  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight}px`;
  };
  input.addEventListener('input', grow);
  body.replaceWith(box);
  grow();
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

// -- earlier versions --

export async function versionsDialog(message) {
  const list = h('ol', { class: 'versions' }, h('li', { class: 'muted' }, t('common.loading')));
  const dialog = h('dialog', { class: 'dialog', 'aria-label': t('actions.versions') },
    h('div', { class: 'dialog-form' }, h('h2', {}, t('actions.versions')), list,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn', on: { click: () => dialog.close() } }, t('actions.close')))));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  try {
    const answer = await versions(message.room, message.seq);
    const items = [{ text: answer.text, at: answer.edited_at, current: true },
      ...answer.versions.map((v) => ({ text: v.text, at: v.written_at })).reverse()];
    list.replaceChildren(...items.map((version) => h('li', { class: 'version' },
      h('div', { class: 'version-head' }, h('time', {}, formatDateTime(version.at ?? message.ts)),
        version.current ? h('span', { class: 'role' }, t('actions.current')) : null),
      userText(version.text, 'p', { class: 'version-text' }))));
  } catch (err) {
    list.replaceChildren(h('li', { class: 'form-error' }, describeError(err)));
  }
}

// -- the pinned list --

export function pinsDialog(roomId) {
  const list = h('ul', { class: 'pins-list' }, h('li', { class: 'muted' }, t('common.loading')));
  const dialog = h('dialog', { class: 'dialog pins-dialog', 'aria-labelledby': `pins-title-${roomId}` },
    h('div', { class: 'dialog-form' },
      h('div', { class: 'panel-head' }, h('h2', { id: `pins-title-${roomId}` }, t('pins.title')),
        iconButton('close', t('actions.close'), () => dialog.close())),
      list));
  const render = (pins) => {
    list.replaceChildren(...(pins.length ? pins.map((message) => pinItem(roomId, findMessage(roomId, message.seq) ?? message, dialog))
      : [h('li', { class: 'muted' }, t('pins.empty'))]));
  };
  const refresh = () => loadPins(roomId).then(render, (err) => list.replaceChildren(h('li', { class: 'form-error' }, describeError(err))));
  const off = on('pins', (id) => id === roomId && refresh());
  dialog.addEventListener('close', () => { off(); dialog.remove(); });
  document.body.append(dialog);
  dialog.showModal();
  refresh();
}

function pinItem(roomId, message, dialog) {
  const open = h('button', { type: 'button', class: 'pin-item', on: { click: () => { dialog.close(); jump(roomId, message.seq); } } },
    h('span', { class: 'pin-item-head' }, personParts(message.sender, 'quote-name')[0],
      h('time', { class: 'msg-time' }, formatDateTime(message.ts))),
    userText(snippet(message), 'span', { class: 'pin-item-text' }));
  const unpin = canPin({ ...message, room: roomId })
    ? h('button', { type: 'button', class: 'btn small', on: { click: () => setPinned(roomId, message.seq, false).catch((err) => toast(describeError(err))) } },
      t('actions.unpin'))
    : null;
  return h('li', { class: 'pin-row' }, open, unpin);
}

// -- the reply bar above the composer --

/** "Replying to …" with the quoted start of the message and a cancel button. */
export function fillReplyBar(el, target, onCancel) {
  el.replaceChildren(icon('reply'),
    h('span', { class: 'reply-bar-text' }, h('span', { class: 'muted' }, t('actions.replyingTo')), ' ',
      personParts(target.sender, 'quote-name')[0], ' ', h('span', { class: 'quote-text', 'data-user': true }, snippet(target))),
    iconButton('close', t('actions.cancelReply'), onCancel, { class: 'icon-btn small' }));
}
