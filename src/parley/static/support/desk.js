// The support desk of a room (/support/desk/ID, customer service, issue 12): a page of its own, so
// the app's first screen carries none of it. The live queue of the website widget's conversations
// (take, open, resolve: `support_updated` frames on its own socket), the embed line, and the
// knowledge base the assistant answers from (its admins add, edit and delete entries, and try a
// question). Agents are the room's members; a conversation they take becomes a room of theirs.
import { request } from '../api.js';
import { h, iconButton, replace, userText } from '../dom.js';
import { detectLanguage, loadStrings, setLanguage, t } from '../i18n.js';
import { describeError, field } from '../views/ui.js';

const roomId = Number(document.body.dataset.room);

async function createDesk() {
  const me = await request('GET', '/me').catch(() => null);
  if (!me) {
    return h('p', { class: 'support-desk' }, t('support.login'), ' ', h('a', { href: '/' }, 'Parley'));
  }
  const room = await request('GET', `/rooms/${roomId}`).catch(() => null);
  const store = { me };
  const heading = h('h2', { class: 'room-title' }, t('support.desk'), room?.name ? ` · ${room.name}` : '');
  const header = h('header', { class: 'room-header' },
    iconButton('back', t('nav.back'), () => { location.href = `/#/room/${roomId}`; }, { class: 'icon-btn back-btn' }),
    h('div', { class: 'room-heading' }, heading));
  const body = h('div', { class: 'support-desk' });
  const el = h('section', { class: 'support-view', 'aria-label': t('support.desk'), dataset: { roomId } }, header, body);
  const conversations = new Map();
  let desk = null;

  const queueList = h('ul', { class: 'support-queue', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const fail = (e) => { error.textContent = describeError(e); error.hidden = false; };

  function stateLabel(c) {
    return c.state === 'taken' ? t('support.state.taken', { name: c.agent?.display_name ?? '' }) : t(`support.state.${c.state}`);
  }

  function renderQueue() {
    const open = [...conversations.values()].filter((c) => c.state !== 'resolved').sort((a, b) => b.updated_at - a.updated_at);
    replace(queueList, open.length ? open.map((c) => h('li', { class: `support-item state-${c.state}`, dataset: { conversation: c.id } },
      h('div', { class: 'support-who' }, userText(c.guest?.display_name ?? '?', 'strong'), h('span', { class: 'support-state' }, stateLabel(c))),
      c.last_text ? userText(c.last_text, 'p', { class: 'support-last' }) : null,
      h('div', { class: 'support-buttons' },
        ['bot', 'waiting'].includes(c.state) ? h('button', { type: 'button', class: 'btn primary', on: { click: () => act(c, 'take') } }, t('support.take')) : null,
        c.state === 'taken' && c.agent?.id === store.me.id ? h('a', { class: 'btn', href: `/#/room/${c.room}` }, t('support.openChat')) : null,
        h('button', { type: 'button', class: 'btn', on: { click: () => act(c, 'resolve') } }, t('support.resolve'))))) : h('li', { class: 'muted' }, t('support.queueEmpty')));
  }

  async function act(c, verb) {
    try {
      const answer = await request('POST', `/support/conversations/${c.id}/${verb}`);
      conversations.set(c.id, answer.conversation);
      renderQueue();
      if (verb === 'take') location.href = `/#/room/${c.room}`; // the app, in the room I was just added to
    } catch (e) {
      fail(e);
    }
  }

  // -- the knowledge base --
  const entryList = h('ul', { class: 'support-entries' });
  async function loadEntries() {
    const { entries } = await request('GET', `/rooms/${roomId}/support/entries`);
    replace(entryList, entries.length ? entries.map(entryRow) : h('li', { class: 'muted' }, t('support.kbEmpty')));
  }
  function entryRow(entry) {
    const li = h('li', { class: 'support-entry', dataset: { entry: entry.id } },
      userText(entry.title, 'strong'), userText(entry.answer, 'p'), entry.tags ? userText(entry.tags, 'small', { class: 'muted' }) : null,
      desk.admin ? h('div', { class: 'support-buttons' },
        h('button', { type: 'button', class: 'btn', on: { click: () => li.replaceWith(entryForm(entry)) } }, t('support.entry.edit')),
        h('button', { type: 'button', class: 'btn danger', on: { click: async () => {
          try { await request('DELETE', `/rooms/${roomId}/support/entries/${entry.id}`); await loadEntries(); } catch (e) { fail(e); }
        } } }, t('support.entry.delete'))) : null);
    return li;
  }
  function entryForm(entry = null) {
    const title = h('input', { name: 'title', required: true, maxlength: 200, value: entry?.title ?? '' });
    const answer = h('textarea', { name: 'answer', required: true, maxlength: 4000, rows: 3, value: entry?.answer ?? '' });
    const tags = h('input', { name: 'tags', maxlength: 200, value: entry?.tags ?? '' });
    const form = h('form', { class: 'support-form', on: { submit: async (e) => {
      e.preventDefault();
      const data = { title: title.value, answer: answer.value, tags: tags.value };
      try {
        if (entry) await request('PUT', `/rooms/${roomId}/support/entries/${entry.id}`, data);
        else await request('POST', `/rooms/${roomId}/support/entries`, data);
        if (!entry) form.reset();
        await loadEntries();
      } catch (err) { fail(err); }
    } } },
    field(t('support.entry.title'), title), field(t('support.entry.answer'), answer), field(t('support.entry.tags'), tags),
    h('div', { class: 'support-buttons' }, h('button', { type: 'submit', class: 'btn primary' }, entry ? t('support.entry.save') : t('support.entry.add')),
      entry ? h('button', { type: 'button', class: 'btn', on: { click: () => loadEntries() } }, t('support.entry.cancel')) : null));
    return form;
  }
  function importForm() {
    const format = h('select', { name: 'format' }, h('option', { value: 'csv' }, 'CSV'), h('option', { value: 'markdown' }, 'Markdown'));
    const text = h('textarea', { name: 'text', rows: 4, required: true });
    const done = h('p', { class: 'muted', role: 'status' });
    return h('form', { class: 'support-form support-import', on: { submit: async (e) => {
      e.preventDefault();
      try {
        const { entries } = await request('POST', `/rooms/${roomId}/support/import`, { format: format.value, text: text.value });
        done.textContent = t('support.imported', { count: entries.length });
        text.value = '';
        await loadEntries();
      } catch (err) { fail(err); }
    } } }, h('h4', {}, t('support.import')), h('p', { class: 'muted' }, t('support.importHint')),
    field(t('support.format'), format), field(t('support.importText'), text),
    h('div', { class: 'support-buttons' }, h('button', { type: 'submit', class: 'btn' }, t('support.importDo'))), done);
  }
  function tryBox() {
    const q = h('input', { name: 'q', type: 'search', maxlength: 200 });
    const out = h('ol', { class: 'support-try' });
    let timer = 0;
    q.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        if (!q.value.trim()) { replace(out); return; }
        const { hits } = await request('GET', `/rooms/${roomId}/support/try?q=${encodeURIComponent(q.value)}`).catch(() => ({ hits: [] }));
        replace(out, hits.length ? hits.map((hit) => h('li', {}, userText(hit.entry.title), ' — ',
          t(hit.answers ? 'support.tryAnswers' : 'support.tryBelow', { coverage: Math.round(hit.coverage * 100) })))
          : h('li', { class: 'muted' }, t('support.tryNone')));
      }, 250);
    });
    return h('div', {}, field(t('support.try'), q), out);
  }

  async function load() {
    try {
      desk = await request('GET', `/rooms/${roomId}/support`);
    } catch (e) {
      if (e.status !== 404) throw e;
      const mayEnable = room && ['owner', 'admin'].includes(room.my_role);
      replace(body, h('p', { class: 'muted' }, t('support.enableHint')), mayEnable ? h('button', { type: 'button', class: 'btn primary',
        on: { click: async () => { try { await request('POST', `/rooms/${roomId}/support`); await load(); } catch (err) { fail(err); } } } },
      t('support.enable')) : null, error);
      return;
    }
    const { conversations: list } = await request('GET', `/rooms/${roomId}/support/conversations`);
    for (const c of list) conversations.set(c.id, c);
    listen();
    const snippet = `<script src="${location.origin}/widget.js" data-parley-support="${roomId}" async></script>`;
    replace(body,
      error,
      h('section', { class: 'support-section' }, h('h3', {}, t('support.queue')), queueList),
      h('section', { class: 'support-section' }, h('h3', {}, t('support.embed')), h('p', { class: 'muted' }, t('support.embedHint')),
        h('code', { class: 'support-snippet' }, snippet)),
      h('section', { class: 'support-section' }, h('h3', {}, t('support.kb')), h('p', { class: 'muted' }, t('support.kbHint')),
        tryBox(), entryList, desk.admin ? entryForm() : null, desk.admin ? importForm() : null));
    renderQueue();
    await loadEntries();
  }

  /** The queue, live: my own socket (the session cookie), its `support_updated` frames. */
  function listen(retry = 0) {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    socket.addEventListener('message', (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === 'hello') retry = 0;
      if (frame.type !== 'support_updated' || frame.conversation.support_room !== roomId) return;
      conversations.set(frame.conversation.id, frame.conversation);
      renderQueue();
    });
    socket.addEventListener('close', () => setTimeout(async () => {
      const { conversations: list } = await request('GET', `/rooms/${roomId}/support/conversations`).catch(() => ({ conversations: [] }));
      for (const c of list) conversations.set(c.id, c);
      renderQueue();
      listen(retry + 1);
    }, 1000 * 2 ** Math.min(retry, 5)));
  }
  await load();
  return el;
}

await setLanguage(detectLanguage());
await loadStrings('support');
document.getElementById('desk').replaceChildren(await createDesk());
