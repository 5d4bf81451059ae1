// peer.js — one RTCPeerConnection with the server ("publisher" or "subscriber"): trickles
// our ICE candidates to the server, buffers the server's candidates until the remote
// description is set, and reports ICE trouble to its owner (docs/signalling.md §5).

export class Peer {
  constructor(target, iceServers, send, onTrouble) {
    this.target = target;
    this.pc = new RTCPeerConnection({ iceServers });
    this.pendingCandidates = [];
    this.disconnectTimer = null;
    this.pc.onicecandidate = (e) => {
      if (!e.candidate || !e.candidate.candidate) return;
      send({
        type: "candidate", target, candidate: e.candidate.candidate,
        sdp_mid: e.candidate.sdpMid, sdp_m_line_index: e.candidate.sdpMLineIndex,
      });
    };
    this.pc.onconnectionstatechange = () => {
      const state = this.pc.connectionState;
      clearTimeout(this.disconnectTimer);
      if (state === "failed") onTrouble(target, state);
      // "disconnected" often heals by itself; give it a few seconds before restarting ICE.
      if (state === "disconnected") {
        this.disconnectTimer = setTimeout(() => {
          if (this.pc.connectionState === "disconnected") onTrouble(target, "disconnected");
        }, 4000);
      }
    };
  }

  get connected() {
    return this.pc.connectionState === "connected";
  }

  async addRemoteCandidate(m) {
    const init = { candidate: m.candidate, sdpMid: m.sdp_mid, sdpMLineIndex: m.sdp_m_line_index };
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(init);
      return;
    }
    await this.pc.addIceCandidate(init).catch(() => {});
  }

  async setRemote(description) {
    await this.pc.setRemoteDescription(description);
    const queued = this.pendingCandidates.splice(0);
    for (const c of queued) await this.pc.addIceCandidate(c).catch(() => {});
  }

  close() {
    clearTimeout(this.disconnectTimer);
    this.pc.onicecandidate = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }
}
