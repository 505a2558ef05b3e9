// The support widget's page, inside the iframe a website adds with /widget.js (customer service,
// issue 12). A visitor without an account gets a guest session kept in this frame's storage (which
// the browser keys to the embedding site), and one conversation: the assistant answers first,
// "talk to a person" calls an agent, and replies arrive live over the WebSocket.
import { h, replace } from '../dom.js';
import { detectLanguage, loadStrings, setLanguage, t } from '../i18n.js';

const room = document.body.dataset.room;
const KEY = `parley.support.${room}`;
const main = document.getElementById('widget');
const state = { draft: '', token: localStorage.getItem(KEY), conversation: null, messages: new Map(), socket: null,
  open: false, typing: null, typingTimer: 0, retry: 0, me: null, cursor: 0 };

async function call(method, path, body) {
  const headers = { 'X-Requested-With': 'parley', Accept: 'application/json' };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method, headers, credentials: 'omit', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw Object.assign(new Error(data?.error?.message ?? 'error'), { status: response.status });
  return data;
}

/** My conversation: the stored session's, or a new one. */
async function connect() {
  if (state.token) {
    try {
      return load(await call('GET', '/support/me'));
    } catch (error) {
      if (![401, 404].includes(error.status)) throw error;
      state.token = null; // expired, or another server's: start again
    }
  }
  const visit = await call('POST', `/support/rooms/${room}/visit`);
  state.token = visit.token;
  localStorage.setItem(KEY, visit.token);
  return load(await call('GET', '/support/me'));
}

function load(answer) {
  state.conversation = answer.conversation;
  state.me = answer.conversation.guest?.id;
  for (const event of answer.messages) apply(event);
  state.cursor = Math.max(state.cursor, answer.last_seq);
  openSocket();
  render();
}

function apply(event) {
  if (event.room !== state.conversation?.room) return;
  if (event.seq && event.type !== 'read') state.cursor = Math.max(state.cursor, event.seq);
  if (event.type === 'message') state.messages.set(event.seq, event);
  else if (event.type === 'message_edited') {
    const target = state.messages.get(event.target);
    if (target) state.messages.set(event.target, { ...target, text: event.text });
  }
  if (event.type === 'message' && event.sender?.id === state.typing?.id) state.typing = null;
}

function openSocket() {
  if (state.socket) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  // Resuming from my cursor: whatever happened since the page read the conversation comes first.
  const resume = `${state.conversation.room}.${state.cursor}`;
  const socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(state.token)}&resume=${resume}`);
  state.socket = socket;
  socket.addEventListener('open', () => { state.retry = 0; render(); });
  socket.addEventListener('message', (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type === 'typing' && frame.room === state.conversation.room && frame.user.id !== state.me) {
      state.typing = frame.user;
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(() => { state.typing = null; render(); }, 5000); // never stuck
    } else if (frame.type === 'support_updated' && frame.conversation.id === state.conversation.id) {
      state.conversation = frame.conversation; // taken, resolved, waiting: told to the visitor too
    } else apply(frame);
    render();
  });
  socket.addEventListener('close', () => {
    state.socket = null;
    render();
    state.retry = Math.min(state.retry + 1, 6);
    setTimeout(openSocket, 500 * 2 ** state.retry);
  });
}

function tell(open) {
  state.open = open;
  window.parent.postMessage({ parleyWidget: open ? 'open' : 'closed' }, '*');
  render();
  if (open && !state.ready) {
    state.ready = connect().catch((error) => {
      state.ready = null;
      showError(error.status === 404 ? 'support.unavailable' : 'support.error'); // no such desk
    });
  }
}

let errorText = '';
function showError(key = 'support.error') {
  errorText = t(key);
  render();
}

async function send(form) {
  const input = form.elements.text;
  const text = input.value.trim();
  if (!text) return;
  input.value = state.draft = '';
  errorText = '';
  try {
    await state.ready; // the first question may come before the conversation is opened
    const answer = await call('POST', '/support/me/messages', { text, client_msg_id: crypto.randomUUID() });
    if (answer.message?.seq) apply(answer.message);
    if (state.conversation.state === 'resolved') state.conversation = { ...state.conversation, state: 'waiting' };
    render();
  } catch {
    state.draft = text;
    showError();
  }
}

async function handover() {
  try {
    await state.ready;
    state.conversation = (await call('POST', '/support/me/handover')).conversation;
    render();
  } catch {
    showError();
  }
}

function status() {
  const conv = state.conversation;
  if (!conv) return '';
  if (conv.state === 'waiting') return t('support.waiting');
  if (conv.state === 'taken') return t('support.taken', { name: conv.agent?.display_name ?? '' });
  if (conv.state === 'resolved') return t('support.resolved');
  return '';
}

function render() {
  if (!state.open) {
    replace(main, h('button', { class: 'launcher', type: 'button', 'aria-label': t('support.open'),
      title: t('support.open'), on: { click: () => tell(true) } }, '💬'));
    return;
  }
  const list = h('ol', { class: 'messages', 'aria-live': 'polite' },
    h('li', { class: 'note' }, t('support.welcome')),
    [...state.messages.values()].sort((a, b) => a.seq - b.seq).map((m) => {
      const mine = m.sender?.id === state.me;
      return h('li', { class: mine ? 'mine' : 'theirs', dataset: { seq: m.seq } },
        h('span', { class: 'who' }, mine ? t('support.you') : m.sender?.display_name ?? ''),
        h('span', { class: 'text', 'data-user': true }, m.text));
    }));
  const form = h('form', { class: 'composer', on: { submit: (e) => { e.preventDefault(); send(e.target); } } },
    // Every render rebuilds the panel: the draft (and the focus) carry over, so a frame that
    // arrives while the visitor types loses nothing.
    h('textarea', { name: 'text', rows: 2, maxlength: 4000, placeholder: t('support.placeholder'),
      'aria-label': t('support.placeholder'), value: state.draft,
      on: { input: (e) => { state.draft = e.target.value; },
        keydown: (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(e.target.form); } } } }),
    h('button', { type: 'submit', class: 'send' }, t('support.send')));
  const conv = state.conversation;
  const typing = document.activeElement?.name === 'text';
  replace(main, h('section', { class: 'panel', 'aria-label': t('support.title') },
    h('header', {}, h('strong', {}, t('support.title')),
      conv?.state === 'bot' ? h('button', { type: 'button', class: 'human', on: { click: handover } },
        t('support.human')) : null,
      h('button', { type: 'button', class: 'close', 'aria-label': t('support.close'), title: t('support.close'),
        on: { click: () => tell(false) } }, '×')),
    list,
    h('p', { class: 'status', role: 'status' }, status(),
      state.typing ? ` ${t('support.typing', { name: state.typing.display_name })}` : '',
      conv && !state.socket ? ` ${t('support.offline')}` : ''),
    errorText ? h('p', { class: 'error', role: 'alert' }, errorText) : null,
    form));
  if (typing) form.elements.text.focus();
  const focused = document.activeElement?.name === 'text';
  list.scrollTop = list.scrollHeight;
  if (!focused) main.querySelector('textarea')?.focus({ preventScroll: true });
}

await setLanguage(detectLanguage());
await loadStrings('support');
document.documentElement.lang = document.documentElement.lang || 'en';
render();
