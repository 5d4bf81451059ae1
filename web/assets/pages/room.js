// room.js — the page /r/{room}#token=…: pre-join check, then the call. Signalling and peer
// connections live in ../rtc/session.js; the grid, chat and messages in room-*.js here.
// Test hooks: window.parlorStats() (what this page receives) and window.parlorDebug.

import { RoomSession, JoinError } from "../rtc/session.js";
import { Grid } from "./room-grid.js";
import { Chat } from "./room-chat.js";
import { Prejoin } from "./room-prejoin.js";
import { MESSAGES, joinErrorText, mediaErrorText, tokenClaims, findFallbackUrl } from "./room-messages.js";
import { startScreenShare } from "./room-screen.js";

const $ = (id) => document.getElementById(id);
const room = decodeURIComponent(location.pathname.split("/").pop() || "");
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const claims = token ? tokenClaims(token) : null;

const grid = new Grid($("grid"));
const prejoin = new Prejoin();
let session = null;
let chat = null;
let localStream = null; // camera + microphone handed over from the pre-join check
const debugEvents = []; // the last session events, for diagnostics (window.parlorDebug)
const remoteTracks = new Map(); // server track id → { owner, kind, source, muted }

function status(text) {
  $("status").textContent = text;
}

function show(section) {
  for (const id of ["problem", "prejoin", "call", "left"]) $(id).hidden = id !== section;
}

async function problem(text, { retry = false, withoutMedia = false } = {}) {
  show("problem");
  $("problem-text").textContent = text;
  status(text);
  $("retry").hidden = !retry;
  $("join-without-media").hidden = !withoutMedia;
  const url = await findFallbackUrl(room, claims);
  if (url) {
    $("fallback").href = url;
    $("fallback-wrap").hidden = false;
  }
  markReady();
}

// Tells tests (and anything else watching) that the first render is done.
function markReady() {
  document.body.dataset.ready = "true";
}

async function checkDevices() {
  show("prejoin");
  status("Checking your camera and microphone…");
  $("join").disabled = true;
  try {
    await prejoin.start();
  } catch (err) {
    await problem(mediaErrorText(err), { retry: true, withoutMedia: true });
    return;
  }
  status("Ready to join. Check your picture and sound, then press Join.");
  $("join").disabled = false;
  markReady();
}

// ---- the call ----

function othersText() {
  const n = session ? session.participants.size - 1 : 0;
  return n === 0 ? "You are the only one here." : `You are in the call with ${n} other${n === 1 ? "" : "s"}.`;
}

function applyTrackState(id) {
  const t = remoteTracks.get(id);
  if (!t) return;
  if (t.source === "microphone") grid.setMicMuted(t.owner, t.muted);
  if (t.source === "camera") grid.setCameraOff(t.owner, t.muted);
}

function rememberTracks(list) {
  for (const t of list) {
    remoteTracks.set(t.id, { owner: t.owner, kind: t.kind, source: t.source, muted: t.muted });
    applyTrackState(t.id);
  }
}

// A video that has decoded nothing after a while asks its publisher for a keyframe.
function watchKeyframes(receiver, trackId, tries = 0) {
  setTimeout(async () => {
    if (!session || session.state === "closed") return;
    let decoded = 0;
    (await receiver.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp") decoded += r.framesDecoded || 0;
    });
    if (decoded === 0 && tries < 10) {
      session.keyframe(trackId);
      watchKeyframes(receiver, trackId, tries + 1);
    }
  }, 1500);
}

function onJoined(m) {
  const me = m.participants.find((p) => p.id === m.participant_id);
  const myName = $("guest-name").value.trim() || me?.name || claims?.name || "You";
  grid.clearOthers();
  remoteTracks.clear();
  grid.addSelf(m.participant_id, myName);
  grid.setSelfVideo(session.publisher.track("camera"));
  for (const p of m.participants) if (p.id !== m.participant_id) grid.upsertParticipant(p);
  rememberTracks(m.tracks);
  chat.setSelf(m.participant_id);
  // A rejoin starts with the hand down on the server; raise it again if it was up.
  if ($("hand").getAttribute("aria-pressed") === "true") session.hand(true);
  show("call");
  status(othersText());
}

function wireSession() {
  session.on("*", ({ type, value }) => {
    debugEvents.push(type === "subscribe_offer" || type === "track_muted" || type === "participant_joined" || type === "participant_left" || type === "track_published"
      ? `${type} ${JSON.stringify(value)}` : type);
    if (debugEvents.length > 200) debugEvents.shift();
  });
  session.on("joined", onJoined);
  // A server restart is announced (`restarting`); the socket then closes and the session
  // rejoins by itself once the server is back.
  let restarting = false;
  session.on("restarting", (m) => {
    restarting = true;
    status(m.message);
    chat.note(m.message);
  });
  session.on("state", (s) => {
    if (s === "reconnecting") status(restarting ? "The server is restarting. Reconnecting…" : "Connection lost. Reconnecting…");
    if (s === "joined") restarting = false;
  });
  session.on("ice_restarting", () => status("The network changed. Reconnecting the media…"));
  session.on("reset", () => chat.note("Reconnected."));
  session.on("participant_joined", (m) => {
    grid.upsertParticipant(m.participant);
    status(`${m.participant.name} joined. ${othersText()}`);
  });
  session.on("participant_left", (m) => {
    const name = grid.names.get(m.participant_id) || "Someone";
    grid.removeParticipant(m.participant_id);
    status(`${name} left. ${othersText()}`);
  });
  session.on("track", (entry) => {
    grid.attachTrack(entry);
    applyTrackState(entry.info.track_id);
    if (entry.track.kind === "video") watchKeyframes(entry.receiver, entry.info.track_id);
  });
  session.on("track_removed", (info) => grid.detachTrack(info));
  session.on("track_published", (m) => rememberTracks([m.track]));
  session.on("track_unpublished", (m) => remoteTracks.delete(m.track_id));
  session.on("track_muted", (m) => {
    const t = remoteTracks.get(m.track_id);
    if (t) { t.muted = m.muted; applyTrackState(m.track_id); }
  });
  session.on("active_speaker", (m) => grid.setSpeaker(m.participant_id));
  session.on("quality", (m) => grid.setQuality(m.participant_id, m.quality));
  session.on("hand", (m) => {
    grid.setHand(m.participant_id, m.raised);
    if (m.participant_id !== session.participantId && m.raised) {
      status(`${grid.names.get(m.participant_id) || "Someone"} raised their hand.`);
    }
  });
  session.on("reaction", (m) => grid.showReaction(m.participant_id, m.emoji));
  session.on("chat", (m) => chat.add(m));
  session.on("error", (e) => status(e.code === "rate_limited" ? "Slow down a little: too many messages at once." : joinErrorText(e.code, e.message)));
  session.on("closed", (e) => {
    if (e.code === "left") return;
    stopLocal();
    problem(joinErrorText(e.code, e.message), { retry: e.code !== "replaced" });
  });
}

async function join({ withMedia = true } = {}) {
  $("join").disabled = true;
  status("Connecting to the room…");
  localStream = withMedia ? prejoin.takeTracks() : null;
  // A guest may pick the name others see (`name` on join; the server trims it and refuses
  // more than 60 characters, so the field is cut to 60 here).
  const guestName = claims?.role === "guest" ? $("guest-name").value.trim().slice(0, 60) : "";
  session = new RoomSession({ token, name: guestName && guestName !== claims?.name ? guestName : null });
  chat = chat || new Chat(session, null);
  chat.session = session;
  wireSession();
  const mic = localStream?.getAudioTracks()[0];
  const cam = localStream?.getVideoTracks()[0];
  // Tracks are registered before joining, so they are published on every (re)join.
  if (mic) session.publish("microphone", mic, { muted: $("start-muted").checked });
  if (cam) session.publish("camera", cam, { muted: $("start-camera-off").checked });
  try {
    await session.join();
  } catch (err) {
    stopLocal();
    const code = err instanceof JoinError ? err.code : "unreachable";
    await problem(joinErrorText(code, err.message), { retry: code === "unreachable" || code === "room_full" });
    return;
  }
  syncControls();
}

function stopLocal() {
  for (const t of localStream?.getTracks() ?? []) t.stop();
  localStream = null;
}

function syncControls() {
  const micMuted = !session.publisher.track("microphone") || !session.publisher.track("microphone").enabled;
  const camOff = !session.publisher.track("camera") || !session.publisher.track("camera").enabled;
  setToggle($("mic"), micMuted, "Unmute microphone", "Mute microphone", "Unmute", "Mute");
  setToggle($("cam"), camOff, "Turn camera on", "Turn camera off", "Video", "Video");
  $("mic").disabled = !session.publisher.track("microphone");
  $("cam").disabled = !session.publisher.track("camera");
  grid.setSelfVideo(session.publisher.track("camera"));
}

function setToggle(button, pressed, onLabel, offLabel, onText, offText) {
  button.setAttribute("aria-pressed", String(pressed));
  button.setAttribute("aria-label", pressed ? onLabel : offLabel);
  button.querySelector(".control-text").textContent = pressed ? onText : offText;
}

function toggleSource(source) {
  const track = session?.publisher.track(source);
  if (!track) return;
  session.setMuted(source, track.enabled);
  syncControls();
}

async function toggleScreen() {
  const sharing = !!session.publisher.track("screen");
  if (sharing) {
    await session.unpublish("screen");
  } else {
    const track = await startScreenShare();
    if (!track) return;
    track.addEventListener("ended", () => {
      if (session.publisher.track("screen") === track) toggleScreen();
    });
    await session.publish("screen", track);
  }
  const now = !!session.publisher.track("screen");
  setToggle($("screen"), now, "Stop sharing your screen", "Share your screen", "Stop", "Share");
  status(now ? "You are sharing your screen." : "You stopped sharing your screen.");
}

function toggleHand() {
  const raised = $("hand").getAttribute("aria-pressed") !== "true";
  session.hand(raised);
  $("hand").setAttribute("aria-pressed", String(raised));
  $("hand").setAttribute("aria-label", raised ? "Lower hand" : "Raise hand");
}

function leave() {
  session?.leave();
  stopLocal();
  grid.clearOthers();
  show("left");
  status("You left the call.");
  $("rejoin").focus();
}

// Remote video nobody can see (tab hidden) is paused at the server, and resumed on return.
document.addEventListener("visibilitychange", () => {
  if (!session || session.state !== "joined") return;
  for (const e of session.subscriber.entries()) {
    if (e.info.kind === "video") session.pause(e.info.track_id, document.hidden);
  }
});

window.parlorStats = async () => {
  const base = session ? await session.receiveStats() : { framesDecoded: 0, audioEnergy: 0 };
  const widest = (sel) => Math.max(0, ...[...document.querySelectorAll(sel)].map((v) => v.videoWidth));
  return {
    ...base,
    ...(session ? session.connectionStates() : {}),
    state: session?.state ?? "idle",
    rejoins: session?.rejoins ?? 0,
    remoteTracks: session ? session.subscriber.entries().length : 0,
    videoWidth: widest(".tile:not(.self):not(.screen) video"),
    screenWidth: widest(".tile.screen video"),
  };
};
window.parlorDebug = {
  events: debugEvents,
  rejoin: () => session?.rejoin(),
  restartIce: () => session?.restartIce("test"),
  session: () => session,
};

$("prejoin-form").onsubmit = (e) => { e.preventDefault(); join(); };
$("join-without-media").onclick = () => join({ withMedia: false });
$("retry").onclick = () => location.reload();
$("rejoin").onclick = () => location.reload();
$("mic").onclick = () => toggleSource("microphone");
$("cam").onclick = () => toggleSource("camera");
$("screen").onclick = () => toggleScreen().catch((e) => status(`Screen sharing did not start: ${e.message}`));
$("hand").onclick = toggleHand;
$("leave").onclick = leave;

function start() {
  if (!token) return problem(MESSAGES.noToken);
  if (claims?.exp && claims.exp * 1000 < Date.now() - 30000) return problem(MESSAGES.expired);
  if (!window.RTCPeerConnection) return problem(MESSAGES.unsupported);
  if (claims?.role === "guest") {
    $("guest-name-wrap").hidden = false;
    $("guest-name").value = claims.name || "";
  }
  $("preview-caption").textContent = claims?.name ? `${claims.name} (you)` : "You";
  return checkDevices();
}
start();
