// Live data for every signed-in page: /ws/quotes and /ws/trades with reconnect (exponential backoff
// with jitter), the connected/reconnecting indicator, REST snapshots while the quote socket is down,
// quote flashes, and trade updates read out in the aria-live region.
//
// Pages opt in with data attributes: an element with data-quote-symbol="AAPL" data-field="bid|ask|last|
// change|stale|timestamp" follows that symbol. Other modules listen for the DOM events this one dispatches:
// "live:quote" (detail: quote message) on document, "account-changed" on <body> (htmx re-fetches).
import { etTime, percent, price, qty, signedMoney } from "./format.js";

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30000;
const SNAPSHOT_POLL_MS = 5000;
const CLOSE_UNAUTHENTICATED = 4401;

/** A WebSocket that comes back: waits 0.5 s, 1 s, 2 s … (capped at 30 s), each wait jittered ±50 %. */
class ReconnectingSocket {
  constructor(path, { onOpen, onMessage, onStateChange }) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    Object.assign(this, { onOpen, onMessage, onStateChange });
    this.attempt = 0;
    this.open = false;
    this.connect();
  }

  connect() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.open = true;
      this.onStateChange();
      this.onOpen(this);
    });
    socket.addEventListener("message", (event) => {
      try {
        this.onMessage(JSON.parse(event.data));
      } catch (error) {
        console.error("live: bad frame", error);
      }
    });
    socket.addEventListener("close", (event) => {
      this.open = false;
      this.onStateChange();
      if (event.code === CLOSE_UNAUTHENTICATED) return; // signed out: reconnecting cannot help
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt++);
      setTimeout(() => this.connect(), ceiling / 2 + Math.random() * ceiling / 2);
    });
  }

  send(message) {
    if (this.open) this.socket.send(JSON.stringify(message));
  }
}

// --- Connection indicator -----------------------------------------------------------
const indicator = document.getElementById("connection");
const sockets = [];

let wasConnected = false;

function showConnectionState() {
  if (!indicator) return;
  const connected = sockets.length > 0 && sockets.every((s) => s.open);
  wasConnected ||= connected;
  if (!connected && !wasConnected) return; // still "Connecting…" as rendered
  indicator.dataset.state = connected ? "connected" : "reconnecting";
  indicator.querySelector(".connection-label").textContent = connected ? "Live" : "Reconnecting…";
}

// --- Quotes ---------------------------------------------------------------------------
const subscribed = new Set();

function symbolsOnPage() {
  return [...new Set([...document.querySelectorAll("[data-quote-symbol]")].map((el) => el.dataset.quoteSymbol))];
}

function flash(element, direction) {
  element.classList.remove("flash-up", "flash-down");
  void element.offsetWidth; // restart the animation
  element.classList.add(direction > 0 ? "flash-up" : "flash-down");
}

function applyQuote(quote) {
  if (!quote || !quote.symbol) return;
  for (const element of document.querySelectorAll(`[data-quote-symbol="${CSS.escape(quote.symbol)}"]`)) {
    const field = element.dataset.field;
    if (field === "stale") {
      element.hidden = !quote.stale;
    } else if (field === "timestamp") {
      if (!quote.timestamp) continue;
      element.dateTime = quote.timestamp;
      element.textContent = etTime(quote.timestamp);
    } else if (field === "change") {
      const previousClose = Number(element.dataset.prevClose);
      if (!quote.last || !previousClose) continue;
      const change = Number(quote.last) - previousClose;
      element.textContent = `${signedMoney(change)} (${percent(change / previousClose)})`;
      element.classList.toggle("up", change > 0);
      element.classList.toggle("down", change < 0);
    } else if (quote[field]) {
      const previous = element.dataset.value;
      if (previous === quote[field]) continue;
      element.dataset.value = quote[field];
      element.textContent = price(quote[field]);
      if (previous !== undefined) flash(element, Number(quote[field]) - Number(previous));
    }
  }
  document.dispatchEvent(new CustomEvent("live:quote", { detail: quote }));
}

function subscribeNewSymbols(socket) {
  const fresh = symbolsOnPage().filter((symbol) => !subscribed.has(symbol));
  if (fresh.length === 0) return;
  fresh.forEach((symbol) => subscribed.add(symbol));
  socket.send({ action: "subscribe", symbols: fresh });
}

async function pollSnapshots() {
  const symbols = symbolsOnPage();
  if (symbols.length === 0) return;
  try {
    const response = await fetch(`/api/v1/quotes?symbols=${encodeURIComponent(symbols.join(","))}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const body = await response.json();
    Object.values(body.quotes || {}).forEach(applyQuote);
  } catch {
    // offline: the next poll or the socket's return will catch up
  }
}

// --- Trade and account updates -----------------------------------------------------
const announcer = document.getElementById("live-announcer");
let accountChangeTimer = null;

function accountChanged() {
  // Several updates (new, fill, account) arrive together: re-fetch once.
  clearTimeout(accountChangeTimer);
  accountChangeTimer = setTimeout(() => document.body.dispatchEvent(new CustomEvent("account-changed")), 300);
}

function describe(update) {
  const order = update.order;
  const side = order.side === "buy" ? "Buy" : "Sell";
  const amount = order.notional ? `${price(order.notional)} of` : qty(order.qty);
  const what = `${side} ${amount} ${order.symbol}`;
  switch (update.event) {
    case "fill":
      return `Filled: ${what}, ${qty(update.qty)} at ${price(update.price)}.`;
    case "partial_fill":
      return `Partly filled: ${what}, ${qty(update.qty)} at ${price(update.price)}.`;
    default:
      return `${what}: ${order.status.replaceAll("_", " ")}.`;
  }
}

// Newest status per order seen on the stream: a fill can arrive before the ticket's response that
// shows the order, so the status is applied again whenever htmx swaps content in.
const orderStatuses = new Map();

function showOrderStatuses() {
  for (const [orderId, status] of orderStatuses) {
    const placed = document.querySelector(`#order-status[data-order-id="${orderId}"] [data-field="status"]`);
    if (placed) placed.textContent = status;
    const rowBadge = document.querySelector(`#order-${CSS.escape(orderId)} .badge`);
    if (rowBadge) rowBadge.textContent = status;
  }
}

function applyTradeUpdate(update) {
  const order = update.order;
  orderStatuses.set(order.id, order.status.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase()));
  showOrderStatuses();
  if (announcer && update.event !== "new") announcer.textContent = describe(update);
  accountChanged();
}

// --- Start ---------------------------------------------------------------------------
let pollTimer = null;

const quotes = new ReconnectingSocket("/ws/quotes", {
  onOpen(socket) {
    subscribed.clear();
    subscribeNewSymbols(socket);
  },
  onMessage(message) {
    if (Array.isArray(message)) message.forEach(applyQuote);
  },
  onStateChange() {
    showConnectionState();
    // While the quote socket is down, prices still move: poll the REST snapshot instead.
    if (this.open) {
      clearInterval(pollTimer);
      pollTimer = null;
    } else if (pollTimer === null) {
      pollTimer = setInterval(pollSnapshots, SNAPSHOT_POLL_MS);
    }
  },
});
sockets.push(quotes);

let tradesWereOpen = false;
const trades = new ReconnectingSocket("/ws/trades", {
  onOpen() {
    if (tradesWereOpen) accountChanged(); // fills may have happened while we were away
    tradesWereOpen = true;
  },
  onMessage(message) {
    document.dispatchEvent(new CustomEvent("live:trades", { detail: message })); // notifications.js and others
    if (message.type === "trade_updates") applyTradeUpdate(message);
    else if (message.type === "account_updates") accountChanged();
  },
  onStateChange: showConnectionState,
});
sockets.push(trades);
showConnectionState();

// Content swapped in by htmx (a refreshed positions table) may name new symbols.
document.body.addEventListener("htmx:afterSettle", () => {
  subscribeNewSymbols(quotes);
  showOrderStatuses();
});
