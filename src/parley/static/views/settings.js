// Settings: my display name, status and picture (when the server takes uploads), my password, the
// language and the theme. Loaded on first use. Names and status reach others live (user_updated).
import { api } from '../api.js';
import { changePassword, updateProfile } from '../actions.js';
import { h, stylesheet } from '../dom.js';
import { LANGUAGES, language, loadStrings, t } from '../i18n.js';
import { setTheme, theme, THEMES } from '../prefs.js';
import { emit, store, updateUser } from '../state.js';
import { avatar } from './avatar.js';
import { describeError, field, openDialog, uid } from './ui.js';

await Promise.all([loadStrings('later'), stylesheet('/static/later.css')]); // strings and styles of the parts loaded on first use

const STATUS_MAX = 100;
const AVATAR_PATH = '/api/v1/me/avatar';
let features = null;

/**
 * What this server's profile takes, read from its OpenAPI document: a picture (`PUT
 * /api/v1/me/avatar`, branch uploads) and a status (`status` in PATCH /me's body, branch actions).
 */
function profileFeatures() {
  features ??= fetch('/api/openapi.json', { credentials: 'same-origin' })
    .then((response) => (response.ok ? response.json() : {}))
    .then((doc) => ({
      avatar: Boolean(doc?.paths?.[AVATAR_PATH]?.put),
      status: Boolean(doc?.components?.schemas?.ProfileBody?.properties?.status),
    }))
    .catch(() => ({ avatar: false, status: false }));
  return features;
}

/**
 * Hook for the avatar upload (branch `uploads` owns the endpoint): sends the image as multipart
 * field `file` and takes the updated user back.
 */
async function uploadAvatar(file) {
  const body = new FormData();
  body.append('file', file);
  const response = await fetch(AVATAR_PATH, { method: 'PUT', body, credentials: 'same-origin',
    headers: { 'X-Requested-With': 'parley', Accept: 'application/json' } });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(data?.error?.message ?? response.statusText);
    Object.assign(error, { status: response.status, code: data?.error?.code ?? 'unavailable' });
    throw error;
  }
  const user = data?.user ?? data;
  if (user?.id === store.me.id) updateUser(user);
}

function radios(name, options, chosen, className = 'choices') {
  return h('div', { class: className, role: 'radiogroup' }, options.map(([value, label]) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name, value, checked: value === chosen }), h('span', {}, label))));
}

function section(title, ...content) {
  const id = uid('settings');
  return h('section', { class: 'settings-section', 'aria-labelledby': id }, h('h3', { id, class: 'field-label' }, title), ...content);
}

/** Opens the settings dialog. */
export function openSettings() {
  const me = store.me;
  const name = h('input', { name: 'display_name', maxlength: 64, value: me.display_name ?? '', autocomplete: 'nickname' });
  const status = h('input', { name: 'status', maxlength: STATUS_MAX, value: me.status ?? '', autocomplete: 'off' });
  const current = h('input', { name: 'current_password', type: 'password', autocomplete: 'current-password' });
  const next = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', minlength: 8 });
  const langName = uid('language');
  const themeName = uid('theme');
  const languages = radios(langName, LANGUAGES.map((lang) => [lang.code, lang.name]), language(), 'theme-choices');
  const themes = radios(themeName, THEMES.map((value) => [value, t(`settings.theme.${value}`)]), theme(), 'theme-choices');
  for (const input of languages.querySelectorAll('input')) input.lang = input.value;

  // The picture: shown always; changing it only where the server takes uploads.
  const preview = h('span', {}, avatar(me, 56));
  const file = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif', name: 'avatar' });
  const avatarError = h('p', { class: 'avatar-error', role: 'alert' });
  const avatarField = field(t('settings.avatar'), file, t('settings.avatarHint'));
  const statusField = field(t('settings.status'), status, t('settings.statusHint'));
  avatarField.hidden = true;
  statusField.hidden = true;
  profileFeatures().then((can) => {
    avatarField.hidden = !can.avatar;
    statusField.hidden = !can.status;
  });
  file.addEventListener('change', async () => {
    if (!file.files?.[0]) return;
    avatarError.textContent = '';
    try {
      await uploadAvatar(file.files[0]);
      preview.replaceChildren(avatar(store.me, 56));
    } catch (err) {
      avatarError.textContent = err.message && [413, 415, 422].includes(err.status) ? err.message : describeError(err);
    }
  });

  // Privacy (export, delete my account, my reports) loads with its strings on first use.
  const privacy = h('div', { class: 'settings-section', 'aria-busy': 'true' });
  import('./privacy.js').then(({ privacySection }) => privacy.replaceWith(privacySection()));
  // Bots I own (issue 12), with their tokens, webhooks and delivery log: on first use too.
  const bots = h('div', { class: 'settings-section', 'aria-busy': 'true' });
  import('./bots.js').then(({ botsSection }) => bots.replaceWith(botsSection()));

  const dialog = openDialog({
    title: t('settings.title'),
    submitLabel: t('common.save'),
    body: [
      section(t('settings.profile'),
        h('div', { class: 'settings-avatar' }, preview, h('div', { class: 'settings-fields' },
          field(t('profile.displayName'), name), statusField)),
        avatarField, avatarError),
      h('fieldset', { class: 'choices' }, h('legend', {}, t('profile.password')),
        h('div', { class: 'settings-pair' }, field(t('profile.currentPassword'), current), field(t('profile.newPassword'), next)),
        h('p', { class: 'field-hint' }, t('profile.passwordHint'))),
      section(t('settings.appearance'),
        h('fieldset', { class: 'choices' }, h('legend', {}, t('settings.language')), languages),
        h('fieldset', { class: 'choices' }, h('legend', {}, t('settings.theme')), themes)),
      privacy,
      bots,
    ],
    describe: (err) => ([403, 409, 422].includes(err?.status) && err.message ? err.message : describeError(err)),
    onSubmit: async () => {
      // The display name goes with every change: servers before `status` require it in the body.
      const nameChanged = name.value.trim() !== (store.me.display_name ?? '');
      const statusChanged = !statusField.hidden && status.value.trim() !== (store.me.status ?? '');
      if (nameChanged || statusChanged) {
        await updateProfile({ display_name: name.value.trim(), ...(statusChanged ? { status: status.value.trim() } : {}) });
      }
      if (next.value) {
        await changePassword(current.value, next.value);
        current.value = '';
        next.value = '';
      }
      setTheme(themes.querySelector('input:checked')?.value ?? 'system');
      const lang = languages.querySelector('input:checked')?.value;
      if (lang && lang !== language()) setTimeout(() => emit('language', lang));
    },
  });
  dialog.classList.add('settings-dialog');
  return dialog;
}
