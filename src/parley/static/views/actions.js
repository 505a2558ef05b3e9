// What a person does to a message (issue 10): the toolbar on hover or focus (a sheet after a
// long press on phones), edit in place, delete with a confirm, reactions, reply quotes, the
// "(edited)" marker with its versions, thread summaries and copying a link to the message.
// timeline.js calls decorateMessage() for every message row and attachActions() once per list.
import { h, icon, iconButton, userText } from '../dom.js';
import { formatDateTime, formatTime, t, tCount } from '../i18n.js';
import {
  deleteMessage, editMessage, fetchMessage, findMessage, lastOwnMessage, replyTarget, setPinned, setReply, takeReply,
  toggleReaction, versions,
} from '../messages.js';
import { personLabel, personParts } from '../people.js';
import { emit, on, roleAtLeast, store, timeline } from '../state.js';
import { describeError, openDialog } from './ui.js';

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
const LONG_PRESS_MS = 500;
const SNIPPET = 120;
const TOAST_MS = 3000;

// -- permissions ------------------------------------------------------------------------------------

function roomOf(message) {
  return store.rooms.get(message.room);
}

function writable(room) {
  return room?.my_state === 'joined' && !room.archived;
}

export function canEdit(message) {
  return writable(roomOf(message)) && !message.deleted && message.sender?.id === store.me.id;
}

export function canDelete(message) {
  const room = roomOf(message);
  return writable(room) && !message.deleted && (message.sender?.id === store.me.id || roleAtLeast(room, 'moderator'));
}

export function canPin(message) {
  const room = roomOf(message);
  return writable(room) && !message.deleted && roleAtLeast(room, 'moderator');
}

// -- the parts of a message row ---------------------------------------------------------------------

/** Adds the action parts to a stored message's row (built by timeline.js or the thread panel). */
export function decorateMessage(row, message, { inThread = false } = {}) {
  row.dataset.seq = message.seq;
  row.tabIndex = -1;
  if (message.deleted) {
    row.classList.add('deleted');
    row.querySelector('.msg-body')?.replaceChildren(h('span', { class: 'tombstone' }, t('actions.deleted')));
  }
  if (message.edited_at && !message.deleted) row.querySelector('.msg-body')?.after(editedMark(message));
  if (message.pinned) {
    row.classList.add('pinned');
    row.querySelector('.msg-head')?.before(h('div', { class: 'pin-mark' }, icon('pin'), t('actions.pinnedMark')));
  }
  if (message.reply_to) row.querySelector('.msg-body')?.before(replyQuote(message));
  if (message.reactions?.length && !message.deleted) row.append(reactionChips(message));
  if (message.thread?.count && !inThread) row.append(threadSummary(message));
  return row;
}

function editedMark(message) {
  return h('button', { type: 'button', class: 'edited-mark link-btn', title: formatDateTime(message.edited_at),
    on: { click: () => versionsDialog(message) } }, t('actions.edited'));
}

/** A short plain-text excerpt of a message, for quotes and lists. */
export function snippet(message) {
  if (!message) return t('actions.quoteMissing');
  if (message.deleted) return t('actions.deleted');
  const text = (message.text ?? '').replace(/\s+/g, ' ').trim();
  return text.length > SNIPPET ? `${text.slice(0, SNIPPET - 1)}…` : text;
}

function replyQuote(message) {
  const roomId = message.room;
  const who = h('span', { class: 'quote-who' });
  const text = h('span', { class: 'quote-text', 'data-user': true });
  const fill = (original) => {
    who.replaceChildren(original ? personParts(original.sender, 'quote-name')[0] : '');
    text.textContent = snippet(original);
  };
  const held = findMessage(roomId, message.reply_to);
  const preview = message.reply && { sender: message.reply.author, text: message.reply.text, deleted: message.reply.deleted };
  if (held || preview) fill(held ?? preview);
  else {
    text.textContent = '…';
    fetchMessage(roomId, message.reply_to).then(fill);
  }
  return h('button', { type: 'button', class: 'reply-quote', 'aria-label': t('actions.quoteJump'),
    on: { click: () => jump(roomId, message.reply_to) } }, icon('reply'), who, text);
}

function reactionChips(message) {
  const chips = message.reactions.map((reaction) => {
    const names = (reaction.users ?? []).map(personLabel);
    const title = names.length === reaction.count
      ? t('actions.reactedBy', { names: names.join(', '), emoji: reaction.emoji })
      : tCount('actions.reactedCount', reaction.count, { emoji: reaction.emoji });
    return h('button', { type: 'button', class: `reaction${reaction.me ? ' mine' : ''}`, 'aria-pressed': String(Boolean(reaction.me)),
      title, 'aria-label': title, dataset: { emoji: reaction.emoji },
      on: { click: () => react(message, reaction.emoji) } },
    h('span', { class: 'reaction-emoji', 'data-user': true }, reaction.emoji), h('span', { class: 'reaction-count' }, String(reaction.count)));
  });
  const add = writable(roomOf(message))
    ? iconButton('smile', t('actions.react'), (event) => pickAndReact(message, event.currentTarget), { class: 'icon-btn reaction-add' })
    : null;
  return h('div', { class: 'reactions' }, chips, add);
}

function threadSummary(message) {
  const { count, last_ts: lastTs } = message.thread;
  return h('button', { type: 'button', class: 'thread-summary', on: { click: () => openThread(message.room, message.seq) } },
    icon('thread'), h('strong', {}, tCount('actions.replies', count, { count })),
    lastTs ? h('span', { class: 'muted' }, t('actions.lastReply', { time: formatTime(lastTs) })) : null);
}

// -- doing things -----------------------------------------------------------------------------------

let toastEl = null;
let toastTimer = null;

/** A short status line at the bottom of the screen. */
export function toast(text) {
  if (!toastEl?.isConnected) {
    toastEl = h('p', { class: 'toast actions-toast', role: 'status' });
    document.body.append(toastEl);
  }
  toastEl.textContent = text;
  toastEl.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toastEl.hidden = true; }, TOAST_MS);
}

function failed(err) {
  toast(describeError(err));
}

function react(message, emoji) {
  toggleReaction(message.room, message.seq, emoji).catch(failed);
}

async function pickAndReact(message, anchor) {
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

/** Opens the room at a message: the jump of views/search (jump.js) when there, else a scroll. */
export async function jump(roomId, seq) {
  try {
    const module = await import('../jump.js');
    await module.jumpTo(roomId, seq);
  } catch {
    if (store.currentRoom !== roomId) location.hash = `#/room/${roomId}`;
    const row = document.querySelector(`.room[data-room-id="${roomId}"] ol.events > li[data-seq="${seq}"]`);
    if (!row) return toast(t('actions.notLoaded'));
    row.scrollIntoView({ block: 'center' });
    row.classList.add('highlight');
    row.focus({ preventScroll: true });
    setTimeout(() => row.classList.remove('highlight'), 2000);
  }
}

/** A link to a message (`#/room/<id>/<seq>`) was opened: once the room is loaded, jump there. */
export function openMessageLink(roomId, seq) {
  history.replaceState(null, '', `#/room/${roomId}`);
  if (timeline(roomId).loaded) return jump(roomId, seq);
  const off = on('timeline', ({ roomId: id }) => {
    if (id !== roomId || !timeline(roomId).loaded) return;
    off();
    requestAnimationFrame(() => jump(roomId, seq));
  });
}

export function openThread(roomId, rootSeq) {
  import('./thread.js').then((module) => module.openThread(roomId, rootSeq));
}

/** A URL that opens the room at this message. */
export function messageLink(roomId, seq) {
  return new URL(`#/room/${roomId}/${seq}`, location.href).href;
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
  openDialog({
    title: t('actions.deleteTitle'),
    submitLabel: t('actions.delete'),
    danger: true,
    body: [h('p', {}, t('actions.deleteConfirm')), h('blockquote', { class: 'delete-preview', 'data-user': true }, snippet(message))],
    onSubmit: () => deleteMessage(message.room, message.seq),
  });
}

function startReply(message) {
  setReply(message.room, message);
  document.querySelector(`.room[data-room-id="${message.room}"] .room-main .composer-input`)?.focus();
}

/** The actions on a message, in the order the toolbar and the sheet show them. */
function actionsFor(message) {
  const room = roomOf(message);
  const list = [];
  if (writable(room) && !message.deleted) {
    list.push({ key: 'reply', icon: 'reply', run: () => startReply(message) });
    if (!message.thread_root) list.push({ key: 'thread', icon: 'thread', run: () => openThread(message.room, message.seq) });
  }
  if (canEdit(message)) list.push({ key: 'edit', icon: 'edit', run: (row) => startEdit(row, message) });
  if (canPin(message)) list.push({ key: message.pinned ? 'unpin' : 'pin', icon: 'pin', run: () => setPinned(message.room, message.seq, !message.pinned).catch(failed) });
  list.push({ key: 'copyLink', icon: 'link', run: () => copyLink(message) });
  if (canDelete(message)) list.push({ key: 'delete', icon: 'trash', run: () => confirmDelete(message), danger: true });
  return list;
}

// -- the toolbar (hover, focus) and the sheet (long press) ------------------------------------------

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

/**
 * Wires the actions into a list of message rows: a toolbar on hover and focus, a sheet on a long
 * press (touch), arrow keys between messages. `lookup(seq)` returns the message of a row.
 */
export function attachActions(list, lookup) {
  // One toolbar at a time, built when a row is entered, so it follows roles and pins as they are.
  let current = null;
  const show = (event) => {
    const row = event.target.closest?.('li.msg[data-seq]');
    if (!row || row === current && row.querySelector(':scope > .msg-tools')) return;
    if (current && !current.contains(document.activeElement)) current.querySelector(':scope > .msg-tools')?.remove();
    current = row;
    if (row.querySelector('.edit-box')) return;
    row.querySelector(':scope > .msg-tools')?.remove();
    const message = lookup(Number(row.dataset.seq));
    if (message) row.append(toolbar(row, message));
  };
  list.addEventListener('mouseover', show);
  list.addEventListener('focusin', show);
  let pressTimer = null;
  list.addEventListener('pointerdown', (event) => {
    if (event.pointerType !== 'touch') return;
    const row = event.target.closest('li.msg[data-seq]');
    clearTimeout(pressTimer);
    if (row) pressTimer = setTimeout(() => openRowSheet(row), LONG_PRESS_MS);
  });
  for (const type of ['pointerup', 'pointercancel', 'pointermove']) list.addEventListener(type, () => clearTimeout(pressTimer));
  list.addEventListener('contextmenu', (event) => {
    const row = event.target.closest('li.msg[data-seq]');
    if (!row || !matchMedia('(pointer: coarse), (max-width: 719px)').matches || event.target.closest('a')) return;
    event.preventDefault();
    clearTimeout(pressTimer);
    openRowSheet(row);
  });
  const openRowSheet = (row) => {
    const message = lookup(Number(row.dataset.seq));
    if (message && !document.querySelector('dialog.sheet')) openSheet(row, message);
  };
  list.addEventListener('keydown', (event) => rowKeys(event, list, lookup));
}

/** On a focused message: arrows move between messages, Enter opens its actions. */
function rowKeys(event, list, lookup) {
  const row = event.target;
  if (!row.matches?.('li.msg[data-seq]')) return;
  const rows = [...list.querySelectorAll('li.msg[data-seq]')];
  const i = rows.indexOf(row);
  if (event.key === 'ArrowUp' && i > 0) rows[i - 1].focus();
  else if (event.key === 'ArrowDown' && i < rows.length - 1) rows[i + 1].focus();
  else if (event.key === 'Enter' && row.querySelector('.msg-tools button')?.checkVisibility()) row.querySelector('.msg-tools button').focus();
  else if (event.key === 'Enter' || event.key === 'ContextMenu' || (event.key === 'F10' && event.shiftKey)) {
    const message = lookup(Number(row.dataset.seq));
    if (message) openSheet(row, message);
  } else return;
  event.preventDefault();
}

// -- editing in place -------------------------------------------------------------------------------

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

/** Up-arrow in an empty composer: edit my newest message there (in a thread: in that thread). */
export function editLast(container, roomId, rootSeq = null) {
  const message = lastOwnMessage(roomId, rootSeq);
  const row = message && container.querySelector(`li.msg[data-seq="${message.seq}"]`);
  if (!row) return false;
  row.scrollIntoView({ block: 'nearest' });
  startEdit(row, message);
  return true;
}

// -- earlier versions -------------------------------------------------------------------------------

async function versionsDialog(message) {
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

// -- the reply bar above the composer ---------------------------------------------------------------

/** "Replying to …" above a composer, with a cancel button; update() redraws it. */
export function replyBar(getTarget, onCancel) {
  const el = h('div', { class: 'reply-bar', hidden: true });
  const update = () => {
    const target = getTarget();
    el.hidden = !target;
    if (!target) return el.replaceChildren();
    el.replaceChildren(icon('reply'),
      h('span', { class: 'reply-bar-text' }, h('span', { class: 'muted' }, t('actions.replyingTo')), ' ',
        personParts(target.sender, 'quote-name')[0], ' ', h('span', { class: 'quote-text', 'data-user': true }, snippet(target))),
      iconButton('close', t('actions.cancelReply'), onCancel, { class: 'icon-btn small' }));
  };
  return { el, update };
}

/**
 * The room composer's part in message actions: the reply bar and its Escape, Up-arrow to edit my
 * last message, and `reply_to` on the next send. Returns createComposer options plus destroy().
 */
export function roomComposerOptions(roomId, editLastInRoom) {
  const bar = replyBar(() => replyTarget(roomId), () => setReply(roomId, null));
  const off = on('reply', (id) => id === roomId && bar.update());
  bar.update();
  return {
    above: bar.el,
    extra: () => takeReply(roomId),
    keys: (event, input) => {
      if (event.key === 'Escape' && replyTarget(roomId)) {
        setReply(roomId, null);
        return true;
      }
      return event.key === 'ArrowUp' && !input.value && !event.shiftKey && editLastInRoom();
    },
    destroy: off,
  };
}
