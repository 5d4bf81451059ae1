// sw.js — the service worker of Web Push: shows the notification a push carries (title, body,
// a tag that replaces an older one about the same session, the page to open) and opens that
// page, or focuses a tab already on it, when the notification is clicked; tells open pages
// of the site that it showed one. Nothing is cached.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let message = { title: "parlor", body: "", url: "/", tag: "parlor" };
  try {
    if (event.data) message = { ...message, ...event.data.json() };
  } catch {
    if (event.data) message.body = event.data.text();
  }
  event.waitUntil((async () => {
    await self.registration.showNotification(message.title, {
      body: message.body,
      tag: message.tag,
      renotify: true,
      data: { url: message.url },
    });
    // Open pages of the site may show it too (and tests learn it was shown).
    for (const client of await self.clients.matchAll({ type: "window" })) {
      client.postMessage({ type: "notified", tag: message.tag });
    }
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const same = open.find((c) => c.url === url);
    if (same) return same.focus();
    return self.clients.openWindow(url);
  })());
});
