// voice-history.js — the list of past voice sessions (GET /api/voice/sessions), each with a
// button that loads and shows its transcript (GET /api/voice/sessions/{id}).

import { api, humanError } from "../lib/api.js";
import { renderStored } from "./voice-transcript.js";

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function duration(s) {
  if (!s.ended_at) return "still open";
  const secs = Math.max(0, Math.round((new Date(s.ended_at) - new Date(s.started_at)) / 1000));
  return secs < 60 ? `${secs} s` : `${Math.floor(secs / 60)} min ${secs % 60} s`;
}

async function toggleTranscript(item, session, button) {
  const box = item.querySelector(".history-transcript");
  if (!box.hidden) {
    box.hidden = true;
    button.setAttribute("aria-expanded", "false");
    button.textContent = "Show transcript";
    return;
  }
  button.disabled = true;
  try {
    const full = await api("GET", `/api/voice/sessions/${encodeURIComponent(session.id)}`);
    const list = box.querySelector("ol");
    renderStored(list, full.transcript);
    box.querySelector(".empty").hidden = full.transcript.length > 0;
    box.hidden = false;
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Hide transcript";
  } catch (e) {
    box.hidden = false;
    box.querySelector(".empty").hidden = false;
    box.querySelector(".empty").textContent = humanError(e);
  } finally {
    button.disabled = false;
  }
}

function item(s) {
  const li = document.createElement("li");
  li.className = "list-item history-item";
  li.dataset.session = s.id;
  const head = document.createElement("div");
  head.className = "history-head";
  const title = document.createElement("p");
  title.className = "history-when";
  title.textContent = when(s.started_at);
  const meta = document.createElement("p");
  meta.className = "muted small history-meta";
  meta.textContent = [duration(s), s.end_reason].filter(Boolean).join(" · ");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "btn";
  button.textContent = "Show transcript";
  const boxId = `transcript-${s.id}`;
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", boxId);
  const box = document.createElement("div");
  box.className = "history-transcript";
  box.id = boxId;
  box.hidden = true;
  const list = document.createElement("ol");
  list.className = "transcript";
  const empty = document.createElement("p");
  empty.className = "empty";
  empty.textContent = "Nothing was said in this conversation.";
  box.append(list, empty);
  button.onclick = () => toggleTranscript(li, s, button);
  head.append(title, meta);
  li.append(head, button, box);
  return li;
}

/** Loads the history into `list`; says what happened in `status`. */
export async function loadHistory(list, status) {
  status.textContent = "Loading your past conversations…";
  try {
    const sessions = await api("GET", "/api/voice/sessions");
    list.replaceChildren(...sessions.map(item));
    status.textContent = sessions.length ? "" : "No conversations yet.";
  } catch (e) {
    status.textContent = humanError(e);
  }
}
