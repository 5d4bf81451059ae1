// Shows whether the server and its database answer (GET /readyz).
const el = document.getElementById("status");
fetch("/readyz")
  .then((r) => { el.textContent = r.ok ? "The server and its database are ready." : "The server is up, but its database does not answer."; })
  .catch(() => { el.textContent = "The server cannot be reached."; });
