// The REST API (/api/v1). The browser authenticates with the HttpOnly session cookie; every call
// carries X-Requested-With, which the server requires on cookie-authenticated writes.

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** Called when a request outside /auth is refused with 401: the session has ended. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function request(method, path, body) {
  const headers = { 'X-Requested-With': 'parley', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'network error');
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  if (response.status === 401 && !path.startsWith('/auth/')) onUnauthorized();
  const error = data?.error ?? {};
  throw new ApiError(response.status, error.code ?? 'unavailable', error.message ?? response.statusText);
}

function query(params) {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== null);
  return pairs.length ? `?${new URLSearchParams(pairs)}` : '';
}

export const api = {
  me: () => request('GET', '/me'),
  updateMe: (changes) => request('PATCH', '/me', changes),
  changePassword: (current, next) => request('POST', '/me/password', { current_password: current, new_password: next }),
  register: (username, password, displayName, invite) => request('POST', '/auth/register',
    { username, password, ...(displayName ? { display_name: displayName } : {}), ...(invite ? { invite } : {}) }),
  login: (username, password) => request('POST', '/auth/login', { username, password }),
  logout: () => request('POST', '/auth/logout'),
  searchUsers: (q, limit = 8) => request('GET', `/users${query({ q, limit })}`),
  rooms: () => request('GET', '/rooms'),
  publicRooms: (q) => request('GET', `/rooms/public${query({ q: q || undefined })}`),
  room: (id) => request('GET', `/rooms/${id}`),
  createRoom: (name, topic, visibility) => request('POST', '/rooms', { name, topic, visibility }),
  updateRoom: (id, changes) => request('PATCH', `/rooms/${id}`, changes),
  join: (id) => request('POST', `/rooms/${id}/join`),
  leave: (id) => request('POST', `/rooms/${id}/leave`),
  invite: (id, usernames) => request('POST', `/rooms/${id}/invite`, { usernames }),
  members: (id) => request('GET', `/rooms/${id}/members`),
  setRole: (id, userId, role) => request('PATCH', `/rooms/${id}/members/${userId}`, { role }),
  messages: (id, { before, after, around, limit = 50 } = {}) =>
    request('GET', `/rooms/${id}/messages${query({ before, after, around, limit })}`),
  // Search: message search (GET /search); params: q, room, from, has, before, after, limit
  search: (params) => request('GET', `/search${query(params)}`),
  markRead: (id, seq) => request('POST', `/rooms/${id}/read`, { seq }),
  direct: (usernames) => request('POST', '/direct', { usernames }),
  // uploads (issue 9): the room's files, newest first; sending a file is views/uploads.js (XHR, for progress)
  uploads: (id, { before, limit = 30 } = {}) => request('GET', `/rooms/${id}/uploads${query({ before, limit })}`),
  // -- message actions --
  editMessage: (id, seq, text) => request('PATCH', `/rooms/${id}/messages/${seq}`, { text }),
  deleteMessage: (id, seq) => request('DELETE', `/rooms/${id}/messages/${seq}`),
  versions: (id, seq) => request('GET', `/rooms/${id}/messages/${seq}/versions`),
  react: (id, seq, emoji, on) => request(on ? 'PUT' : 'DELETE', `/rooms/${id}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`),
  pin: (id, seq, on) => request(on ? 'PUT' : 'DELETE', `/rooms/${id}/pins/${seq}`),
  pins: (id) => request('GET', `/rooms/${id}/pins`),
  call: request, // Moderation: views/modtools.js
  thread: (id, root, after) => request('GET', `/rooms/${id}/threads/${root}${query({ after, limit: 100 })}`),
};
