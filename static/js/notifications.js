// Notification centre, live: live.js re-dispatches every /ws/trades message as `live:trades`;
// a `notifications` message carries the new unread count and (when one arrived) the notification.
const badge = () => document.getElementById("notification-badge");

function showUnread(count) {
  const el = badge();
  if (!el) return;
  el.dataset.unread = String(count);
  el.replaceChildren();
  if (count > 0) {
    const number = document.createElement("span");
    number.className = "badge";
    number.textContent = String(count);
    const words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = " unread";
    el.append(number, words);
  }
}

document.addEventListener("live:trades", (event) => {
  const message = event.detail;
  if (message.type !== "notifications") return;
  if (typeof message.unread_count === "number") showUnread(message.unread_count);
  // Orders are read out by live.js from the trade update itself; the rest is read out here.
  if (message.event === "created" && message.notification && message.notification.category !== "orders") {
    const announcer = document.getElementById("live-announcer");
    if (announcer) announcer.textContent = `${message.notification.title}. ${message.notification.body}`;
  }
  document.body.dispatchEvent(new CustomEvent("notifications-changed"));
});
