// index.js — "/": a short landing with Log in / Sign up when logged out; otherwise the
// dashboard: next session, quick actions (AI coach, Book), upcoming sessions, commitments.
import { api, humanError } from "../lib/api.js";
import { shell, say } from "../lib/shell.js";
import { h, markReady, sentence } from "../lib/dom.js";
import { fmtShortDate, fmtTime, viewerZone } from "../lib/time.js";
import { sessionSummary, joinButton, callLink, calendarLink } from "../lib/sessions.js";
import { commitmentsPanel } from "../lib/commitments.js";

function landing(view) {
  if (new URLSearchParams(location.search).get("deleted")) {
    say(document.getElementById("app-status"), "Your account has been deleted. Thank you for using parlor.", "ok");
  }
  view.replaceChildren(
    h("section", { class: "hero card" },
      h("p", { class: "eyebrow", text: "Coaching, on your own server" }),
      h("h1", { text: "Talk it through with a coach." }),
      h("p", { class: "lead", text: "Book a video or phone session with a coach, or talk to the AI coach any time. Private by design: everything runs on your organisation's own machine." }),
      h("div", { class: "row" },
        h("a", { class: "btn btn-primary", href: "/signup", text: "Sign up" }),
        h("a", { class: "btn", href: "/login", text: "Log in" }),
      ),
    ),
    h("ul", { class: "feature-list grid-2" },
      h("li", { class: "card" }, h("h2", { text: "Book in a minute" }), h("p", { class: "muted", text: "See each coach's free times in your own time zone and pick one." })),
      h("li", { class: "card" }, h("h2", { text: "Join from the browser" }), h("p", { class: "muted", text: "Video sessions open right here, with no app to install." })),
    ),
  );
}

function nextCard(b, tz, me, status) {
  if (!b) {
    return h("section", { class: "card next-session", attrs: { "aria-labelledby": "next-h" } },
      h("h2", { id: "next-h", text: "Next session" }),
      h("p", { class: "empty", text: "Nothing booked yet." }),
      h("a", { class: "btn btn-primary", href: "/book", text: "Book a coach" }));
  }
  return h("section", { class: "card next-session", attrs: { "aria-labelledby": "next-h" } },
    h("h2", { id: "next-h", text: "Next session" }),
    sessionSummary(b, tz, { viewerIsCoach: !!me.coach_id && b.coach.id === me.coach_id }),
    h("div", { class: "row" }, joinButton(b, status), callLink(b), calendarLink(b),
      h("a", { class: "btn btn-quiet", href: "/upcoming", text: "Manage" })),
  );
}

function upcomingList(list, tz) {
  const rest = list.slice(1, 6);
  return h("section", { class: "card", attrs: { "aria-labelledby": "up-h" } },
    h("div", { class: "card-header" }, h("h2", { id: "up-h", text: "Upcoming" }), h("span", { class: "spacer" }),
      h("a", { href: "/upcoming", text: "All sessions" })),
    rest.length
      ? h("ul", { class: "list" }, rest.map((b) => h("li", { class: "list-item" },
        h("strong", { text: `${fmtShortDate(b.starts_at, tz)}, ${fmtTime(b.starts_at, tz)}` }), " · ",
        b.session_type === "video" ? "Video" : "Phone", " with ", b.coach.name)))
      : h("p", { class: "empty", text: list.length ? "No other sessions booked." : "No sessions booked." }),
  );
}

function commitmentsCard() {
  const panel = commitmentsPanel({ idPrefix: "own", owner: true,
    emptyText: "No commitments yet. Things you agree to do, in a session or on your own, go here; the AI coach hears the open ones." });
  const card = h("section", { class: "card", attrs: { "aria-labelledby": "com-h" } },
    h("h2", { id: "com-h", text: "Commitments" }), panel.el);
  return { card, load: panel.load };
}

async function dashboard(view, me) {
  const tz = viewerZone(me);
  const status = document.getElementById("app-status");
  const commitments = commitmentsCard();
  const [bookings] = await Promise.all([api("GET", "/api/bookings?scope=upcoming"), commitments.load()]);
  view.replaceChildren(
    h("h1", { text: `Hello, ${me.user.name.split(" ")[0]}` }),
    h("div", { class: "grid-2" },
      nextCard(bookings[0], tz, me, status),
      h("section", { class: "card quick-actions", attrs: { "aria-label": "Start something" } },
        h("h2", { text: "Start something" }),
        h("div", { class: "stack" },
          h("a", { class: "btn btn-primary btn-block", href: "/voice", text: "Talk to AI coach" }),
          h("a", { class: "btn btn-block", href: "/book", text: "Book a coach" }),
          me.coach_id ? h("a", { class: "btn btn-block", href: "/coach", text: "Today's coaching" }) : null),
      ),
    ),
    h("div", { class: "grid-2" }, upcomingList(bookings, tz), commitments.card),
  );
}

async function main() {
  const view = document.getElementById("view");
  let me;
  try {
    me = await shell({ title: "", requireLogin: false });
  } catch {
    view.replaceChildren();
    markReady();
    return;
  }
  try {
    if (me) await dashboard(view, me);
    else landing(view);
  } catch (e) {
    view.replaceChildren();
    say(document.getElementById("app-status"), `Your dashboard could not be loaded. ${sentence(humanError(e))}`, "error");
  }
  markReady();
}

main();
