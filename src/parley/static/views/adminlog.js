// The admin console's other tabs: open reports, the audit log, registration mode and invite codes,
// and the spam filter's figures. Part of the console (views/admin.js), loaded with it.
import { h, userText } from '../dom.js';
import { on } from '../state.js';
import { formatNumber, t } from '../i18n.js';
import { adminRow, findUser, get, named, pagedList, request, rowButton, tag, when, who } from './adminkit.js';
import { field, uid } from './ui.js';

const RESOLUTIONS = ['dismiss', 'delete', 'mute', 'kick', 'ban'];
// The audit log's action names (core/audit.py ACTIONS), for the filter.
const ACTIONS = ['kick', 'ban', 'unban', 'mute', 'unmute', 'delete_message', 'purge_messages', 'set_role', 'room_settings',
  'resolve_report', 'approve_message', 'reject_message', 'spam_settings', 'disable_user', 'enable_user', 'grant_admin',
  'revoke_admin', 'registration_mode', 'create_invite', 'revoke_invite', 'delete_account', 'retention'];
const EXPIRIES = [3600, 86_400, 7 * 86_400, 30 * 86_400, 365 * 86_400];
const EXPIRY_DEFAULT = 7 * 86_400;
const MODES = ['open', 'invite', 'closed'];

// -- reports: every open report, resolved with an action --
export function reportsTab() {
  const list = pagedList({
    label: t('admin.tab.reports'),
    empty: 'admin.noReports',
    row: reportRow,
    load: async (before) => {
      const { reports = [], has_more: more = false } = await get('/reports', { state: 'open', before });
      return { items: reports, more, next: reports.at(-1)?.id };
    },
  });
  list.reload();
  // Live (user frames report_added / report_resolved, on the topic `queue` with the held ones):
  // new ones on top, resolved ones gone, wherever they were resolved.
  const off = on('queue', ({ type, report }) => {
    if (!report) return;
    const row = list.list.querySelector(`[data-report-id="${report.id}"]`);
    if (type === 'report_added') {
      row?.remove();
      list.list.prepend(reportRow(report));
      list.status.textContent = '';
    } else if (row && !row.querySelector('.admin-done')) {
      row.replaceChildren(h('p', { class: 'admin-done' }, t('admin.resolved')));
    }
  });
  return { el: h('div', { class: 'admin-pane' }, list.el), destroy: off };
}

function reportRow(report) {
  const message = report.message ?? {};
  const room = report.room ?? {};
  const action = h('select', { 'aria-label': t('admin.resolveWith') },
    RESOLUTIONS.map((name) => h('option', { value: name }, named('admin.resolution', name))));
  const info = h('div', { class: 'admin-text' },
    h('div', {}, tag(named('admin.reason', report.reason)), ' ', h('span', { class: 'muted' }, when(report.created_at))),
    h('div', {}, t('admin.reportedBy'), ' ', who(report.reporter)),
    h('blockquote', { class: 'admin-quote' }, h('div', {}, who(report.sender)),
      userText(message.text || report.snippet || '', 'p', { class: 'admin-excerpt' })),
    report.note ? userText(report.note, 'p', { class: 'muted admin-excerpt' }) : null,
    room.id ? h('a', { href: `#/room/${room.id}/${report.seq}` }, h('span', { 'aria-hidden': 'true' }, '# '), userText(room.name ?? '')) : null);
  const li = adminRow(info, [action, rowButton(t('admin.resolve'), async () => {
    await request('POST', `/reports/${report.id}/resolve`, { action: action.value });
    li.replaceChildren(h('p', { class: 'admin-done' }, t('admin.resolved')));
  })], { dataset: { reportId: report.id } });
  return li;
}

// -- the audit log: filters by actor, room and action; older pages with `before` --
export function auditTab() {
  const actor = h('input', { type: 'search', name: 'actor', autocomplete: 'off', placeholder: '@username' });
  const room = h('input', { type: 'search', name: 'room', autocomplete: 'off' });
  const action = h('select', { name: 'action' }, h('option', { value: '' }, t('admin.anyAction')),
    ACTIONS.map((name) => h('option', { value: name }, named('audit', name))));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const filters = { actor: null, room: null };
  const list = pagedList({
    label: t('admin.tab.audit'),
    empty: 'admin.noEntries',
    row: (entry) => auditRow(entry, filterBy),
    load: async (before) => {
      const { entries = [], has_more: more = false } = await get('/audit',
        { actor: filters.actor, room: filters.room, action: action.value, before });
      return { items: entries, more, next: entries.at(-1)?.id };
    },
  });
  /** Names typed in the filters become ids (an unknown name says so and lists nothing). */
  async function apply() {
    error.textContent = '';
    try {
      filters.actor = actor.value.trim() ? (await findUser(actor.value)).id : null;
      filters.room = room.value.trim() ? await findRoom(room.value) : null;
      await list.reload();
    } catch (err) {
      error.textContent = err.message;
    }
  }
  function filterBy(kind, value, label) {
    (kind === 'actor' ? actor : room).value = label;
    filters[kind] = value;
    list.reload();
  }
  const form = h('form', { class: 'admin-filters', role: 'search', on: { submit: (event) => { event.preventDefault(); apply(); } } },
    field(t('admin.actor'), actor), field(t('admin.room'), room), field(t('admin.action'), action),
    h('button', { type: 'submit', class: 'btn' }, t('admin.filter')));
  action.addEventListener('change', apply);
  list.reload();
  return { el: h('div', { class: 'admin-pane' }, form, error, list.el) };
}

async function findRoom(name) {
  const wanted = name.trim().replace(/^#/, '');
  const { rooms = [] } = await get('/admin/rooms', { q: wanted, limit: 50 });
  const found = rooms.find((candidate) => candidate.name?.toLowerCase() === wanted.toLowerCase()) ?? rooms[0];
  if (!found) throw new Error(t('admin.noSuchRoom', { name: wanted }));
  return found.id;
}

function auditRow(entry, filterBy) {
  const link = (kind, value, label, content) => h('button', { type: 'button', class: 'admin-link-btn', title: t('admin.filterBy'),
    on: { click: () => filterBy(kind, value, label) } }, content);
  const line = h('div', { class: 'admin-line' },
    h('time', { class: 'muted admin-when', datetime: new Date(entry.ts < 1e12 ? entry.ts * 1000 : entry.ts).toISOString() }, when(entry.ts)),
    entry.actor ? link('actor', entry.actor.id, entry.actor.username, who(entry.actor)) : who(null), ' ',
    tag(named('audit', entry.action), 'accent'),
    entry.target ? [' ', who(entry.target)] : null,
    entry.room ? [' ', link('room', entry.room.id, entry.room.name ?? '', [h('span', { 'aria-hidden': 'true' }, '#'), userText(entry.room.name ?? '')])] : null);
  return adminRow(h('div', { class: 'admin-text' }, line,
    entry.reason ? userText(entry.reason, 'p', { class: 'admin-excerpt' }) : null), [],
  { class: 'admin-row audit-row', dataset: { entryId: entry.id, action: entry.action } });
}

// -- registration: the mode, and invite codes (create with uses and expiry, copy the link, revoke) --
export function registrationTab() {
  const name = uid('mode');
  const status = h('p', { class: 'muted', role: 'status' });
  const modes = h('div', { class: 'choices', role: 'radiogroup', 'aria-label': t('admin.mode') },
    MODES.map((mode) => h('label', { class: 'choice' }, h('input', { type: 'radio', name, value: mode }),
      h('span', {}, h('strong', {}, t(`admin.mode.${mode}`)), h('span', { class: 'muted' }, t(`admin.mode.${mode}Hint`))))));
  modes.addEventListener('change', async (event) => {
    status.textContent = '';
    try {
      await request('PUT', '/admin/registration', { mode: event.target.value });
      status.textContent = t('admin.saved');
    } catch (err) {
      status.textContent = err.message;
    }
  });
  get('/admin/registration').then(({ mode }) => {
    const input = modes.querySelector(`input[value="${mode}"]`);
    if (input) input.checked = true;
  }, (err) => { status.textContent = err.message; });

  const uses = h('input', { type: 'number', name: 'uses', min: 1, max: 1000, value: 1, required: true });
  const expiry = h('select', { name: 'expires_in_s' }, EXPIRIES.map((s) => h('option', { value: s, selected: s === EXPIRY_DEFAULT }, named('admin.expiry', s))));
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const invites = h('ul', { class: 'admin-list', 'aria-label': t('admin.invites') });
  const create = h('form', { class: 'admin-filters', on: { submit: async (event) => {
    event.preventDefault();
    formError.textContent = '';
    try {
      const { invite } = await request('POST', '/admin/invites', { uses: Number(uses.value), expires_in_s: Number(expiry.value) });
      invites.prepend(inviteRow(invite));
    } catch (err) {
      formError.textContent = err.message;
    }
  } } }, field(t('admin.uses'), uses), field(t('admin.expires'), expiry),
  h('button', { type: 'submit', class: 'btn primary' }, t('admin.createInvite')));
  get('/admin/invites').then(({ invites: all = [] }) => invites.append(...all.map(inviteRow)),
    (err) => { formError.textContent = err.message; });
  return { el: h('div', { class: 'admin-pane' },
    h('fieldset', { class: 'choices' }, h('legend', {}, t('admin.mode')), modes, status),
    h('h3', { class: 'field-label' }, t('admin.invites')), create, formError, invites) };
}

/** The link a new user opens to register with this code (the sign-up form reads `?invite=`). */
export function inviteLink(code) {
  return `${location.origin}/?invite=${encodeURIComponent(code)}`;
}

function inviteRow(invite) {
  const link = inviteLink(invite.code);
  const copied = h('span', { class: 'admin-done', role: 'status' });
  const facts = [t('admin.used', { used: formatNumber(invite.used ?? 0), uses: formatNumber(invite.uses) }),
    invite.expires_at ? t('admin.expiresAt', { date: when(invite.expires_at) }) : t('admin.noExpiry')].join(' · ');
  const info = h('div', { class: 'admin-text' }, h('code', { class: 'admin-code' }, invite.code),
    h('input', { class: 'admin-link', readonly: true, value: link, 'aria-label': t('admin.inviteLink') }),
    h('span', { class: 'muted' }, facts), copied);
  const li = adminRow(info, [
    rowButton(t('admin.copyLink'), async () => {
      try {
        await navigator.clipboard.writeText(link);
      } catch {
        info.querySelector('.admin-link').select();
        document.execCommand('copy');
      }
      copied.textContent = t('admin.copied');
    }),
    rowButton(t('admin.revoke'), async () => {
      await request('DELETE', `/admin/invites/${encodeURIComponent(invite.code)}`);
      li.remove();
    }, 'danger-text'),
  ], { dataset: { code: invite.code } });
  return li;
}

// -- figures: the server's (GET /admin/stats) and the spam filter's (GET/PUT /admin/spam) --
export function figuresTab() {
  const server = h('div', {}, h('p', { class: 'muted' }, t('common.loading')));
  const spam = h('div', {}, h('p', { class: 'muted' }, t('common.loading')));
  get('/admin/stats').then((figures) => server.replaceChildren(figureList('admin.stat', figures)),
    (err) => server.replaceChildren(h('p', { class: 'form-error' }, err.message)));
  let list = null;
  const showSpam = () => spamFigures().then((figures) => {
    if (!figures) return spam.replaceChildren(h('p', { class: 'muted' }, t('admin.noSpamFigures')));
    const fresh = figureList('admin.spam', figures.flat);
    const shown = list;
    list = fresh;
    if (shown) return shown.replaceWith(fresh); // after a change: the form stays, with its "saved"
    return spam.replaceChildren(fresh, spamSettings(figures.thresholds, showSpam));
  }, (err) => spam.replaceChildren(h('p', { class: 'form-error' }, err.message)));
  showSpam();
  return { el: h('div', { class: 'admin-pane' }, h('h3', { class: 'field-label' }, t('admin.serverFigures')), server,
    h('h3', { class: 'field-label' }, t('admin.spamFigures')), spam) };
}

/** Figures as a definition list, each named by `prefix.key` (null ones left out: not known). */
function figureList(prefix, figures) {
  return h('dl', { class: 'admin-figures' }, Object.entries(figures).filter(([, value]) => value !== null).flatMap(([key, value]) => [
    h('dt', {}, named(prefix, key)), h('dd', { dataset: { figure: key } }, formatFigure(key, value))]));
}

function formatFigure(key, value) {
  if (typeof value === 'boolean') return t(value ? 'admin.yes' : 'admin.no');
  if (typeof value !== 'number') return String(value);
  if (key.endsWith('_at')) return when(value);
  if (key.endsWith('_s')) return t('admin.hours', { n: formatNumber(Math.round(value / 360) / 10) });
  return (value > 0 && value < 1) || /precision|recall|share|hold|reject/.test(key)
    ? `${formatNumber(Math.round(value * 1000) / 10)} %` : formatNumber(value);
}

/**
 * The spam filter's figures (GET /admin/spam, server admins): `flat` has nested objects flattened
 * one level ("decisions.held"), without the window (its strings say "last 24 h"); null when the
 * server has no such path (404).
 */
async function spamFigures() {
  let answer;
  try {
    answer = await get('/admin/spam');
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
  const flat = {};
  for (const [key, value] of Object.entries(answer ?? {})) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value)) if (typeof v !== 'object' && inner !== 'window_s') flat[`${key}.${inner}`] = v;
    } else if (!Array.isArray(value) && value !== null) {
      flat[key] = value;
    }
  }
  return { flat, thresholds: answer?.thresholds };
}

/** The thresholds form: in per cent, for every node; `saved()` shows the figures again. */
function spamSettings(thresholds, saved) {
  if (!thresholds) return h('span');
  const percent = (name, value) => h('input', { type: 'number', name, min: 1, max: 101, step: 0.1, required: true,
    value: Math.round(value * 1000) / 10 });
  const hold = percent('hold', thresholds.hold);
  const reject = percent('reject', thresholds.reject);
  const days = h('input', { type: 'number', name: 'new_account_days', min: 0, max: 365, step: 1, required: true,
    value: Math.round(thresholds.new_account_s / 86_400) });
  const status = h('p', { class: 'muted', role: 'status' });
  return h('form', { class: 'admin-filters spam-settings', on: { submit: async (event) => {
    event.preventDefault();
    status.textContent = '';
    try {
      await request('PUT', '/admin/spam', { hold: Number(hold.value) / 100, reject: Number(reject.value) / 100,
        new_account_s: Number(days.value) * 86_400 });
      status.textContent = t('admin.saved');
      saved();
    } catch (err) {
      status.textContent = err.message;
    }
  } } }, field(t('admin.spamHold'), hold), field(t('admin.spamReject'), reject), field(t('admin.spamNewDays'), days),
  h('button', { type: 'submit', class: 'btn primary' }, t('admin.spamSave')), status);
}
