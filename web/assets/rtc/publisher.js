// publisher.js — our own tracks on the "publisher" connection: the client always offers
// (`publish_offer` → `publish_answer`), one negotiation at a time. Tracks are kept by source
// ("microphone", "camera", "screen") so that after a reconnect they are published again,
// with their mute state, on the new connection.

const ANSWER_TIMEOUT_MS = 15000;

export class Publisher {
  constructor(send) {
    this.send = send;
    this.peer = null;
    this.sources = new Map(); // source → { track, transceiver, trackId, muted, live }
    this.chain = Promise.resolve();
    this.waiting = null; // { resolve, reject } of the offer in flight
  }

  /** Uses a new peer connection (first join or rejoin) and publishes every kept track on it. */
  attach(peer) {
    this.peer = peer;
    this.waiting?.reject(new Error("connection replaced"));
    this.waiting = null;
    for (const entry of this.sources.values()) {
      entry.transceiver = null;
      entry.trackId = null;
      entry.live = false;
      if (entry.track) entry.transceiver = peer.pc.addTransceiver(entry.track, { direction: "sendonly" });
    }
    if (this.sources.size) return this.negotiate();
    return Promise.resolve();
  }

  detach() {
    this.peer = null;
    this.waiting?.reject(new Error("connection closed"));
    this.waiting = null;
  }

  trackId(source) {
    return this.sources.get(source)?.trackId ?? null;
  }

  track(source) {
    return this.sources.get(source)?.track ?? null;
  }

  async add(source, track, { muted = false } = {}) {
    if (this.sources.has(source)) return this.replace(source, track);
    track.enabled = !muted;
    const entry = { track, transceiver: null, trackId: null, muted, live: false };
    this.sources.set(source, entry);
    if (!this.peer) return undefined;
    entry.transceiver = this.peer.pc.addTransceiver(track, { direction: "sendonly" });
    return this.negotiate();
  }

  /** Swaps the device behind a source without renegotiating. */
  async replace(source, track) {
    const entry = this.sources.get(source);
    if (!entry) return;
    const old = entry.track;
    track.enabled = !entry.muted;
    entry.track = track;
    if (entry.transceiver) await entry.transceiver.sender.replaceTrack(track);
    if (old && old !== track) old.stop();
  }

  async remove(source) {
    const entry = this.sources.get(source);
    if (!entry) return undefined;
    this.sources.delete(source);
    entry.track?.stop();
    if (entry.trackId !== null) this.send({ type: "unpublish", track: entry.trackId });
    if (!entry.transceiver || !this.peer) return undefined;
    this.peer.pc.removeTrack(entry.transceiver.sender);
    return this.negotiate();
  }

  setMuted(source, muted) {
    const entry = this.sources.get(source);
    if (!entry) return;
    entry.muted = muted;
    if (entry.track) entry.track.enabled = !muted;
    // Before the server announces the track (its media has not arrived yet) a mute would be
    // refused; onPublished() sends it then.
    if (entry.live) this.send({ type: "mute", track: entry.trackId, muted });
  }

  /** The server announced one of our tracks: bring its mute state in line with ours. */
  onPublished(info) {
    for (const entry of this.sources.values()) {
      if (entry.trackId !== info.id) continue;
      entry.live = true;
      if (entry.muted !== info.muted) this.send({ type: "mute", track: info.id, muted: entry.muted });
    }
  }

  /** Queues one offer/answer round (optionally restarting ICE). */
  negotiate(options = {}) {
    const run = () => this.offerOnce(options);
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  async offerOnce({ iceRestart = false } = {}) {
    const peer = this.peer;
    if (!peer) return;
    const offer = await peer.pc.createOffer({ iceRestart });
    await peer.pc.setLocalDescription(offer);
    const tracks = [];
    for (const [source, entry] of this.sources) {
      if (entry.transceiver && entry.transceiver.mid !== null) tracks.push({ mid: entry.transceiver.mid, source });
    }
    const answered = new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      setTimeout(() => reject(new Error("the server did not answer our offer")), ANSWER_TIMEOUT_MS);
    });
    this.send({ type: "publish_offer", sdp: peer.pc.localDescription.sdp, tracks });
    await answered.catch(() => {});
  }

  async onAnswer(m) {
    if (!this.peer) return;
    for (const entry of this.sources.values()) {
      const hit = m.tracks.find((t) => entry.transceiver && t.mid === entry.transceiver.mid);
      if (!hit) continue;
      if (entry.trackId !== hit.track_id) entry.live = false;
      entry.trackId = hit.track_id;
    }
    try {
      await this.peer.setRemote({ type: "answer", sdp: m.sdp });
    } finally {
      const w = this.waiting;
      this.waiting = null;
      w?.resolve();
    }
  }

  /** Stops every local track (on leave). */
  stopAll() {
    for (const entry of this.sources.values()) entry.track?.stop();
    this.sources.clear();
  }
}
