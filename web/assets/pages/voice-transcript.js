// voice-transcript.js — renders a voice transcript into an <ol>: live lines from the
// signalling `transcript` messages (a tentative user line is replaced by the next line with
// its event_id; a corrected agent line replaces the agent line with its event_id), and
// stored lines from the history API.

const WHO = { user: "You", agent: "AI coach" };

function line(speaker, text) {
  const li = document.createElement("li");
  li.className = `transcript-line ${speaker}`;
  li.dataset.speaker = speaker;
  const who = document.createElement("span");
  who.className = "transcript-who";
  who.textContent = WHO[speaker] || speaker;
  const said = document.createElement("span");
  said.className = "transcript-text";
  said.textContent = text;
  li.append(who, said);
  return li;
}

export class LiveTranscript {
  constructor(list, empty) {
    this.list = list;
    this.empty = empty;
  }

  clear() {
    this.list.replaceChildren();
    this.empty.hidden = false;
  }

  find(speaker, eventId) {
    if (eventId === null || eventId === undefined) return null;
    return this.list.querySelector(`li[data-speaker="${speaker}"][data-event="${eventId}"]`);
  }

  /** Applies one `transcript` message. */
  apply(m) {
    const replace = (m.speaker === "user" && this.find("user", m.event_id)?.classList.contains("tentative"))
      || (m.speaker === "agent" && m.corrected);
    const li = line(m.speaker, m.text);
    if (m.event_id !== null && m.event_id !== undefined) li.dataset.event = String(m.event_id);
    li.classList.toggle("tentative", !!m.tentative);
    if (m.corrected) {
      li.classList.add("corrected");
      li.querySelector(".transcript-who").textContent = "AI coach (interrupted)";
    }
    const old = replace ? this.find(m.speaker, m.event_id) : null;
    if (old) old.replaceWith(li); else this.list.append(li);
    this.empty.hidden = true;
    li.scrollIntoView({ block: "nearest" });
  }

  count(speaker) {
    return this.list.querySelectorAll(`li[data-speaker="${speaker}"]:not(.tentative)`).length;
  }
}

/** Renders stored lines (`{speaker, text, at_ms}`) into `list`. */
export function renderStored(list, lines) {
  list.replaceChildren();
  for (const l of lines) {
    const li = line(l.speaker, l.text);
    const t = document.createElement("span");
    t.className = "transcript-at";
    const secs = Math.round(l.at_ms / 1000);
    t.textContent = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
    li.prepend(t);
    list.append(li);
  }
}
