// room-chat.js — the call's side panel: chat messages (the server echoes ours back as the
// confirmation), an unread counter on the chat button, and the reaction picker.

const $ = (id) => document.getElementById(id);
export const REACTIONS = ["👍", "👏", "😂", "❤️", "🎉", "🤔"];

export class Chat {
  constructor(session, selfId) {
    this.session = session;
    this.selfId = selfId;
    this.unread = 0;
    $("chat-toggle").onclick = () => this.toggle();
    $("chat-form").onsubmit = (e) => {
      e.preventDefault();
      const input = $("chat-input");
      const text = input.value.trim();
      if (!text) return;
      this.session.chat(text.slice(0, 1000));
      input.value = "";
    };
    this.buildReactions();
  }

  setSelf(id) {
    this.selfId = id;
  }

  get open() {
    return !$("chat").hidden;
  }

  toggle(force) {
    const open = force ?? !this.open;
    $("chat").hidden = !open;
    $("chat-toggle").setAttribute("aria-expanded", String(open));
    $("chat-toggle").setAttribute("aria-label", open ? "Close chat" : "Open chat");
    if (open) {
      this.unread = 0;
      this.showUnread();
      $("chat-input").focus();
    }
  }

  showUnread() {
    const badge = $("chat-unread");
    badge.hidden = this.unread === 0;
    badge.textContent = String(this.unread);
    const label = this.open ? "Close chat" : "Open chat";
    $("chat-toggle").setAttribute("aria-label", this.unread ? `${label} (${this.unread} unread)` : label);
  }

  add(m) {
    const li = document.createElement("li");
    li.className = m.from === this.selfId ? "chat-line mine" : "chat-line";
    const who = document.createElement("span");
    who.className = "chat-who";
    who.textContent = m.from === this.selfId ? "You" : m.name;
    const time = document.createElement("time");
    // `at_ms`: when the server received the message, in Unix epoch milliseconds.
    const at = Number.isFinite(m.at_ms) ? new Date(m.at_ms) : new Date();
    time.dateTime = at.toISOString();
    time.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const text = document.createElement("p");
    text.className = "chat-text";
    text.textContent = m.text;
    li.append(who, " ", time, text);
    $("chat-log").append(li);
    li.scrollIntoView({ block: "end" });
    if (!this.open && m.from !== this.selfId) {
      this.unread += 1;
      this.showUnread();
    }
  }

  note(text) {
    const li = document.createElement("li");
    li.className = "chat-line chat-note";
    li.textContent = text;
    $("chat-log").append(li);
  }

  buildReactions() {
    const box = $("reactions");
    box.replaceChildren();
    for (const emoji of REACTIONS) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "reaction-button";
      b.textContent = emoji;
      b.setAttribute("aria-label", `React with ${emoji}`);
      b.onclick = () => {
        this.session.reaction(emoji);
        this.togglePicker(false);
      };
      box.append(b);
    }
    $("react").onclick = () => this.togglePicker();
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { this.togglePicker(false); $("react").focus(); }
    });
  }

  togglePicker(force) {
    const box = $("reactions");
    const open = force ?? box.hidden;
    box.hidden = !open;
    $("react").setAttribute("aria-expanded", String(open));
    if (open) box.querySelector("button")?.focus();
  }
}
