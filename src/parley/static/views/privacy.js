// Settings › Privacy: download my data (a zip), delete my account (after my password), and the
// reports I made with their state. Loaded with its strings when the settings dialog opens.
import { request } from '../api.js';
import { h, userText } from '../dom.js';
import { t } from '../i18n.js';
import { emit } from '../state.js';
import { adminAssets, named, when } from './adminkit.js';
import { field, openDialog, uid } from './ui.js';

await adminAssets(); // its strings and styles

const EXPORT_PATH = '/api/v1/me/export';

/** The privacy section of the settings dialog. */
export function privacySection() {
  const id = uid('privacy');
  const reports = h('div', { class: 'settings-section' });
  myReports(reports);
  return h('section', { class: 'settings-section privacy', 'aria-labelledby': id },
    h('h3', { id, class: 'field-label' }, t('privacy.title')),
    h('p', { class: 'field-hint' }, t('privacy.exportHint')),
    h('div', { class: 'privacy-actions' },
      h('a', { class: 'btn', href: EXPORT_PATH, download: '' }, t('privacy.export')),
      h('button', { type: 'button', class: 'btn danger-text', on: { click: deleteDialog } }, t('privacy.delete'))),
    reports);
}

/** Deleting my account: what happens to my messages and files, then my password to confirm. */
async function deleteDialog() {
  const password = h('input', { type: 'password', name: 'password', required: true, autocomplete: 'current-password' });
  const policy = h('p', { class: 'muted' }, t('privacy.deleteMessages'));
  request('GET', '/server').then((server) => {
    const keep = server?.deleted_account_messages;
    if (keep === 'keep' || keep === 'erase') policy.textContent = t(`privacy.deleteMessages.${keep}`);
  }, () => {});
  const dialog = openDialog({
    title: t('privacy.deleteTitle'),
    submitLabel: t('privacy.deleteConfirm'),
    danger: true,
    body: [h('p', {}, t('privacy.deleteHint')), policy, h('p', { class: 'muted' }, t('privacy.deleteFiles')),
      field(t('profile.currentPassword'), password)],
    describe: (err) => (err.status === 403 || err.status === 401 ? t('privacy.wrongPassword') : err.message || t('error.unknown')),
    onSubmit: async () => {
      await request('DELETE', '/me', { password: password.value });
      // The account is gone with its sessions: back to the sign-in screen.
      setTimeout(() => emit('signed-out'));
    },
  });
  password.focus();
  return dialog;
}

/** The reports I made, newest first, with their state; nothing when I made none. */
async function myReports(into) {
  let reports = [];
  try {
    ({ reports = [] } = await request('GET', '/me/reports'));
  } catch {
    return;
  }
  if (!reports.length) return;
  const id = uid('my-reports');
  into.append(h('h4', { id, class: 'field-label' }, t('privacy.myReports')),
    h('ul', { class: 'my-reports', 'aria-labelledby': id }, reports.map((report) => h('li', { dataset: { reportId: report.id } },
      h('span', { class: `admin-tag${report.state === 'open' ? '' : ' accent'}` }, named('privacy.state', report.state)),
      report.action ? h('span', { class: 'muted' }, named('admin.resolution', report.action)) : null,
      userText(report.snippet ?? '', 'span', { class: 'admin-excerpt' }),
      h('span', { class: 'muted' }, when(report.created_at))))));
}
