// Avatars: the person's picture (`avatar_url`) when they have one, else their initials on a colour
// picked from their id, so the same person has the same colour everywhere. The palette keeps white
// initials readable (contrast 4.5:1 or more) on both themes.
import { h } from '../dom.js';
import { currentUser, displayName } from '../state.js';

const PALETTE_SIZE = 12;

/** Up to two letters: the first of the first two words, or the first character of a CJK name. */
export function initials(name) {
  const words = String(name ?? '').trim().split(/[\s._-]+/u).filter(Boolean);
  const letters = words.slice(0, 2).map((word) => [...word][0]);
  return (letters.join('') || '?').toLocaleUpperCase();
}

/** Which palette colour a user id gets (stable, spread over the palette). */
export function avatarColour(id) {
  let x = Number(id) || 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x ^= x >>> 16;
  return Math.abs(x) % PALETTE_SIZE;
}

/** Only pictures from this server or http(s) addresses (the CSP allows this server's only). */
function safeImage(url) {
  if (typeof url !== 'string' || !url) return null;
  try {
    const parsed = new URL(url, location.origin);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * A round avatar of `size` px for `user` ({id, username, display_name, avatar_url?}). Decorative
 * (aria-hidden): it is always shown beside the person's name. `label` makes it an image instead.
 */
export function avatar(user, size = 32, { label = null } = {}) {
  // The freshest copy wins, but a copy that never heard of pictures does not hide one.
  const snapshot = user ?? {};
  user = { avatar_url: snapshot.avatar_url, ...currentUser(snapshot) };
  if (user.avatar_url === undefined) user.avatar_url = snapshot.avatar_url;
  const name = displayName(user);
  const props = label ? { role: 'img', 'aria-label': label } : { 'aria-hidden': 'true' };
  const el = h('span', { ...props, class: `avatar avatar-c${avatarColour(user.id)}`, dataset: { userId: user.id ?? '' } });
  el.style.setProperty('--avatar-size', `${size}px`);
  const showInitials = () => el.replaceChildren(h('span', { class: 'avatar-initials', 'data-user': true }, initials(name)));
  const src = safeImage(user.avatar_url);
  if (src) {
    const img = h('img', { src, alt: '', loading: 'lazy', decoding: 'async', width: size, height: size });
    img.addEventListener('error', showInitials, { once: true });
    el.classList.add('has-image');
    el.append(img);
  } else {
    showInitials();
  }
  return el;
}

/** Opens a person's profile card (the card's module loads on first use). */
export async function showProfile(user, roomId = null) {
  const { openProfileCard } = await import('./profile.js');
  return openProfileCard(user, roomId);
}

/** A button around `content` (an avatar, a name) that opens `user`'s profile card. */
export function profileButton(user, roomId, content, className = 'person-btn') {
  const button = h('button', { type: 'button', class: className }, content);
  button.addEventListener('click', () => showProfile(user, roomId));
  return button;
}
