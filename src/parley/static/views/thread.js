// A thread (issue 10): its root, its replies and a composer of its own, in a side panel on the
// desktop and over the whole room on a phone. Loaded on first use (views/msgparts.js openThread).
import { h, iconButton } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { api } from '../api.js';
import { cursorOf, findMessage, holdMessages, threadKey, threadReplies } from '../messages.js';
import { emit, isBlocked, on, store, timeline } from '../state.js';
import './msgtools.js'; // the toolbar's code and the panel's styles
import { attachActions, decorateMessage, editLast, roomComposerOptions } from './msgparts.js';
import { createComposer } from './composer.js';
import { messageRow } from './timeline.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

let open = null;

export function closeThread() {
  open?.destroy();
  open = null;
}

/** Shows the thread of `rootSeq` beside the room's history (the room must be on screen). */
export function openThread(roomId, rootSeq) {
  const body = document.querySelector(`.room[data-room-id="${roomId}"] .room-body`);
  if (!body) return;
  closeThread();
  open = createThreadPanel(roomId, rootSeq);
  body.append(open.el);
  open.mounted();
}

function createThreadPanel(roomId, rootSeq) {
  const title = h('h3', { id: `thread-title-${roomId}` }, t('thread.title'));
  const list = h('ol', { class: 'events thread-events' });
  const scroller = h('div', { class: 'thread-scroll', tabindex: 0, role: 'region', 'aria-label': t('thread.title') }, list);
  const room = store.rooms.get(roomId);
  // Its own reply bar: "Reply" on a message in this panel quotes it here, not in the room's composer.
  const replies = roomComposerOptions(threadKey(roomId, rootSeq), () => editLast(list, roomId, rootSeq));
  const composer = room?.my_state === 'joined' && !room.archived
    ? createComposer(roomId, t('thread.reply'), () => { scroller.scrollTop = scroller.scrollHeight; }, {
      ...replies,
      extra: () => ({ thread_root: rootSeq, ...replies.extra() }),
      draftKey: threadKey(roomId, rootSeq),
    })
    : null;
  const el = h('aside', { class: 'thread-panel', 'aria-labelledby': title.id, dataset: { root: rootSeq } },
    h('div', { class: 'panel-head' }, title, iconButton('close', t('thread.close'), () => closeThread(), { class: 'icon-btn thread-close' })),
    scroller, composer?.el);
  el.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !event.defaultPrevented && !event.target.closest('.edit-box')) closeThread();
  });
  attachActions(list, (seq) => findMessage(roomId, seq));

  // Someone I blocked: their root and replies fold to one line, as in the timeline, until shown.
  const unfolded = new WeakSet();
  const blockedRow = (message) => h('li', { class: 'msg blocked-msg' }, t('timeline.blocked'), ' ', h('button', {
    type: 'button', class: 'link-btn', on: { click: () => { unfolded.add(message); render(); } } }, t('timeline.showBlocked')));
  const render = () => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    const root = findMessage(roomId, rootSeq);
    const rows = [];
    const rowOf = (message, prev) => (isBlocked(message.sender?.id) && !unfolded.has(message) ? blockedRow(message)
      : decorateMessage(messageRow(message, prev, roomId), message, { inThread: true }));
    if (root) rows.push(rowOf(root, null), h('li', { class: 'thread-divider' }));
    let prev = null;
    for (const reply of threadReplies(roomId, rootSeq)) {
      rows.push(rowOf(reply, prev));
      prev = reply;
    }
    for (const pending of timeline(roomId).pending.filter((p) => p.extra?.thread_root === rootSeq)) {
      const event = { type: 'message', sender: store.me, text: pending.text, ts: pending.ts };
      const row = messageRow(event, prev);
      row.classList.add(pending.status);
      rows.push(row);
      prev = event;
    }
    if (list.querySelector('.edit-box')) return;
    list.replaceChildren(...rows);
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  };
  const offs = [
    on('thread', ({ roomId: id, root }) => id === roomId && root === rootSeq && render()),
    on('message-changed', ({ roomId: id, seq }) => id === roomId && (seq === rootSeq || findMessage(roomId, seq)?.thread_root === rootSeq) && render()),
    on('pending', (id) => id === roomId && render()),
    on('route', () => closeThread()),
  ];
  return {
    el,
    mounted() {
      render();
      loadThread(roomId, rootSeq).catch(() => {}).then(render);
      composer?.mounted();
      (composer?.input ?? scroller).focus();
    },
    destroy() {
      offs.forEach((off) => off());
      replies.destroy();
      el.remove();
    },
  };
}

/** Loads a thread's root and replies from the server (page by page, up to a bound). */
async function loadThread(roomId, rootSeq) {
  let after = 0;
  for (let pages = 0; pages < 20; pages += 1) {
    const page = await api.thread(roomId, rootSeq, after);
    holdMessages(roomId, [page.root, ...page.replies], cursorOf(roomId));
    if (!page.has_more || !page.replies.length) break;
    after = page.replies.at(-1).seq;
  }
  emit('thread', { roomId, root: rootSeq });
}
