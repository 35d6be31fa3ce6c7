// "Turn on push notifications in this browser" (Settings → Notifications): registers the service worker,
// subscribes with the server's VAPID key and sends the subscription to POST /api/v1/devices.
const button = document.getElementById("push-enable");
const status = document.getElementById("push-status");

function say(text) {
  if (status) status.textContent = text;
}

function keyBytes(base64url) {
  const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function enable() {
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]")?.value;
  const { public_key: key } = await (await fetch("/api/v1/devices/webpush-key", { credentials: "same-origin" })).json();
  if (!key) return say("Push notifications are not set up on this server.");
  const registration = await navigator.serviceWorker.register("/service-worker.js");
  if ((await Notification.requestPermission()) !== "granted") return say("Notifications are blocked in this browser.");
  const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  const response = await fetch("/api/v1/devices", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify({ kind: "webpush", label: navigator.userAgent.slice(0, 100), ...subscription.toJSON() }),
  });
  say(response.ok ? "Push notifications are on for this browser." : "Could not turn push notifications on.");
}

if (button) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    button.disabled = true;
    say("This browser does not support push notifications.");
  } else {
    button.addEventListener("click", () => enable().catch(() => say("Could not turn push notifications on.")));
  }
}
