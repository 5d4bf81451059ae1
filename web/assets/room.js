// Minimal room client for /r/{room}#token=… — the protocol is in docs/signalling.md.
// Two peer connections: "publisher" (we offer our camera/mic/screen) and "subscriber"
// (the server offers everyone else's tracks; we answer).

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };
const room = decodeURIComponent(location.pathname.split("/").pop() || "");
const token = new URLSearchParams(location.hash.slice(1)).get("token");

let ws, pub, sub, local, screen;
let iceServers = [];
const tracksByMid = new Map(); // subscriber mid → {track_id, owner, kind}
const names = new Map(); // participant id → name
const sources = new Map(); // our transceiver → source
const publishedIds = new Map(); // our mid → server track id

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function tile(owner) {
  let fig = document.querySelector(`[data-owner="${owner}"]`);
  if (!fig) {
    fig = document.createElement("figure");
    fig.className = "tile";
    fig.dataset.owner = owner;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const audio = document.createElement("audio");
    audio.autoplay = true;
    const cap = document.createElement("figcaption");
    cap.textContent = names.get(owner) || "Participant";
    fig.append(video, audio, cap);
    $("grid").append(fig);
  }
  return fig;
}

async function publish() {
  const offer = await pub.createOffer();
  await pub.setLocalDescription(offer);
  const tracks = pub.getTransceivers()
    .filter((t) => t.sender.track && t.mid !== null)
    .map((t) => ({ mid: t.mid, source: sources.get(t) }));
  send({ type: "publish_offer", sdp: pub.localDescription.sdp, tracks });
}

// A video that has decoded nothing after a while asks the publisher for a keyframe.
function watchKeyframes(receiver, trackId, tries = 0) {
  setTimeout(async () => {
    let decoded = 0;
    (await receiver.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp") decoded += r.framesDecoded || 0;
    });
    if (decoded === 0 && tries < 10) {
      send({ type: "keyframe", track: trackId });
      watchKeyframes(receiver, trackId, tries + 1);
    }
  }, 1500);
}

function newPeer(target) {
  const pc = new RTCPeerConnection({ iceServers });
  pc.onicecandidate = (e) => {
    if (e.candidate) {
      send({ type: "candidate", target, candidate: e.candidate.candidate,
        sdp_mid: e.candidate.sdpMid, sdp_m_line_index: e.candidate.sdpMLineIndex });
    }
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed") send({ type: "ice_restart" });
  };
  return pc;
}

async function onMessage(m) {
  switch (m.type) {
    case "joined": {
      iceServers = m.ice_servers;
      for (const p of m.participants) names.set(p.id, p.name);
      pub = newPeer("publisher");
      sub = newPeer("subscriber");
      sub.ontrack = (e) => {
        const info = tracksByMid.get(e.transceiver.mid);
        const fig = tile(info ? info.owner : "unknown");
        const el = fig.querySelector(e.track.kind === "video" ? "video" : "audio");
        el.srcObject = new MediaStream([e.track]);
        if (e.track.kind === "video" && info) watchKeyframes(e.receiver, info.track_id);
      };
      for (const track of local.getTracks()) {
        const t = pub.addTransceiver(track, { direction: "sendonly" });
        sources.set(t, track.kind === "video" ? "camera" : "microphone");
      }
      await publish();
      const others = m.participants.filter((p) => p.id !== m.participant_id).length;
      status(`In the room (${others} other${others === 1 ? "" : "s"}).`);
      for (const b of ["mic", "cam", "screen", "leave"]) $(b).disabled = false;
      break;
    }
    case "publish_answer":
      for (const t of m.tracks) publishedIds.set(t.mid, t.track_id);
      await pub.setRemoteDescription({ type: "answer", sdp: m.sdp });
      break;
    case "subscribe_offer":
      for (const t of m.tracks) tracksByMid.set(t.mid, t);
      await sub.setRemoteDescription({ type: "offer", sdp: m.sdp });
      await sub.setLocalDescription(await sub.createAnswer());
      send({ type: "subscribe_answer", sdp: sub.localDescription.sdp });
      break;
    case "candidate": {
      const pc = m.target === "publisher" ? pub : sub;
      await pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdp_mid, sdpMLineIndex: m.sdp_m_line_index });
      break;
    }
    case "participant_joined":
      names.set(m.participant.id, m.participant.name);
      status(`${m.participant.name} joined.`);
      break;
    case "participant_left":
      document.querySelector(`[data-owner="${m.participant_id}"]`)?.remove();
      status(`${names.get(m.participant_id) || "Someone"} left.`);
      break;
    case "error":
      status(m.message);
      break;
    case "bye":
      status(m.reason === "replaced" ? "You joined from another window; this one has left." : "The call has ended.");
      break;
    default:
      break;
  }
}

function join() {
  $("join").disabled = true;
  status("Connecting…");
  ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/rtc`);
  ws.onopen = () => send({ type: "join", token });
  ws.onmessage = (e) => onMessage(JSON.parse(e.data)).catch((err) => status(`Connection problem: ${err.message}`));
  ws.onclose = () => { if (!$("leave").disabled) status("Disconnected from the server."); };
}

function toggle(kind, button, onText, offText) {
  const track = local.getTracks().find((t) => t.kind === kind);
  if (!track) return;
  track.enabled = !track.enabled;
  button.setAttribute("aria-pressed", String(!track.enabled));
  button.textContent = track.enabled ? onText : offText;
  const t = pub.getTransceivers().find((x) => x.sender.track === track);
  const id = t && publishedIds.get(t.mid);
  if (id !== undefined) send({ type: "mute", track: id, muted: !track.enabled });
}

async function shareScreen() {
  screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
  const t = pub.addTransceiver(screen.getVideoTracks()[0], { direction: "sendonly" });
  sources.set(t, "screen");
  await publish();
}

function leave() {
  send({ type: "leave" });
  ws?.close();
  pub?.close();
  sub?.close();
  for (const t of local?.getTracks() ?? []) t.stop();
  for (const b of ["mic", "cam", "screen", "leave"]) $(b).disabled = true;
  status("You left the call.");
}

// For tests and diagnostics: what this page receives.
window.parlorStats = async () => {
  const out = { framesDecoded: 0, audioEnergy: 0, videoWidth: 0,
    publisher: pub?.connectionState, subscriber: sub?.connectionState, remoteTracks: tracksByMid.size };
  if (!sub) return out;
  (await sub.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") out.framesDecoded += r.framesDecoded || 0;
    if (r.type === "inbound-rtp" && r.kind === "audio") out.audioEnergy += r.totalAudioEnergy || 0;
  });
  for (const v of document.querySelectorAll(".tile:not(.self) video")) out.videoWidth = Math.max(out.videoWidth, v.videoWidth);
  return out;
};

async function start() {
  if (!token) {
    status("This link has no access token. Ask the organiser for a new link.");
    return;
  }
  try {
    local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    $("local").srcObject = local;
    status(`Ready to join room ${room}.`);
    $("join").disabled = false;
  } catch (err) {
    status(err.name === "NotAllowedError"
      ? "Camera and microphone are blocked. Allow them in the browser's site settings and reload."
      : `No camera or microphone available (${err.name}).`);
  }
}

$("join").onclick = join;
$("mic").onclick = () => toggle("audio", $("mic"), "Mute mic", "Unmute mic");
$("cam").onclick = () => toggle("video", $("cam"), "Camera off", "Camera on");
$("screen").onclick = () => shareScreen().catch((e) => status(`Screen share failed: ${e.message}`));
$("leave").onclick = leave;
start();
