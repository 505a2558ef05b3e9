// A room's history, holding only a window of rows in the DOM: near an edge the next rows render
// (older pages fetched as needed) and far ones drop, keeping what is on screen in place.
import { discardMessage, loadOlder, retryMessage } from '../actions.js';
import { h, userText } from '../dom.js';
import { formatDateTime, formatDay, formatNumber, formatSpan, formatTime, startOfDay, t, tNodes } from '../i18n.js';
import { renderMarkdown } from '../markdown.js';
import { person as personNode, personLabel, personParts } from '../people.js';
import { emit, isBlocked, loaded, on, store, timeline } from '../state.js';
import { attachmentSummary, renderAttachments } from './media.js';
import { avatar, profileButton } from './avatar.js';
import { describeError } from './ui.js';
// -- message actions --
import { ANNOTATIONS, findMessage } from '../messages.js';
import { attachActions, decorateMessage, editLast } from './msgparts.js';

const MAX_ROWS = 150;
const STEP = 50;
const EDGE_PX = 600;
const STICK_PX = 48;
const GROUP_MS = 5 * 60_000;
const JUMP_HIGHLIGHT_MS = 2500;

export class TimelineView {
  constructor(roomId) {
    this.roomId = roomId;
    this.line = timeline(roomId);
    this.lo = 0;
    this.hi = 0;
    this.stuck = true;
    // The "new messages" divider goes before the first event past my read marker, as it
    // was when the room was opened with unread messages.
    const room = store.rooms.get(roomId);
    this.ctx = { roomId, marker: room?.unread && typeof room.read_seq === 'number' ? room.read_seq : null };
    this.edge = h('div', { class: 'timeline-edge', 'aria-live': 'polite' });
    this.list = h('ol', { class: 'events' });
    this.pendingList = h('ol', { class: 'events pending-events' });
    this.jumpButton = h('button', { type: 'button', class: 'jump', hidden: true, on: { click: () => this.jumpToLatest() } },
      t('timeline.jump'));
    this.scroller = h('div', { class: 'timeline', tabindex: 0, role: 'region', 'aria-label': t('timeline.label') },
      this.edge, this.list, this.pendingList);
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.announcer = h('p', { class: 'sr-only', 'aria-live': 'polite' });
    this.el = h('div', { class: 'timeline-wrap' }, this.scroller, this.jumpButton, this.announcer);
    this.offs = [
      on('timeline', ({ roomId: id, change }) => id === roomId && this.onChange(change)),
      on('pending', (id) => id === roomId && this.renderPending()),
      on('user', (id) => this.shows(id) && this.redraw()),
      on('message-changed', ({ roomId: id, seq }) => id === roomId && this.redrawMessage(seq)),
      on('jump', ({ roomId: id }) => id === roomId && this.applyJump()), // search
    ];
    attachActions(this.list, (seq) => findMessage(roomId, seq));
    this.resizeObserver = new ResizeObserver(() => this.stuck && this.scrollToBottom());
    this.resizeObserver.observe(this.scroller);
  }

  /** Called once the view is in the document, where it can measure itself. */
  mounted() {
    if (this.line.loaded) this.showLatest();
    this.applyJump(); // search
    this.updateEdge();
  }

  destroy() {
    this.offs.forEach((off) => off());
    this.resizeObserver.disconnect();
  }

  get count() {
    return this.line.events.length;
  }

  rows(from, to) {
    const rows = [];
    for (let i = from; i < to; i += 1) rows.push(eventRow(this.line.events, i, this.ctx));
    return rows;
  }

  /** Whether a rendered row names this user. */
  shows(userId) {
    return this.line.events.slice(this.lo, this.hi).some((event) => event.sender?.id === userId || event.user?.id === userId)
      || (userId === store.me.id && this.line.pending.length > 0);
  }

  /** Renders the same rows again (a name changed), keeping what the reader sees in place. */
  redraw() {
    // Message actions: a focused message keeps the focus (keyboard use, a jump)
    const focused = this.list.querySelector(':scope > li:focus-within')?.dataset.seq;
    this.keepingPosition(() => this.list.replaceChildren(...this.rows(this.lo, this.hi)));
    if (focused) this.list.querySelector(`:scope > li[data-seq="${focused}"]`)?.focus({ preventScroll: true });
    this.renderPending();
  }

  /** One message changed (edited, deleted, reacted to...): its row is drawn again in place. */
  redrawMessage(seq) {
    const row = this.list.querySelector(`li[data-seq="${seq}"]`);
    const i = this.line.events.findIndex((event) => event.seq === seq);
    if (!row || i < 0 || (row.querySelector('.edit-box') && !this.line.events[i].deleted)) return;
    const focused = row.contains(document.activeElement);
    this.keepingPosition(() => row.replaceWith(eventRow(this.line.events, i, this.ctx)));
    if (focused) this.list.querySelector(`li[data-seq="${seq}"]`)?.focus({ preventScroll: true });
  }

  /** Up-arrow in the empty composer. */
  editLast() {
    return editLast(this.list, this.roomId);
  }

  /** Renders the newest rows and scrolls to the bottom. */
  showLatest() {
    this.hi = this.count;
    this.lo = Math.max(0, this.hi - STEP);
    // The first unread message (under the divider) is rendered too, within MAX_ROWS.
    const firstUnread = this.dividerShown || this.ctx.marker === null ? -1
      : this.line.events.findIndex((event) => event.seq > this.ctx.marker);
    if (firstUnread >= 0) this.lo = Math.max(0, this.hi - MAX_ROWS, Math.min(this.lo, firstUnread - 3));
    this.list.replaceChildren(...this.rows(this.lo, this.hi));
    this.renderPending();
    this.stuck = true;
    this.scrollToBottom();
    this.showDivider();
    this.extendUp();
  }

  /** Once, on opening: if the "new messages" divider is above the screen, scroll up to it. */
  showDivider() {
    if (this.dividerShown) return;
    const divider = this.list.querySelector('.new-divider');
    if (!divider) return;
    this.dividerShown = true;
    const top = divider.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top;
    if (top >= 0) return;
    this.scroller.scrollTop += top - 8;
    this.stuck = false;
    this.updateJump();
  }

  jumpToLatest() {
    this.focusSeq = undefined; // search
    if (this.line.newerMissing) loaded.jump?.backToLatest(this.roomId).catch(() => {}); // Search: left a jumped-to page
    else if (this.hi !== this.count || !this.stuck) this.showLatest();
  }

  /** Search: shows the message a jump asked for (jump.js), if it is held, centred and highlighted. */
  applyJump() {
    const seq = loaded.jump?.takeJump(this.roomId) ?? null; // no jump before jump.js loads
    if (seq === null) return;
    this.focusSeq = seq;
    this.focusUntil = Date.now() + JUMP_HIGHLIGHT_MS;
    this.showAround(seq);
    this.list.querySelector(`[data-seq="${seq}"]`)?.focus({ preventScroll: true });
  }

  /** Search: renders the rows around a held message and scrolls it to the middle. */
  showAround(seq) {
    const index = this.line.events.findIndex((event) => event.seq === seq);
    this.lo = Math.max(0, index - STEP / 2);
    this.hi = Math.min(this.count, this.lo + STEP);
    this.list.replaceChildren(...this.rows(this.lo, this.hi));
    this.stuck = false; // before renderPending, which follows the bottom when stuck
    this.renderPending();
    const row = this.list.querySelector(`[data-seq="${seq}"]`);
    row.setAttribute('tabindex', '-1');
    const left = this.focusUntil - Date.now();
    if (left > 0) {
      row.classList.add('jumped');
      setTimeout(() => row.classList.remove('jumped'), left);
    }
    row.scrollIntoView({ block: 'center' });
    this.pinnedTop = this.scroller.scrollTop;
    this.updateJump();
    this.updateEdge();
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinnedTop = this.scroller.scrollTop;
    this.updateJump();
  }

  onScroll() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    const gap = scrollHeight - scrollTop - clientHeight;
    // Only the reader scrolling up unsticks: content growing under a reader at the bottom (the
    // member panel opening, rows wrapping anew) moves the end away without moving scrollTop.
    const movedUp = scrollTop < (this.pinnedTop ?? 0) - 1;
    this.stuck = !this.line.newerMissing && this.hi === this.count && (gap < STICK_PX || (this.stuck && !movedUp));
    if (this.stuck && gap > 1) this.scrollToBottom();
    else if (this.stuck) this.pinnedTop = scrollTop;
    if (scrollTop < EDGE_PX) this.extendUp();
    else if (scrollHeight - scrollTop - clientHeight < EDGE_PX) this.extendDown();
    this.updateJump();
  }

  /**
   * Near the top: render older held rows, or fetch an older page when none are left. A short
   * history that does not fill the screen keeps loading, page by page, until it does.
   */
  extendUp() {
    if (this.scroller.scrollTop >= EDGE_PX) return;
    if (this.lo > 0) {
      this.keepingPosition(() => {
        const from = Math.max(0, this.lo - STEP);
        const oldFirst = this.list.firstElementChild;
        this.list.prepend(...this.rows(from, this.lo));
        oldFirst?.replaceWith(eventRow(this.line.events, this.lo, this.ctx));
        this.lo = from;
        this.trim('bottom');
      });
    }
    if (this.lo === 0 && this.scroller.scrollTop < EDGE_PX && this.line.hasMore && this.line.loaded) loadOlder(this.roomId);
    this.updateEdge();
  }

  extendDown() {
    if (this.hi >= this.count && this.line.newerMissing) loaded.jump?.loadNewer(this.roomId).catch(() => {}); // search
    if (this.hi >= this.count) return;
    this.keepingPosition(() => {
      const to = Math.min(this.count, this.hi + STEP);
      this.list.append(...this.rows(this.hi, to));
      this.hi = to;
      this.trim('top');
    });
    this.renderPending();
  }

  /** Drops rows beyond MAX_ROWS on one side. */
  trim(side) {
    while (this.hi - this.lo > MAX_ROWS) {
      if (side === 'top') {
        this.list.firstElementChild.remove();
        this.lo += 1;
      } else {
        this.list.lastElementChild.remove();
        this.hi -= 1;
      }
    }
    if (side === 'bottom') this.renderPending();
  }

  /** Runs a DOM change above or below the viewport without moving what the reader sees. */
  keepingPosition(change) {
    const top = this.scroller.getBoundingClientRect().top;
    const anchor = [...this.list.children].find((row) => row.getBoundingClientRect().bottom > top);
    const seq = anchor?.dataset.seq;
    const before = anchor?.getBoundingClientRect().top;
    change();
    const after = seq && this.list.querySelector(`[data-seq="${CSS.escape(seq)}"]`);
    if (after) this.scroller.scrollTop += after.getBoundingClientRect().top - before;
  }

  onChange(change) {
    this.updateEdge();
    if (!change || change.kind === 'loading') return;
    if (change.kind === 'reset' || change.kind === 'jump') {
      // Search: a page loaded under a message jumped to keeps it on screen
      if (this.focusSeq !== undefined && !this.stuck && this.line.seqs.has(this.focusSeq)) this.showAround(this.focusSeq);
      else this.showLatest();
      this.applyJump();
    } else if (change.kind === 'prepend') {
      this.lo += change.count;
      this.hi += change.count;
      this.extendUp();
    } else if (this.hi === this.count - change.count) {
      this.appendLive();
    }
    this.updateJump();
  }

  /** New events at the end while the newest rows are rendered: show them, follow if at the bottom. */
  appendLive() {
    this.announce(this.line.events.slice(this.hi));
    const stuck = this.stuck;
    this.list.append(...this.rows(this.hi, this.count));
    this.hi = this.count;
    this.renderPending();
    if (stuck) {
      this.trim('top');
      this.scrollToBottom();
    } else {
      this.keepingPosition(() => this.trim('bottom'));
    }
  }

  /** My unacknowledged messages, shown after the newest event when the newest rows are rendered. */
  renderPending() {
    const atEnd = this.hi === this.count;
    const lastEvent = atEnd ? this.line.events.at(-1) : null;
    let prev = lastEvent;
    const rows = atEnd ? this.line.pending.filter((pending) => !pending.extra?.thread_root).map((pending) => {
      const event = { type: 'message', sender: store.me, text: pending.text, attachments: pending.attachments, ts: pending.ts };
      const row = pendingRow(this.roomId, pending, event, prev);
      prev = event;
      return row;
    }) : [];
    this.pendingList.replaceChildren(...rows);
    if (this.stuck) this.scrollToBottom();
  }

  /** Reads out the newest incoming message to screen readers (history loading stays silent). */
  announce(events) {
    const latest = events.findLast((event) => event.type === 'message' && event.sender?.id !== store.me.id);
    if (latest) this.announcer.textContent = t('event.message', { user: personLabel(latest.sender), text: latest.text || attachmentSummary(latest) });
  }

  updateEdge() {
    let text = '';
    if (this.line.loading) text = t('timeline.loading');
    else if (this.line.loaded && this.lo === 0 && !this.line.hasMore) text = t('timeline.beginning');
    this.edge.textContent = text;
  }

  updateJump() {
    this.jumpButton.hidden = this.stuck && this.hi === this.count && !this.line.newerMissing;
  }
}

function eventRow(events, i, ctx = {}) {
  const event = events[i];
  // -- message actions: changes to messages and thread replies have no row of their own --
  if (hiddenEvent(event)) return h('li', { class: 'hidden-event', hidden: true, dataset: { seq: event.seq } });
  let back = i - 1;
  while (back >= 0 && hiddenEvent(events[back])) back -= 1;
  const prev = events[back];
  const firstUnread = isFirstUnread(events, i, ctx.marker);
  const row = event.type !== 'message' ? systemRow(event) : isBlocked(event.sender?.id) && !unfolded.has(event) ? blockedRow(event, ctx.roomId)
    : decorateMessage(messageRow(event, firstUnread ? null : prev, ctx.roomId), event);
  row.dataset.seq = event.seq;
  if (firstUnread) row.prepend(h('div', { class: 'new-divider', role: 'separator' }, h('span', {}, t('timeline.newMessages'))));
  if (!prev || startOfDay(prev.ts) !== startOfDay(event.ts)) row.prepend(daySeparator(event.ts));
  return row;
}

// A message of someone I blocked folds to one line until I show it.
const unfolded = new WeakSet();

function blockedRow(event, roomId) {
  return h('li', { class: 'msg blocked-msg' }, t('timeline.blocked'), ' ', h('button', { type: 'button', class: 'link-btn', on: { click: () => {
    unfolded.add(event);
    emit('message-changed', { roomId, seq: event.seq });
  } } }, t('timeline.showBlocked')));
}

function hiddenEvent(event) {
  return ANNOTATIONS.has(event.type) && !SYSTEM_LINES[event.type]?.(event).length
    || (event.type === 'message' && Boolean(event.thread_root));
}

/** Whether events[i] is the first message past my read marker (system lines are not counted as unread). */
function isFirstUnread(events, i, marker) {
  if (marker === null || marker === undefined || events[i].type !== 'message' || events[i].seq <= marker) return false;
  let j = i - 1;
  for (; j >= 0 && events[j].seq > marker; j -= 1) if (events[j].type === 'message' && !hiddenEvent(events[j])) return false;
  // Events before the marker are not all held: the first unread one may be older than these.
  return j >= 0 || events[0].seq === marker + 1;
}

function daySeparator(ts) {
  return h('div', { class: 'day' }, h('span', {}, formatDay(ts)));
}

function isGrouped(prev, event) {
  return prev?.type === 'message' && prev.sender?.id === event.sender?.id
    && startOfDay(prev.ts) === startOfDay(event.ts) && event.ts - prev.ts < GROUP_MS;
}

function timeElement(ts) {
  return h('time', { class: 'msg-time', datetime: new Date(ts).toISOString(), title: formatDateTime(ts) }, formatTime(ts));
}

export function messageRow(event, prev, roomId = null) {
  const grouped = isGrouped(prev, event);
  const mine = event.sender?.id === store.me.id;
  const row = h('li', { class: `msg${grouped ? ' grouped' : ''}${mine ? ' mine' : ''}` });
  if (grouped) {
    row.append(h('div', { class: 'msg-head' }, h('span', { class: 'sr-only', 'data-user': true }, personLabel(event.sender)),
      timeElement(event.ts)));
  } else {
    // The first message of a run shows the sender's avatar; both open the profile card.
    row.append(h('div', { class: 'msg-head' }, avatarButton(event.sender, roomId),
      profileButton(event.sender, roomId, personParts(event.sender, 'msg-sender')), timeElement(event.ts)));
  }
  if (event.text || !event.attachments?.length) {
    row.append(h('div', { class: 'msg-body', 'data-user': true },
      renderMarkdown(event.text ?? '', { me: store.me.username, mentioned: mentionedNames(event) })));
  }
  const attachments = renderAttachments(event.attachments); // uploads (issue 9)
  if (attachments) row.append(attachments);
  return row;
}

/** The avatar beside a run of messages: a pointer shortcut to the card (the name is the keyboard's). */
function avatarButton(user, roomId) {
  const button = profileButton(user, roomId, avatar(user, 36), 'msg-avatar');
  button.tabIndex = -1;
  button.setAttribute('aria-label', personLabel(user));
  button.setAttribute('translate', 'no');
  return button;
}

/** The lower-case usernames of the people the server says the message mentions. */
function mentionedNames(event) {
  const names = (event.mentions ?? []).map((id) => (id === store.me.id ? store.me : store.users.get(id))?.username);
  return new Set(names.filter(Boolean).map((name) => name.toLowerCase()));
}

function pendingRow(roomId, pending, event, prev) {
  const row = messageRow(event, prev, roomId);
  row.classList.add(pending.status);
  row.dataset.cid = pending.cid;
  const button = (key, run) => h('button', { type: 'button', class: 'link-btn', on: { click: () => run(roomId, pending.cid) } }, t(key));
  // Held for review by the spam filter, or rejected
  const note = { pending: 'msg.sending', held: 'msg.held', rejected: 'msg.rejected' }[pending.status];
  if (note) row.append(h('div', { class: 'msg-status' }, t(note), note === 'msg.rejected' && [' ', button('msg.discard', discardMessage)]));
  if (pending.status === 'failed') {
    row.append(h('div', { class: 'msg-status', role: 'alert' }, t('msg.failed', { reason: failureReason(pending.error) }), ' ',
      button('msg.retry', retryMessage), button('msg.discard', discardMessage)));
  }
  return row;
}

/** Why the server refused a message; a text over its limit names the limit. */
function failureReason(error) {
  const limit = error?.code === 'invalid' && /\bat most (\d+)/.exec(error.message ?? '')?.[1];
  return limit ? t('composer.tooLong', { max: formatNumber(Number(limit)) }) : describeError(error);
}

/** How each room event type other than `message` reads in the timeline (keys of REDUCERS). */
const SYSTEM_LINES = {
  room_created: (event) => [['event.room_created', { user: person(event.sender) }]],
  member_joined: (event) => [['event.member_joined', { user: person(event.user) }]],
  member_left: (event) => [['event.member_left', { user: person(event.user) }]],
  member_invited: (event) => [['event.member_invited', { user: person(event.sender), invitee: person(event.user) }]],
  member_updated: (event) => [['event.member_updated', {
    user: person(event.sender), member: person(event.user), role: t(`role.${event.role}`),
  }]],
  room_updated: (event) => roomChanges(event),
  // -- message actions: pins are told, the other changes show on the message itself --
  message_edited: () => [],
  message_deleted: () => [],
  reaction_added: () => [],
  reaction_removed: () => [],
  message_pinned: (event) => [['event.message_pinned', { user: person(event.sender) }]],
  message_unpinned: (event) => [['event.message_unpinned', { user: person(event.sender) }]],
  // -- moderation --
  member_kicked: moderation,
  member_banned: moderation,
  member_unbanned: moderation,
  member_muted: moderation,
  member_unmuted: moderation,
  history_purged: () => [['event.history_purged', {}]],
  call_started: (e) => [['event.call_started', { user: person(e.sender) }]], // calls (issue 13)
  call_ended: (e) => [e.missed ? [`event.call_ended.${e.declined ? 'declined' : 'missed'}`, { user: person(e.participants[0]) }]
    : ['event.call_ended', { span: formatSpan(Math.max(1e3, e.duration_ms)), n: String(e.participants.length) }]],
};

/** "Ana banned Bob for 1 day: spamming" */
function moderation({ type, sender, user, until, reason, ts }) {
  return [[`event.${type}${until ? '.for' : ''}`, { user: person(sender), member: person(user), span: until && formatSpan(until - ts) }, reason]];
}

/** One line per change, each with its own node of the person (a node is in one place only). */
function roomChanges({ sender, changes = {} }) {
  const lines = [];
  const add = (key, params) => lines.push([key, { user: person(sender), ...params }]);
  if ('name' in changes) add('event.room_updated.name', { name: userText(changes.name, 'q') });
  if ('topic' in changes) add(changes.topic ? 'event.room_updated.topic' : 'event.room_updated.topicCleared', { topic: changes.topic && userText(changes.topic, 'q') });
  if ('archived' in changes) add(changes.archived ? 'event.room_updated.archived' : 'event.room_updated.unarchived');
  const slow = changes.slow_mode_s;
  if (slow !== undefined) add(slow ? 'event.room_updated.slow' : 'event.room_updated.slowOff', { span: slow && formatSpan(slow * 1000) });
  if ('post_policy' in changes) add(`event.room_updated.${changes.post_policy}`);
  const days = changes.retention_days;  // privacy
  if (days !== undefined) add(days ? 'event.room_updated.retention' : 'event.room_updated.retentionOff', { days: days && formatNumber(days) });
  if (!lines.length) add('event.room_updated');
  return lines;
}

function person(user) {
  return personNode(user, 'sys-user');
}

function systemRow(event) {
  const lines = SYSTEM_LINES[event.type]?.(event) ?? [];
  if (!lines.length) return h('li', { class: 'sys', hidden: true });  // message actions show on the message
  return h('li', { class: 'sys' }, ...lines.map(([key, nodes, why]) => h('p', {}, ...tNodes(key, nodes),
    ...(why ? tNodes('event.reason', { why: userText(why, 'q') }) : []))),
    timeElement(event.ts));
}
