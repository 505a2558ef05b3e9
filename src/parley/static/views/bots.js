// Bots (issue 12), loaded on first use: the "Bots" section of the settings (create, show the token
// once, rotate, delete; outgoing and incoming webhooks; the delivery log) and the member panel's
// "Add bot" dialog for room admins and bot owners.
import { loadMembers } from '../actions.js';
import { request } from '../api.js';
import { h } from '../dom.js';
import { formatDateTime, loadStrings, t } from '../i18n.js';
import { personParts } from '../people.js';
import { store } from '../state.js';
import { styles } from './slash.js';
import { describeError, field, openDialog, uid } from './ui.js';

await Promise.all([loadStrings('bots'), styles()]); // locales/bots-*.js, bots.css

const EVENTS = ['mention', 'direct', 'message'];
const button = (label, click, cls = 'btn') => h('button', { type: 'button', class: cls, on: { click } }, label);

/** A secret shown once, selected for copying. */
function once(label, value) {
  const input = h('input', { readonly: true, value, class: 'bot-secret', spellcheck: 'false' });
  setTimeout(() => input.select());
  return field(label, input);
}

/** The settings section: my bots. */
export function botsSection() {
  const id = uid('bots');
  const list = h('ul', { class: 'bot-list' });
  const shown = h('div', { class: 'bot-shown', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const username = h('input', { name: 'bot_username', maxlength: 32, autocomplete: 'off', spellcheck: 'false' });
  const display = h('input', { name: 'bot_display_name', maxlength: 64, autocomplete: 'off' });
  const fail = (err) => { error.textContent = err?.message && err.status >= 400 && err.status < 500 ? err.message : describeError(err); };
  const render = async () => {
    try {
      const { bots } = await request('GET', '/bots');
      list.replaceChildren(...(bots.length ? bots.map((bot) => h('li', { class: 'bot-row', dataset: { botId: bot.id } },
        h('span', { class: 'bot-names' }, personParts(bot)),
        button(t('bots.manage'), () => manage(bot)),
        button(t('bots.rotate'), async () => {
          try {
            const { token } = await request('POST', `/bots/${bot.id}/token`);
            shown.replaceChildren(once(t('bots.token'), token), h('p', { class: 'field-hint' }, t('bots.rotateDone')));
          } catch (err) { fail(err); }
        }),
        button(t('bots.delete'), async () => {
          if (!window.confirm(t('bots.deleteConfirm', { name: bot.username }))) return;
          try {
            await request('DELETE', `/bots/${bot.id}`);
            shown.replaceChildren();
            render();
          } catch (err) { fail(err); }
        }, 'btn danger'))) : [h('li', { class: 'muted' }, t('bots.none'))]));
    } catch (err) { fail(err); }
  };
  const create = button(t('bots.create'), async () => {
    error.textContent = '';
    try {
      const answer = await request('POST', '/bots', { username: username.value.trim(), ...(display.value.trim() ? { display_name: display.value.trim() } : {}) });
      username.value = '';
      display.value = '';
      shown.replaceChildren(once(t('bots.token'), answer.token));
      render();
    } catch (err) { fail(err); }
  }, 'btn primary');
  render();
  return h('section', { class: 'settings-section bots-section', 'aria-labelledby': id },
    h('h3', { id, class: 'field-label' }, t('bots.title')), h('p', { class: 'field-hint' }, t('bots.hint')), list,
    h('div', { class: 'settings-pair' }, field(t('bots.username'), username), field(t('bots.displayName'), display)),
    create, error, shown);
}

/** One bot's webhooks, incoming hooks and delivery log. */
async function manage(bot) {
  const hooks = h('ul', { class: 'bot-list' });
  const incoming = h('ul', { class: 'bot-list' });
  const log = h('ol', { class: 'bot-log' });
  const shown = h('div', { 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const url = h('input', { type: 'url', name: 'webhook_url', maxlength: 2000, placeholder: 'https://' });
  const boxes = EVENTS.map((e) => h('label', { class: 'choice' }, h('input', { type: 'checkbox', value: e, checked: e === 'mention' }), h('span', {}, t(`bots.event.${e}`))));
  const room = h('select', { name: 'hook_room' });
  const fail = (err) => { error.textContent = err?.message && err.status >= 400 && err.status < 500 ? err.message : describeError(err); };
  const base = `/bots/${bot.id}`;
  const render = async () => {
    const { bot: full } = await request('GET', base);
    hooks.replaceChildren(...full.webhooks.map((w) => h('li', { class: 'bot-row' }, h('code', {}, w.url), ` ${w.events.map((e) => t(`bots.event.${e}`)).join(', ')}`,
      button(t('bots.remove'), () => request('DELETE', `${base}/webhooks/${w.id}`).then(render, fail)))));
    const roomName = (rid) => store.rooms.get(rid)?.name ?? `#${rid}`;
    incoming.replaceChildren(...full.hooks.map((x) => h('li', { class: 'bot-row' }, roomName(x.room_id),
      button(t('bots.remove'), () => request('DELETE', `${base}/hooks/${x.id}`).then(render, fail)))));
    room.replaceChildren(...full.rooms.map((rid) => h('option', { value: rid }, roomName(rid))));
    room.disabled = !full.rooms.length;
    const { deliveries } = await request('GET', `${base}/deliveries?limit=20`);
    log.replaceChildren(...(deliveries.length ? deliveries.map((d) => h('li', { class: `delivery ${d.state}` },
      h('time', {}, formatDateTime(d.updated_at)), ` ${d.kind} · ${t(`bots.state.${d.state}`)} · ${t('bots.attempts', { count: d.attempts })}`,
      d.last_status ? ` · HTTP ${d.last_status}` : '', d.last_error ? ` · ${d.last_error}` : '')) : [h('li', { class: 'muted' }, t('bots.noDeliveries'))]));
  };
  const addWebhook = button(t('bots.addWebhook'), async () => {
    error.textContent = '';
    try {
      const events = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      const { webhook } = await request('POST', `${base}/webhooks`, { url: url.value.trim(), events });
      url.value = '';
      shown.replaceChildren(once(t('bots.secret'), webhook.secret));
      render();
    } catch (err) { fail(err); }
  });
  const addHook = button(t('bots.addHook'), async () => {
    error.textContent = '';
    try {
      const { hook } = await request('POST', `${base}/hooks`, { room: Number(room.value) });
      shown.replaceChildren(once(t('bots.hookUrl'), new URL(hook.url, location.origin).href));
      render();
    } catch (err) { fail(err); }
  });
  openDialog({
    title: t('bots.manageTitle', { name: bot.username }),
    submitLabel: t('bots.close'),
    onSubmit: async () => {},
    body: [
      h('h3', { class: 'field-label' }, t('bots.webhooks')), hooks,
      field(t('bots.webhookUrl'), url), h('fieldset', { class: 'choices bot-events' }, h('legend', {}, t('bots.events')), boxes), addWebhook,
      h('h3', { class: 'field-label' }, t('bots.hooks')), incoming, field(t('bots.hookRoom'), room), addHook,
      error, shown,
      h('h3', { class: 'field-label' }, t('bots.deliveries')), log,
    ],
  }).classList.add('bots-dialog');
  render().catch(fail);
}

/** The member panel's "Add bot": one of my bots, or any bot by its username (room admins). */
export async function addBotDialog(roomId) {
  const mine = h('select', { name: 'bot_id' }, h('option', { value: '' }, '—'));
  const name = h('input', { name: 'bot_username', maxlength: 32, autocomplete: 'off', spellcheck: 'false' });
  request('GET', '/bots').then(({ bots }) => mine.append(...bots.map((b) => h('option', { value: b.id }, `${b.display_name} (@${b.username})`))), () => {});
  // The server's own assistant (no owner: room admins add it); it answers mentions here.
  request('GET', '/server').then(({ assistant }) => assistant && mine.append(
    h('option', { value: assistant.id, 'data-assistant': '' }, `${t('bots.assistant')} (@${assistant.username})`)), () => {});
  openDialog({
    title: t('bots.addTitle'),
    submitLabel: t('bots.addSubmit'),
    body: [field(t('bots.mine'), mine), field(t('bots.orName'), name)],
    describe: (err) => (err?.status >= 400 && err.status < 500 && err.message ? err.message : describeError(err)),
    onSubmit: async () => {
      let botId = Number(mine.value);
      const wanted = name.value.trim().replace(/^@/, '').toLowerCase();
      if (wanted) {
        const { users } = await request('GET', `/users?q=${encodeURIComponent(wanted)}&limit=20`);
        botId = users.find((u) => u.bot && u.username.toLowerCase() === wanted)?.id;
        if (!botId) throw Object.assign(new Error(t('bots.notBot', { name: wanted })), { status: 404 });
      }
      if (!botId) return;
      await request('POST', `/rooms/${roomId}/bots`, { bot_id: botId });
      await loadMembers(roomId).catch(() => {});
    },
  });
}
