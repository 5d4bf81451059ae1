// voice.js — the page /voice: a conversation with the AI coach through a voice room
// (docs/signalling.md, "Voice rooms"). The talk button is the microphone's mute state: held
// with the pointer, a finger or the Space key it unmutes, released it mutes again. Shows the
// live transcript, the agent's state and audio level, and the history of past sessions.
// Opened at a session's link, /voice/{id}#token=… (the `join_url` the API returns), it rejoins
// that session while it is live, and otherwise shows it in the history.
// Test hook: window.parlorVoiceStats().

import { api, humanError } from "../lib/api.js";
import { shell } from "../lib/shell.js";
import { RoomSession, JoinError } from "../rtc/session.js";
import { LiveTranscript } from "./voice-transcript.js";
import { loadHistory } from "./voice-history.js";
import { AgentMeter } from "./voice-meter.js";
import { insecureContextText } from "./room-messages.js";

const $ = (id) => document.getElementById(id);
const transcript = new LiveTranscript($("transcript"), $("transcript-empty"));
const meter = new AgentMeter($("agent-level"));
let session = null;
let started = null; // the POST /api/voice/sessions answer
let talking = false;
let agentState = "idle";
// The agent's received track, and whether a press silenced it here (see `talk`).
let agentTrack = null;
let agentHushed = false;
let ending = false;
// The session named by the link this page was opened at (/voice/{id}#token=…), if any.
const linked = {
  id: decodeURIComponent(location.pathname.match(/^\/voice\/([^/]+)$/)?.[1] || "") || null,
  token: new URLSearchParams(location.hash.slice(1)).get("token"),
};

const STATE_TEXT = {
  connecting: "Connecting to the AI coach…",
  listening: "The AI coach is listening. Hold the button to talk.",
  speaking: "The AI coach is speaking…",
};

function status(text) {
  $("status").textContent = text;
}

function micErrorText(err) {
  if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) {
    return "Your browser blocked the microphone. Allow it for this site (the icon in the address bar) and try again.";
  }
  if (err && err.name === "NotFoundError") return "No microphone was found. Connect one and try again.";
  return "The microphone could not be started. Close other apps that use it and try again.";
}

function setAgentState(state, message) {
  agentState = state;
  $("live").querySelector(".agent-indicator").dataset.state = state;
  $("agent-state").textContent = state === "speaking" ? "Speaking" : state === "listening" ? "Listening" : "Connecting…";
  if (state === "ended") return finish(message || "The session ended.");
  // Its next reply: audible again (what was cut has long been played out by then).
  if (state === "speaking" && agentHushed) {
    agentHushed = false;
    if (agentTrack) agentTrack.enabled = true;
  }
  if (!talking) status(STATE_TEXT[state] || "");
  $("talk").disabled = state === "connecting";
  return undefined;
}

function talk(on) {
  if (!session || talking === on || $("talk").disabled) return;
  talking = on;
  // Pressing while the agent speaks interrupts it. The server stops its audio at once (with a
  // short fade), but what is already in this browser's jitter buffer would still play for
  // tens of milliseconds: silence the track here too, until the agent's next reply.
  if (on && agentState === "speaking" && agentTrack) {
    agentTrack.enabled = false;
    agentHushed = true;
  }
  session.setMuted("microphone", !on);
  $("talk").setAttribute("aria-pressed", String(on));
  $("talk-label").textContent = on ? "Listening to you…" : "Hold to talk";
  status(on ? "Speak now. Let go when you are done." : STATE_TEXT[agentState] || "");
}

/** The microphone track, or null after saying why there is none. */
async function openMicrophone() {
  status("Checking your microphone…");
  try {
    return (await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } })).getAudioTracks()[0];
  } catch (err) {
    status(micErrorText(err));
    $("voice-start").disabled = false;
    return null;
  }
}

async function startConversation() {
  $("voice-start").disabled = true;
  transcript.clear();
  // A new conversation is not the one a link may have named.
  if (linked.id) history.replaceState(null, "", "/voice");
  linked.id = null;
  const mic = await openMicrophone();
  if (!mic) return;
  status("Starting a conversation…");
  let answer;
  try {
    answer = await api("POST", "/api/voice/sessions");
  } catch (err) {
    mic.stop();
    status(humanError(err));
    $("voice-start").disabled = false;
    return;
  }
  await connect(answer, mic);
}

/** Rejoins the live session `found` (GET /api/voice/sessions/{id}) with the link's token. */
async function resumeConversation(found) {
  $("voice-start").disabled = true;
  transcript.clear();
  const mic = await openMicrophone();
  if (!mic) return;
  status("Rejoining your conversation…");
  const { transcript: _lines, live: _live, ...session } = found;
  await connect({ session, token: linked.token }, mic);
}

/** Joins the room of `answer` ({session, token}) with the microphone, muted until talk. */
async function connect(answer, mic) {
  started = answer;
  ending = false;
  session = new RoomSession({ token: started.token });
  session.on("track", (entry) => {
    if (entry.track.kind !== "audio") return;
    const audio = document.createElement("audio");
    audio.autoplay = true;
    audio.srcObject = new MediaStream([entry.track]);
    $("live").append(audio);
    agentTrack = entry.track;
    agentHushed = false;
    meter.attach(entry.track);
  });
  session.on("transcript", (m) => transcript.apply(m));
  session.on("agent", (m) => setAgentState(m.state, m.message));
  session.on("state", (s) => { if (s === "reconnecting") status("Connection lost. Reconnecting…"); });
  // A voice session does not survive a restart: say so now; the agent's `ended` follows.
  session.on("restarting", (m) => status(m.message));
  session.on("joined", () => { if (agentState !== "idle") setAgentState(agentState); });
  session.on("closed", (e) => { if (e.code !== "left") finish(e.message && e.code !== "bye" ? e.message : "The session ended."); });
  session.publish("microphone", mic, { muted: true });
  try {
    await session.join();
  } catch (err) {
    const text = err instanceof JoinError && err.code !== "unreachable" ? err.message : "Cannot connect to the voice server. Check your connection and try again.";
    finish(text);
    return;
  }
  $("idle").hidden = true;
  $("live").hidden = false;
  setAgentState("connecting");
}

async function endConversation() {
  if (!started || ending) return;
  ending = true;
  $("voice-end").disabled = true;
  status("Ending the session…");
  try {
    await api("POST", `/api/voice/sessions/${encodeURIComponent(started.session.id)}/end`);
  } catch (err) {
    status(humanError(err));
  }
  // The agent answers with `agent: ended`; if it does not within a few seconds, leave anyway.
  setTimeout(() => { if (session) finish("The session ended."); }, 4000);
}

function finish(text) {
  if (!session && !started) return;
  talking = false;
  const s = session;
  session = null;
  started = null;
  s?.leave();
  meter.detach();
  agentTrack = null;
  agentHushed = false;
  for (const a of $("live").querySelectorAll("audio")) a.remove();
  $("live").hidden = true;
  $("idle").hidden = false;
  $("voice-start").disabled = false;
  $("voice-end").disabled = false;
  $("talk").setAttribute("aria-pressed", "false");
  $("talk-label").textContent = "Hold to talk";
  agentState = "idle";
  status(text);
  loadHistory($("history"), $("history-status"));
}

// ---- the talk button: pointer, touch and the Space key ----
const talkButton = $("talk");
talkButton.addEventListener("pointerdown", (e) => {
  if (e.button !== 0) return;
  e.preventDefault();
  try { talkButton.setPointerCapture(e.pointerId); } catch { /* synthetic pointers */ }
  talk(true);
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
  talkButton.addEventListener(type, () => talk(false));
}
talkButton.addEventListener("contextmenu", (e) => e.preventDefault());
function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
document.addEventListener("keydown", (e) => {
  if (e.code !== "Space" || !session || typing(e.target)) return;
  e.preventDefault();
  if (!e.repeat) talk(true);
});
document.addEventListener("keyup", (e) => {
  if (e.code !== "Space" || !session || typing(e.target)) return;
  e.preventDefault();
  talk(false);
});
window.addEventListener("blur", () => talk(false));

$("voice-start").onclick = startConversation;
$("voice-end").onclick = endConversation;

window.parlorVoiceStats = async () => {
  const rx = session ? await session.receiveStats() : { audioEnergy: 0 };
  return {
    live: !!session,
    sessionId: started?.session.id ?? null,
    agentState,
    agentHushed,
    talking,
    audioEnergy: rx.audioEnergy,
    agentLevelPeak: meter.peak,
    userLines: transcript.count("user"),
    agentLines: transcript.count("agent"),
  };
};

async function init() {
  try {
    // On an insecure page no call can start: say so without asking to log in first.
    await shell({ title: "AI coach", requireLogin: window.isSecureContext });
  } catch {
    status("Cannot reach the server. Check your connection and reload the page.");
    document.body.dataset.ready = "true";
    return;
  }
  if (!window.isSecureContext) {
    status(insecureContextText("a voice call"));
    document.body.dataset.ready = "true";
    return;
  }
  if (!window.RTCPeerConnection || !navigator.mediaDevices?.getUserMedia) {
    status("This browser cannot make voice calls. Use a recent Chrome, Edge, Firefox or Safari.");
    document.body.dataset.ready = "true";
    return;
  }
  status("Ready when you are.");
  $("voice-start").disabled = false;
  await loadHistory($("history"), $("history-status"));
  if (linked.id) await openLinked();
  document.body.dataset.ready = "true";
}

/** The session named by the link: rejoin it if it is live, else show it in the history. */
async function openLinked() {
  let found;
  try {
    found = await api("GET", `/api/voice/sessions/${encodeURIComponent(linked.id)}`);
  } catch (err) {
    status(err?.status === 404 ? "This conversation was not found in your account. Start a new one when you are ready." : humanError(err));
    return;
  }
  if (found.live && linked.token) {
    await resumeConversation(found);
    return;
  }
  status(found.live
    ? "This conversation is still open, but the link is missing its access code. Open the full link again to rejoin it."
    : "This conversation has ended. Its transcript is below, in your past conversations.");
  await showInHistory(linked.id);
}

/** Opens the transcript of session `id` in the history list and scrolls it into view. */
async function showInHistory(id) {
  const item = [...$("history").querySelectorAll(".history-item")].find((li) => li.dataset.session === id);
  const button = item?.querySelector("button");
  if (!item || !button) return;
  if (button.getAttribute("aria-expanded") !== "true") button.click();
  item.scrollIntoView({ block: "start" });
}
init();
