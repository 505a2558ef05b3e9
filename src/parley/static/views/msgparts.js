// The parts of a message row that message actions add: reply quote, "(edited)",
// pinned label, tombstone, reaction chips, thread summary; and the wiring of the toolbar, the
// long-press sheet and the keys, whose code (views/msgtools.js) loads on first use.
import { h, icon, iconButton } from '../dom.js';
import { formatDateTime, formatTime, t, tCount } from '../i18n.js';
import { fetchMessage, findMessage, lastOwnMessage, replyTarget, setReply, takeReply, toggleReaction } from '../messages.js';
import { personLabel, personParts } from '../people.js';
import { on, roleAtLeast, store, timeline } from '../state.js';
import { describeError } from './ui.js';

const LONG_PRESS_MS = 500;
const SNIPPET = 120;
const TOAST_MS = 3000;
const ROW = 'li.msg[data-seq]';
/** The toolbar, sheet, editor and dialogs, loaded on first use. */
export const tools = () => import('./msgtools.js');

// -- permissions --

export function roomOf(message) {
  return store.rooms.get(message.room);
}

export function writable(room) {
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

// -- the parts of a message row --

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
    on: { click: () => tools().then((m) => m.versionsDialog(message)) } }, t('actions.edited'));
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
    ? iconButton('smile', t('actions.react'), (event) => { const anchor = event.currentTarget; tools().then((m) => m.pickAndReact(message, anchor)); }, { class: 'icon-btn reaction-add' })
    : null;
  return h('div', { class: 'reactions' }, chips, add);
}

function threadSummary(message) {
  const { count, last_ts: lastTs } = message.thread;
  return h('button', { type: 'button', class: 'thread-summary', on: { click: () => openThread(message.room, message.seq) } },
    icon('thread'), h('strong', {}, tCount('actions.replies', count, { count })),
    lastTs ? h('span', { class: 'muted' }, t('actions.lastReply', { time: formatTime(lastTs) })) : null);
}

// -- doing things --

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

export function react(message, emoji) {
  toggleReaction(message.room, message.seq, emoji).catch((err) => toast(describeError(err)));
}

/** Opens the room at a message (search's jumpTo: loads the page around it when not held). */
export const jump = async (roomId, seq) => (await import('../jump.js')).jumpTo(roomId, seq);

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

// -- wiring: hover and focus, long press, keys --

/**
 * Wires the actions into a list of message rows: a toolbar on hover and focus, a sheet on a long
 * press (touch) or the context-menu key, arrow keys between messages. `lookup(seq)` gives a row's message.
 */
export function attachActions(list, lookup) {
  const messageOf = (row) => lookup(Number(row.dataset.seq));
  const show = (event) => {
    const row = event.target.closest?.(ROW);
    const message = row && messageOf(row);
    if (message) tools().then((m) => row.isConnected && m.showToolbar(row, message));
  };
  const sheet = (row) => {
    const message = messageOf(row);
    if (message && !document.querySelector('dialog.sheet')) tools().then((m) => m.openSheet(row, message));
  };
  list.addEventListener('mouseover', show);
  list.addEventListener('focusin', show);
  let pressTimer = null;
  list.addEventListener('pointerdown', (event) => {
    const row = event.pointerType === 'touch' && event.target.closest(ROW);
    clearTimeout(pressTimer);
    if (row) pressTimer = setTimeout(() => sheet(row), LONG_PRESS_MS);
  });
  for (const type of ['pointerup', 'pointercancel', 'pointermove']) list.addEventListener(type, () => clearTimeout(pressTimer));
  list.addEventListener('contextmenu', (event) => {
    const row = event.target.closest(ROW);
    if (!row || !matchMedia('(pointer: coarse), (max-width: 719px)').matches || event.target.closest('a')) return;
    event.preventDefault();
    clearTimeout(pressTimer);
    sheet(row);
  });
  list.addEventListener('keydown', (event) => {
    const row = event.target;
    if (!row.matches?.(ROW)) return;
    const rows = [...list.querySelectorAll(ROW)];
    const i = rows.indexOf(row);
    if (event.key === 'ArrowUp' && i > 0) rows[i - 1].focus();
    else if (event.key === 'ArrowDown' && i < rows.length - 1) rows[i + 1].focus();
    else if (event.key === 'Enter' && messageOf(row)) {
      const message = messageOf(row);
      tools().then((m) => m.enterToolbar(row, message));
    }
    else if (event.key === 'ContextMenu' || (event.key === 'F10' && event.shiftKey)) sheet(row);
    else return;
    event.preventDefault();
  });
}

/** Up-arrow in an empty composer: edit my newest message there (in a thread: in that thread). */
export function editLast(container, roomId, rootSeq = null) {
  const message = lastOwnMessage(roomId, rootSeq);
  const row = message && container.querySelector(`${ROW}[data-seq="${message.seq}"]`);
  if (!row) return false;
  row.scrollIntoView({ block: 'nearest' });
  tools().then((m) => m.startEdit(row, message));
  return true;
}

// -- a composer's reply bar, Up-arrow, reply_to --

/**
 * The room composer's part in message actions: the reply bar and its Escape, Up-arrow to edit my
 * last message, and `reply_to` on the next send. Returns createComposer options plus destroy().
 * `key`: whose reply it is, the room id or a thread's threadKey (messages.js).
 */
export function roomComposerOptions(key, editLastInRoom) {
  const el = h('div', { class: 'reply-bar', hidden: true });
  const update = () => {
    const target = replyTarget(key);
    el.hidden = !target;
    if (target) tools().then((m) => m.fillReplyBar(el, target, () => setReply(key, null)));
    else el.replaceChildren();
  };
  const off = on('reply', (id) => id === key && update());
  update();
  return {
    above: el,
    extra: () => takeReply(key),
    keys: (event, input) => {
      if (event.key === 'Escape' && replyTarget(key)) {
        setReply(key, null);
        return true;
      }
      return event.key === 'ArrowUp' && !input.value && !event.shiftKey && editLastInRoom();
    },
    destroy: off,
  };
}
