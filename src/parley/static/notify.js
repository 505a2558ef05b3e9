// Desktop notifications: which messages deserve one (those mentioning me, and direct messages),
// shown only while the tab is hidden.
import { t } from './i18n.js';
import { personLabel, roomLabel } from './people.js';
import { wantsNotification } from './prefs.js';
import { attachmentSummary } from './views/media.js';

export function notificationsAvailable() {
  return 'Notification' in window && window.isSecureContext;
}

export function notificationPermission() {
  return notificationsAvailable() ? Notification.permission : 'denied';
}

export async function requestNotifications() {
  if (notificationsAvailable()) await Notification.requestPermission();
  return notificationPermission();
}

/**
 * A new message from someone else, in a room I am not looking at. The room's setting (prefs.js:
 * all / mentions / none, mute) decides; by default direct messages and mentions notify. A reply
 * in a thread I take part in counts as a mention (issue 10, `threadReply`).
 */
export function notifyMessage(room, event, mentioned, threadReply = false) {
  if (!wantsNotification(room, mentioned)) return;
  const names = { user: personLabel(event.sender), room: roomLabel(room) };
  const key = threadReply ? 'notify.thread' : mentioned ? 'notify.mention' : 'notify.message';
  const title = room.kind === 'direct' ? names.user : t(key, names);
  notify(title, event.text || attachmentSummary(event), room.id);
}

/** Shows a notification (plain text only) that opens the room when clicked. */
function notify(title, body, roomId) {
  if (!document.hidden || notificationPermission() !== 'granted') return;
  const text = body.length > 140 ? `${body.slice(0, 139)}…` : body;
  const notification = new Notification(title, { body: text, tag: `parley-room-${roomId}` });
  notification.onclick = () => {
    window.focus();
    location.hash = `#/room/${roomId}`;
    notification.close();
  };
}
