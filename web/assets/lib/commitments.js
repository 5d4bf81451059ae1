// commitments.js — the commitments list with its "add" form, shared by the client's dashboard
// and the coach's session cards. Commitments are what a client agreed to do; the AI coach is
// told the open ones.
//
//   commitmentsPanel({ idPrefix, clientId, owner, emptyText }) -> { el, load() }
//     idPrefix  — unique prefix for element ids (several panels can share a page);
//     clientId  — whose commitments (a client of the coach); omitted: the viewer's own;
//     owner     — the viewer owns them: items can be ticked off and deleted;
//     emptyText — what to say when there are none.
//   load() fetches and renders the list; it resolves once the list is shown.
import { api, humanError } from "./api.js";
import { say } from "./shell.js";
import { h, sentence } from "./dom.js";

export function commitmentsPanel({ idPrefix, clientId, owner, emptyText }) {
  const query = clientId ? `?client_id=${encodeURIComponent(clientId)}` : "";
  const status = h("p", { id: `${idPrefix}-status`, hidden: true });
  const list = h("ul", { class: "list commitments", attrs: { "aria-label": "Commitments" } });
  const empty = h("p", { class: "empty", text: emptyText, hidden: true });

  const render = (items) => {
    list.replaceChildren(...items.map(item));
    empty.hidden = items.length > 0;
    list.hidden = items.length === 0;
  };
  const load = async () => {
    try {
      render(await api("GET", `/api/commitments${query}`));
    } catch (e) {
      say(status, `The commitments could not be loaded. ${sentence(humanError(e))}`, "error");
    }
  };

  function item(c) {
    const due = c.due_date ? h("span", { class: "muted small", text: ` · due ${c.due_date}` }) : null;
    const text = h("span", { class: c.status === "done" ? "done" : "" }, c.text, due);
    const li = h("li", { class: "list-item commitment-item", attrs: { "data-commitment": c.id } });
    if (!owner) {
      li.append(text, c.status === "done" ? h("span", { class: "badge", text: "done" }) : "");
      return li;
    }
    const id = `${idPrefix}-done-${c.id}`;
    const box = h("input", { type: "checkbox", id, class: "commitment-done", checked: c.status === "done" });
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        await api("PATCH", `/api/commitments/${encodeURIComponent(c.id)}`, { status: box.checked ? "done" : "open" });
        say(status, box.checked ? "Marked as done." : "Open again.", "ok");
      } catch (e) {
        box.checked = !box.checked;
        say(status, `Not saved. ${sentence(humanError(e))}`, "error");
      } finally {
        box.disabled = false;
      }
    });
    const del = h("button", { type: "button", class: "btn btn-quiet btn-small delete-commitment", text: "Delete",
      attrs: { "aria-label": `Delete “${c.text}”` } });
    del.addEventListener("click", async () => {
      del.disabled = true;
      try {
        await api("DELETE", `/api/commitments/${encodeURIComponent(c.id)}`);
        say(status, "Commitment deleted.", "ok");
        await load();
      } catch (e) {
        del.disabled = false;
        say(status, `Not deleted. ${sentence(humanError(e))}`, "error");
      }
    });
    li.append(h("label", { class: "day-toggle commitment", for: id }, box, text), del);
    return li;
  }

  const textInput = h("input", { id: `${idPrefix}-text`, maxLength: 500, autocomplete: "off", required: true });
  const dueInput = h("input", { id: `${idPrefix}-due`, type: "date" });
  const add = h("button", { type: "submit", class: "btn add-commitment", text: "Add" });
  const form = h("form", { class: "stack commitment-form", attrs: { novalidate: true } },
    h("div", { class: "field" }, h("label", { for: `${idPrefix}-text`, text: "New commitment" }), textInput),
    h("div", { class: "field" }, h("label", { for: `${idPrefix}-due`, text: "Due (optional)" }), dueInput),
    h("div", { class: "row" }, add));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = textInput.value.trim();
    if (!text) { say(status, "Please write the commitment first.", "error"); textInput.focus(); return; }
    add.disabled = true;
    try {
      const body = { text, due_date: dueInput.value || null };
      if (clientId) body.client_id = clientId;
      await api("POST", "/api/commitments", body);
      textInput.value = "";
      dueInput.value = "";
      say(status, "Commitment added.", "ok");
      await load();
    } catch (e) {
      say(status, `The commitment was not added. ${sentence(humanError(e))}`, "error");
    } finally {
      add.disabled = false;
    }
  });

  return { el: h("div", { class: "stack" }, list, empty, form, status), load };
}
