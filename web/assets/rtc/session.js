// session.js — a room session over the signalling socket `/rtc` (docs/signalling.md):
// join with a token, a publisher and a subscriber peer connection, trickle ICE, mute, pause,
// chat, hand, reactions, and recovery on its own:
//   * ICE trouble (a connection "failed", or "disconnected" for 4 s, or the browser going
//     back online) sends `ice_restart` and a new publish offer with `iceRestart: true`;
//     if the media is not connected again within 12 s the session rejoins.
//   * a closed socket (or no `pong` to a ping within 8 s) rejoins on a new socket with the
//     same token, with back-off (1, 2, 4 … 10 s). The server replaces the old session, so
//     nobody sees a ghost. Local tracks are published again with their mute state.
//   * a rejoin refused for good (expired link, room full) ends the session: "closed".
// Events: "state" (connecting|joined|reconnecting|closed), "joined" (the server's message),
// "reset" (before a rejoin's "joined"), "track" / "track_removed" (remote media), every
// server message by its type ("participant_joined", "chat", "transcript", …), "error"
// (a refused message while in the room) and "closed" ({code, message}).

import { Emitter } from "./emitter.js";
import { Peer } from "./peer.js";
import { Publisher } from "./publisher.js";
import { Subscriber } from "./subscriber.js";

/** A join that failed: `code` is the server's (invalid_token, room_full …) or "unreachable". */
export class JoinError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "JoinError";
    this.code = code;
  }
}

const FATAL_CODES = new Set(["invalid_token", "room_full", "replaced"]);
const PING_EVERY_MS = 10000;
const PONG_WITHIN_MS = 8000;
const ICE_RESTART_GRACE_MS = 12000;
const MAX_REJOIN_ATTEMPTS = 30;

export class RoomSession extends Emitter {
  constructor({ token, url, name } = {}) {
    super();
    this.token = token;
    this.name = name || null; // a guest's chosen display name (see docs/signalling.md, join)
    this.url = url || `${location.origin.replace(/^http/, "ws")}/rtc`;
    this.state = "idle";
    this.ws = null;
    this.generation = 0;
    this.participantId = null;
    this.participants = new Map(); // id → participant info
    this.publisher = new Publisher((m) => this.send(m));
    this.subscriber = new Subscriber((m) => this.send(m), (t, v) => this.emit(t, v));
    this.pubPeer = null;
    this.subPeer = null;
    this.attempts = 0;
    this.timers = {};
    this.rejoins = 0;
    this.onOnline = () => this.restartIce("online");
    window.addEventListener("online", this.onOnline);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** First join: resolves with the `joined` message or rejects with a JoinError. */
  join() {
    this.setState("connecting");
    return new Promise((resolve, reject) => {
      this.pendingJoin = { resolve, reject };
      this.openSocket();
    });
  }

  openSocket() {
    const gen = ++this.generation;
    const old = this.ws;
    if (old && old.readyState <= WebSocket.OPEN) { old.onmessage = null; old.onclose = null; old.close(); }
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.socketClosed(gen, null);
      return;
    }
    this.ws = ws;
    this.joinError = null;
    let chain = Promise.resolve();
    ws.onopen = () => this.send(this.name ? { type: "join", token: this.token, name: this.name } : { type: "join", token: this.token });
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      chain = chain.then(() => (gen === this.generation ? this.handle(m) : null))
        .catch((err) => this.emit("error", { code: "client", message: `Connection problem: ${err.message}` }));
    };
    ws.onclose = () => this.socketClosed(gen, ws);
  }

  socketClosed(gen, ws) {
    if (gen !== this.generation || this.state === "closed") return;
    if (ws) { ws.onmessage = null; ws.onclose = null; }
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    const err = this.joinError;
    if (err && FATAL_CODES.has(err.code)) return this.finish(err.code, err.message);
    if (this.pendingJoin && this.participantId === null) {
      // Never joined: report instead of retrying, so the page can say what is wrong.
      const p = this.pendingJoin;
      this.pendingJoin = null;
      this.setState("closed");
      p.reject(err ? new JoinError(err.code, err.message)
        : new JoinError("unreachable", "Cannot connect to the video server."));
      return undefined;
    }
    return this.scheduleRejoin();
  }

  scheduleRejoin() {
    this.teardownMedia();
    this.setState("reconnecting");
    this.attempts += 1;
    if (this.attempts > MAX_REJOIN_ATTEMPTS) {
      return this.finish("unreachable", "The connection to the video server was lost and could not be restored.");
    }
    const delay = Math.min(10000, 1000 * 2 ** Math.min(this.attempts - 1, 4));
    this.emit("reconnecting", { attempt: this.attempts, delay });
    clearTimeout(this.timers.rejoin);
    this.timers.rejoin = setTimeout(() => this.openSocket(), this.attempts === 1 ? 300 : delay);
    return undefined;
  }

  /** Forces a rejoin on a new socket (also a test hook for the reconnect path). */
  rejoin() {
    if (this.state === "closed") return;
    const ws = this.ws;
    this.generation += 1; // ignore the old socket from now on
    if (ws) { ws.onmessage = null; ws.onclose = null; ws.close(); }
    this.scheduleRejoin();
  }

  teardownMedia() {
    clearTimeout(this.timers.iceGrace);
    this.publisher.detach();
    this.subscriber.reset();
    this.pubPeer?.close();
    this.subPeer?.close();
    this.pubPeer = null;
    this.subPeer = null;
  }

  finish(code, message) {
    if (this.state === "closed") return;
    this.generation += 1;
    this.teardownMedia();
    this.setState("closed");
    for (const t of Object.values(this.timers)) { clearTimeout(t); clearInterval(t); }
    window.removeEventListener("online", this.onOnline);
    if (this.ws) { this.ws.onclose = null; this.ws.onmessage = null; this.ws.close(); }
    if (this.pendingJoin) {
      this.pendingJoin.reject(new JoinError(code, message));
      this.pendingJoin = null;
    }
    this.emit("closed", { code, message });
  }

  async handle(m) {
    switch (m.type) {
      case "joined": return this.onJoined(m);
      case "publish_answer": return this.publisher.onAnswer(m);
      case "subscribe_offer":
        this.emit("subscribe_offer", { tracks: m.tracks });
        return this.subscriber.onOffer(m);
      case "candidate": {
        const peer = m.target === "publisher" ? this.pubPeer : this.subPeer;
        return peer?.addRemoteCandidate(m);
      }
      case "pong":
        clearTimeout(this.timers.pong);
        return undefined;
      case "track_published":
        if (m.track.owner === this.participantId) this.publisher.onPublished(m.track);
        break;
      case "track_unpublished":
        this.subscriber.forget(m.track_id);
        break;
      case "participant_joined":
        this.participants.set(m.participant.id, m.participant);
        break;
      case "participant_left":
        this.participants.delete(m.participant_id);
        break;
      case "hand": {
        const p = this.participants.get(m.participant_id);
        if (p) p.hand_raised = m.raised;
        break;
      }
      case "error":
        if (this.participantId === null || FATAL_CODES.has(m.code)) {
          this.joinError = { code: m.code, message: m.message };
          return undefined;
        }
        this.emit("error", { code: m.code, message: m.message });
        return undefined;
      case "bye":
        this.joinError = { code: m.reason === "replaced" ? "replaced" : "bye", message: m.reason };
        if (m.reason !== "replaced") this.finish("bye", m.reason);
        return undefined;
      default:
        break;
    }
    this.emit(m.type, m);
    return undefined;
  }

  async onJoined(m) {
    const rejoined = this.participantId !== null;
    this.attempts = 0;
    this.participantId = m.participant_id;
    this.participants = new Map(m.participants.map((p) => [p.id, p]));
    this.iceServers = m.ice_servers;
    if (rejoined) { this.rejoins += 1; this.emit("reset", m); }
    this.pubPeer = new Peer("publisher", m.ice_servers, (x) => this.send(x), () => this.restartIce("publisher"));
    this.subPeer = new Peer("subscriber", m.ice_servers, (x) => this.send(x), () => this.restartIce("subscriber"));
    this.subscriber.attach(this.subPeer);
    this.setState("joined");
    this.startHeartbeat();
    this.emit("joined", m);
    if (this.pendingJoin) { this.pendingJoin.resolve(m); this.pendingJoin = null; }
    // Not awaited: the publish answer arrives through this same message queue.
    this.publisher.attach(this.pubPeer);
  }

  startHeartbeat() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      this.send({ type: "ping" });
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.rejoin(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  /** After a network change: fresh ICE on both connections, or a rejoin if that fails. */
  restartIce(why) {
    if (this.state !== "joined" || !this.pubPeer) {
      if (why === "online" && this.state === "reconnecting") {
        clearTimeout(this.timers.rejoin);
        this.openSocket();
      }
      return;
    }
    if (this.timers.iceGrace) return; // one restart at a time
    this.emit("ice_restarting", { why });
    this.send({ type: "ice_restart" });
    this.publisher.negotiate({ iceRestart: true });
    this.timers.iceGrace = setTimeout(() => {
      this.timers.iceGrace = null;
      const healthy = this.pubPeer?.connected && (this.subPeer?.connected || !this.subscriber.entries().length);
      if (!healthy && this.state === "joined") this.rejoin();
    }, ICE_RESTART_GRACE_MS);
  }

  // ---- what the page calls ----
  publish(source, track, options) { return this.publisher.add(source, track, options); }
  unpublish(source) { return this.publisher.remove(source); }
  replaceTrack(source, track) { return this.publisher.replace(source, track); }
  setMuted(source, muted) { this.publisher.setMuted(source, muted); }
  pause(trackId, paused) { this.send({ type: "pause", track: trackId, paused }); }
  keyframe(trackId) { this.send({ type: "keyframe", track: trackId }); }
  chat(text) { this.send({ type: "chat", text }); }
  hand(raised) { this.send({ type: "hand", raised }); }
  reaction(emoji) { this.send({ type: "reaction", emoji }); }

  leave() {
    this.send({ type: "leave" });
    this.publisher.stopAll();
    this.finish("left", "You left the call.");
  }

  /** Receive-side statistics of the subscriber connection (for tests and diagnostics). */
  async receiveStats() {
    const out = { framesDecoded: 0, audioEnergy: 0, packetsLost: 0, packetsReceived: 0 };
    if (!this.subPeer) return out;
    (await this.subPeer.pc.getStats()).forEach((r) => {
      if (r.type !== "inbound-rtp") return;
      if (r.kind === "video") out.framesDecoded += r.framesDecoded || 0;
      if (r.kind === "audio") out.audioEnergy += r.totalAudioEnergy || 0;
      out.packetsLost += r.packetsLost || 0;
      out.packetsReceived += r.packetsReceived || 0;
    });
    return out;
  }

  connectionStates() {
    return { publisher: this.pubPeer?.pc.connectionState, subscriber: this.subPeer?.pc.connectionState };
  }
}
