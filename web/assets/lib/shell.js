// shell.js — the site frame every signed-in page shares.
//
//   shell({ title, requireLogin = true }) -> Promise<me | null>
//     Renders the header/nav into <header id="app-header"></header>, sets document.title,
//     marks the current nav item with aria-current="page" and returns the /api/me object
//     ({ user, coach_id }). When requireLogin and nobody is logged in it redirects to
//     /login?next=<path> and returns a promise that never resolves. If the server cannot be
//     reached it shows that in words (in #app-status or a banner it creates) and throws.
//   say(el, text, kind) — show `text` in `el` (made an aria-live region); kind is one of
//     "info" (default), "ok", "error", "busy"; empty text hides it.
//   safeNext() — the ?next= path to return to after logging in (same-site paths only).

import { api, currentUser, humanError } from "./api.js";

const NAV = [
  { href: "/", label: "Dashboard" },
  { href: "/book", label: "Book" },
  { href: "/upcoming", label: "Upcoming" },
  { href: "/voice", label: "AI coach" },
  { href: "/coach", label: "Coach", coachOnly: true },  // coaches, and admins (who edit any coach)
  { href: "/account", label: "Account" },
  { href: "/admin", label: "Admin", adminOnly: true },
];

export function say(el, text, kind = "info") {
  if (!el) return;
  if (!el.hasAttribute("aria-live")) el.setAttribute("aria-live", kind === "error" ? "assertive" : "polite");
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.classList.add("notice");
  el.classList.remove("notice-info", "notice-ok", "notice-error", "notice-busy");
  el.classList.add(`notice-${kind}`);
  el.textContent = text || "";
  el.hidden = !text;
}

function link(href, label, current) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = label;
  if (current) a.setAttribute("aria-current", "page");
  return a;
}

function currentNav(path) {
  if (path === "/" || path === "/index.html") return "/";
  const hit = NAV.find((n) => n.href !== "/" && (path === n.href || path.startsWith(n.href + "/")));
  return hit ? hit.href : null;
}

function render(header, me) {
  header.replaceChildren();
  header.classList.add("site-header");
  const inner = document.createElement("div");
  inner.className = "site-header-inner";
  const brand = link("/", "parlor", false);
  brand.className = "brand";
  brand.setAttribute("aria-label", "parlor home");
  inner.append(brand);
  const nav = document.createElement("nav");
  nav.className = "site-nav";
  nav.setAttribute("aria-label", "Main");
  const here = currentNav(location.pathname);
  if (me) {
    for (const item of NAV) {
      if (item.coachOnly && !me.coach_id && me.user.role !== "admin") continue;
      if (item.adminOnly && me.user.role !== "admin") continue;
      nav.append(link(item.href, item.label, item.href === here));
    }
    const out = document.createElement("button");
    out.type = "button";
    out.className = "btn btn-quiet nav-logout";
    out.textContent = "Log out";
    out.addEventListener("click", async () => {
      out.disabled = true;
      try {
        await api("POST", "/api/auth/logout");
        location.assign("/login");
      } catch (e) {
        out.disabled = false;
        banner(humanError(e));
      }
    });
    nav.append(out);
  } else {
    nav.append(link("/login", "Log in", location.pathname === "/login"));
    nav.append(link("/signup", "Sign up", location.pathname === "/signup"));
  }
  inner.append(nav);
  header.append(inner);
}

function banner(text) {
  let el = document.getElementById("app-status");
  if (!el) {
    el = document.createElement("p");
    el.id = "app-status";
    const main = document.querySelector("main") || document.body;
    main.prepend(el);
  }
  say(el, text, "error");
}

export async function shell({ title, requireLogin = true } = {}) {
  document.title = title ? `${title} · parlor` : "parlor";
  let header = document.getElementById("app-header");
  if (!header) {
    header = document.createElement("header");
    header.id = "app-header";
    document.body.prepend(header);
  }
  let me;
  try {
    me = await currentUser();
  } catch (e) {
    render(header, null);
    banner(humanError(e));
    throw e;
  }
  if (!me && requireLogin) {
    const next = location.pathname + location.search;
    // A link's #fragment (a voice session's join token) must not travel in a query string,
    // where it would reach the server and its logs: it waits in this tab's storage instead.
    if (location.hash) sessionStorage.setItem(HASH_KEY, JSON.stringify({ next, hash: location.hash }));
    location.replace(`/login?next=${encodeURIComponent(next)}`);
    return new Promise(() => {});
  }
  render(header, me);
  return me;
}

const HASH_KEY = "parlor.next-hash";

export function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  const safe = next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
  let kept = null;
  try { kept = JSON.parse(sessionStorage.getItem(HASH_KEY) || "null"); } catch { kept = null; }
  sessionStorage.removeItem(HASH_KEY);
  return kept && kept.next === safe && typeof kept.hash === "string" ? safe + kept.hash : safe;
}
