// subscriber.js — everyone else's tracks on the "subscriber" connection: the server offers
// (`subscribe_offer`), we answer. After each offer the transceivers are matched to tracks by
// `mid`, and "track" / "track_removed" events say what appeared and what went away.

export class Subscriber {
  constructor(send, emit) {
    this.send = send;
    this.emit = emit;
    this.peer = null;
    this.byMid = new Map(); // mid → { info, track, receiver }
  }

  attach(peer) {
    this.peer = peer;
  }

  /** Forgets every remote track (before a rejoin, or on leave). */
  reset() {
    for (const entry of this.byMid.values()) this.emit("track_removed", entry.info);
    this.byMid.clear();
    this.peer = null;
  }

  async onOffer(m) {
    const peer = this.peer;
    if (!peer) return;
    await peer.setRemote({ type: "offer", sdp: m.sdp });
    await peer.pc.setLocalDescription(await peer.pc.createAnswer());
    this.send({ type: "subscribe_answer", sdp: peer.pc.localDescription.sdp });
    const next = new Map();
    for (const info of m.tracks) next.set(info.mid, info);
    const receiving = new Set(peer.pc.getTransceivers()
      .filter((t) => t.mid !== null && (t.currentDirection === "recvonly" || t.currentDirection === "sendrecv"))
      .map((t) => t.mid));
    for (const [mid, entry] of this.byMid) {
      const now = next.get(mid);
      // A mid missing from `tracks` whose media section still receives keeps its track (an
      // ICE-restart offer has been seen to leave a live track out of the list).
      const gone = now ? now.track_id !== entry.info.track_id : !receiving.has(mid);
      if (gone) {
        this.byMid.delete(mid);
        this.emit("track_removed", entry.info);
      }
    }
    for (const t of peer.pc.getTransceivers()) {
      const info = t.mid !== null ? next.get(t.mid) : undefined;
      if (!info || this.byMid.has(t.mid)) continue;
      const entry = { info, track: t.receiver.track, receiver: t.receiver };
      this.byMid.set(t.mid, entry);
      this.emit("track", entry);
    }
  }

  /** The server unpublished a track: forget it even if its media section lingers. */
  forget(trackId) {
    for (const [mid, entry] of this.byMid) {
      if (entry.info.track_id !== trackId) continue;
      this.byMid.delete(mid);
      this.emit("track_removed", entry.info);
    }
  }

  entries() {
    return [...this.byMid.values()];
  }
}
