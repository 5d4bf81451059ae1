// room-grid.js — the video grid: a tile per participant (camera and microphone), an extra
// tile per screen share, with name, muted microphone, raised hand, connection quality,
// active-speaker highlight and floating reactions. Knows nothing about signalling.

const QUALITY_TEXT = {
  excellent: "Excellent connection", good: "Good connection", poor: "Poor connection", lost: "Connection lost",
};

function initials(name) {
  return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class Grid {
  constructor(root) {
    this.root = root;
    this.names = new Map();
  }

  makeTile(owner, name, { self = false, screen = false, trackId = null } = {}) {
    const fig = el("figure", `tile${self ? " self" : ""}${screen ? " screen" : ""} video-off`);
    fig.dataset.owner = String(owner);
    if (trackId !== null) fig.dataset.track = String(trackId);
    const video = el("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound plays through the tile's <audio> elements
    const avatar = el("div", "tile-avatar", initials(name));
    avatar.setAttribute("aria-hidden", "true");
    const cap = el("figcaption", "tile-caption");
    const label = screen ? `${name} (screen)` : name;
    cap.append(el("span", "tile-name", label));
    const micOff = el("span", "tile-badge mic-off", "Muted");
    micOff.hidden = true;
    const hand = el("span", "tile-badge hand", "Hand raised");
    hand.hidden = true;
    const quality = el("span", "tile-quality");
    quality.hidden = true;
    cap.append(micOff, hand, quality);
    const floats = el("div", "reaction-layer");
    floats.setAttribute("aria-hidden", "true");
    fig.setAttribute("aria-label", label);
    fig.append(video, avatar, cap, floats);
    if (screen) this.root.prepend(fig); else this.root.append(fig);
    this.updateCount();
    return fig;
  }

  tile(owner) {
    return this.root.querySelector(`.tile:not(.screen)[data-owner="${owner}"]`);
  }

  addSelf(id, name) {
    this.root.querySelector(".tile.self")?.remove();
    const fig = this.makeTile(id, `${name} (you)`, { self: true });
    this.names.set(id, name);
    return fig;
  }

  setSelfVideo(track) {
    const fig = this.root.querySelector(".tile.self");
    if (!fig) return;
    fig.querySelector("video").srcObject = track ? new MediaStream([track]) : null;
    fig.classList.toggle("video-off", !track || !track.enabled);
  }

  upsertParticipant(p) {
    this.names.set(p.id, p.name);
    const fig = this.tile(p.id) || this.makeTile(p.id, p.name);
    this.setHand(p.id, p.hand_raised);
    return fig;
  }

  removeParticipant(id) {
    for (const fig of this.root.querySelectorAll(`.tile:not(.self)[data-owner="${id}"]`)) fig.remove();
    this.updateCount();
  }

  clearOthers() {
    for (const fig of this.root.querySelectorAll(".tile:not(.self)")) fig.remove();
    this.updateCount();
  }

  attachTrack({ info, track }) {
    const name = this.names.get(info.owner) || "Participant";
    let fig;
    if (info.source === "screen") {
      fig = this.root.querySelector(`.tile.screen[data-track="${info.track_id}"]`)
        || this.makeTile(info.owner, name, { screen: true, trackId: info.track_id });
    } else {
      fig = this.tile(info.owner) || this.makeTile(info.owner, name);
    }
    if (track.kind === "video") {
      fig.querySelector("video").srcObject = new MediaStream([track]);
      fig.classList.remove("video-off");
    } else {
      const audio = el("audio");
      audio.autoplay = true;
      audio.dataset.track = String(info.track_id);
      audio.srcObject = new MediaStream([track]);
      fig.append(audio);
    }
  }

  detachTrack(info) {
    if (info.source === "screen") {
      this.root.querySelector(`.tile.screen[data-track="${info.track_id}"]`)?.remove();
      this.updateCount();
      return;
    }
    const fig = this.tile(info.owner);
    if (!fig) return;
    if (info.kind === "video") {
      fig.querySelector("video").srcObject = null;
      fig.classList.add("video-off");
    } else {
      fig.querySelector(`audio[data-track="${info.track_id}"]`)?.remove();
    }
  }

  setMicMuted(owner, muted) {
    const b = this.tile(owner)?.querySelector(".mic-off");
    if (b) b.hidden = !muted;
  }

  setCameraOff(owner, off) {
    this.tile(owner)?.classList.toggle("video-off", off);
  }

  setHand(owner, raised) {
    const b = this.tile(owner)?.querySelector(".hand");
    if (b) b.hidden = !raised;
  }

  setQuality(owner, quality) {
    const q = this.tile(owner)?.querySelector(".tile-quality");
    if (!q) return;
    q.hidden = false;
    q.dataset.quality = quality;
    q.textContent = QUALITY_TEXT[quality] || quality;
  }

  setSpeaker(owner) {
    for (const fig of this.root.querySelectorAll(".tile.speaking")) fig.classList.remove("speaking");
    if (owner !== null && owner !== undefined) this.tile(owner)?.classList.add("speaking");
  }

  showReaction(owner, emoji) {
    const layer = this.tile(owner)?.querySelector(".reaction-layer");
    if (!layer) return;
    const r = el("span", "reaction", emoji);
    layer.append(r);
    setTimeout(() => r.remove(), 3000);
  }

  updateCount() {
    this.root.dataset.count = String(this.root.querySelectorAll(".tile").length);
  }
}
