// SpeedTrade's service worker: shows Web Push notifications. A push carries no personal data (an id, a
// category, a generic line: notifications/push.py); a click opens the notification centre.
self.addEventListener("push", (event) => {
  const data = event.data ? event.data.json() : { title: "SpeedTrade", body: "New notification", url: "/notifications/" };
  event.waitUntil(self.registration.showNotification(data.title, { body: data.body, tag: data.id, data: { url: data.url } }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data?.url || "/notifications/"));
});
