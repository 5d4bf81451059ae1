// dom.js — tiny DOM helpers shared by the pages (no framework).
//
//   h(tag, props, ...children) — create an element. props: class, text, html is NOT
//     supported (no innerHTML anywhere); on* functions become listeners; `attrs` sets
//     attributes; other keys are set as properties. Children: nodes, strings, arrays, null.
//   markReady() — sets <body data-ready="true"> once a page has rendered (tests wait on it).
//   toast(text) — a short polite message at the bottom of the screen.
//   sentence(text) — capitalise the first letter and end with a full stop.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "for") el.htmlFor = v;
    else if (k === "attrs") for (const [a, av] of Object.entries(v)) { if (av !== null && av !== undefined && av !== false) el.setAttribute(a, av === true ? "" : av); }
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function markReady() {
  document.body.dataset.ready = "true";
}

export function toast(text) {
  let region = document.getElementById("toasts");
  if (!region) {
    region = h("div", { id: "toasts", class: "toast-region", attrs: { "aria-live": "polite", role: "status" } });
    document.body.append(region);
  }
  const t = h("div", { class: "toast", text });
  region.append(t);
  setTimeout(() => t.remove(), 5000);
}

export function sentence(text) {
  const s = String(text || "").trim();
  if (!s) return s;
  const c = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(c) ? c : c + ".";
}
