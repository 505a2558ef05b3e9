// The WebSocket link: connects with the session cookie, reconnects with backoff, watches the
// browser's online/offline signal and its own heartbeat, and reports its status:
// 'connecting' (first attempt), 'connected' (after hello), 'reconnecting', 'offline'.

const HEARTBEAT_MS = 15_000;
const SILENCE_LIMIT_MS = 40_000;
const MAX_BACKOFF_MS = 10_000;
const CLOSE_REVOKED = 4001;
let active = null;

/** Sends a frame over the running connection; returns false when there is none or it is down. */
export function sendFrame(frame) {
  return active?.send(frame) ?? false;
}

export class Connection {
  /**
   * onFrame(frame) gets every server frame; onStatus(status) every change; onRevoked() a 4001 close;
   * resumeFrom() the `?resume=` cursors for the next connect ('' for none).
   */
  constructor({ onFrame, onStatus, onRevoked, resumeFrom = () => '' }) {
    Object.assign(this, { onFrame, onStatus, onRevoked, resumeFrom });
    this.socket = null;
    this.status = 'connecting';
    this.attempts = 0;
    this.timers = {};
    this.handleOnline = () => this.reconnectNow();
    this.handleOffline = () => this.drop('offline');
  }

  start() {
    active = this;
    this.stopped = false;
    window.addEventListener('online', this.handleOnline);
    window.addEventListener('offline', this.handleOffline);
    this.timers.heartbeat = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.open();
  }

  stop() {
    if (active === this) active = null;
    this.stopped = true;
    window.removeEventListener('online', this.handleOnline);
    window.removeEventListener('offline', this.handleOffline);
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.retry);
    this.discardSocket();
  }

  get ready() {
    return this.status === 'connected';
  }

  /** Sends a frame if connected; returns whether it went out. */
  send(frame) {
    if (!this.ready) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  open() {
    clearTimeout(this.timers.retry);
    if (!navigator.onLine) {
      this.setStatus('offline');
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    // Resuming in the URL, the server replays before it sends anything live: every event arrives
    // once and in order, and `hello` already names the resume point.
    const resume = this.resumeFrom();
    const query = resume ? `?resume=${encodeURIComponent(resume)}` : '';
    const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    this.socket = socket;
    this.resuming = Boolean(resume);
    this.lastFrameAt = Date.now();
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (event) => this.closed(event.code);
  }

  receive(data) {
    this.lastFrameAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === 'hello') {
      this.attempts = 0;
      this.setStatus('connected');
    }
    this.onFrame(frame);
  }

  closed(code) {
    this.socket = null;
    if (this.stopped) return;
    if (code === CLOSE_REVOKED) {
      this.stop();
      this.onRevoked();
      return;
    }
    this.scheduleReconnect();
  }

  /** Abandons the socket at once (a dead network never completes a close handshake). */
  drop(status) {
    this.discardSocket();
    if (this.stopped) return;
    if (status === 'offline') {
      clearTimeout(this.timers.retry);
      this.setStatus('offline');
    } else {
      this.scheduleReconnect();
    }
  }

  discardSocket() {
    if (!this.socket) return;
    const socket = this.socket;
    this.socket = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.close();
  }

  scheduleReconnect() {
    if (!navigator.onLine) {
      this.setStatus('offline');
      return;
    }
    this.setStatus(this.status === 'connecting' && this.attempts === 0 ? 'connecting' : 'reconnecting');
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts += 1;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.open(), delay);
  }

  reconnectNow() {
    if (this.stopped || this.ready) return;
    this.discardSocket();
    this.attempts = 0;
    this.setStatus('reconnecting');
    this.open();
  }

  heartbeat() {
    if (!this.ready) return;
    if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) this.drop('silent');
    else this.send({ type: 'ping' });
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
