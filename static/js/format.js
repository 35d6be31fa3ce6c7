// Display formats shared by the live modules; they mirror speedtrade/templatetags/numbers.py so a
// live update looks exactly like the server-rendered figure. Prices arrive as decimal strings and
// are formatted as strings (no float rounding of what the server sent).
const MINUS = "\u2212";

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "$1,234.50" from "1234.5": cents from $1 up, below $1 the decimals the price has ("$0.00001752"). */
export function price(text) {
  if (text === null || text === undefined || text === "") return "—";
  const negative = text.startsWith("-");
  let [whole, fraction = ""] = text.replace("-", "").split(".");
  if (whole !== "0" && fraction.length > 2) [whole, fraction] = Math.abs(Number(text)).toFixed(2).split(".");
  const digits = whole === "0" ? fraction.replace(/0+$/, "").slice(0, 8) : fraction;
  return `${negative ? MINUS : ""}$${group(whole)}.${digits.padEnd(2, "0")}`;
}

/** "+$12.30" / "−$12.30" for a display-only number (a change computed in the browser). */
export function signedMoney(value) {
  const [whole, cents] = Math.abs(value).toFixed(2).split(".");
  const sign = whole === "0" && cents === "00" ? "" : value > 0 ? "+" : MINUS;
  return `${sign}$${group(whole)}.${cents}`;
}

/** "+1.23%" from a ratio. */
export function percent(ratio) {
  const pct = ratio * 100;
  const sign = pct > 0.005 ? "+" : pct < -0.005 ? MINUS : "";
  return `${sign}${Math.abs(pct).toFixed(2)}%`;
}

/** "0.00032" / "12": a quantity as sent, trailing zeros dropped. */
export function qty(text) {
  if (!text) return "—";
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

const ET_TIME = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", weekday: "short", hour: "numeric", minute: "2-digit",
});

/** "Fri 7:59 PM ET": a moment as the exchange reads it (mirrors marketdata.market_status.et_label). */
export function etTime(iso) {
  return `${ET_TIME.format(new Date(iso)).replace(",", "")} ET`;
}
