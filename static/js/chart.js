// Charts with TradingView's lightweight-charts (vendored, global `LightweightCharts`):
// Home's equity curve and the trade page's candlesticks, which follow live quotes (live.js).
// Times are shown as the exchange reads them (America/New_York), with dates, and each new
// session (New York day) of an intraday chart is marked with its date.
const { createChart, createSeriesMarkers, AreaSeries, CandlestickSeries } = window.LightweightCharts;

const COLORS = { text: "#16191d", grid: "#e3e7ec", accent: "#0b5cad", up: "#0a6b36", down: "#b0261c" };
const BAR_SECONDS = { "1Min": 60, "5Min": 300, "1Hour": 3600 };
const EXCHANGE_TIME_ZONE = "America/New_York";
const inExchangeZone = (options) => new Intl.DateTimeFormat("en-US", { timeZone: EXCHANGE_TIME_ZONE, ...options });
const DAY = inExchangeZone({ month: "short", day: "numeric" });
const DAY_TIME = inExchangeZone({ weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
const TIME = inExchangeZone({ hour: "numeric", minute: "2-digit" });
const YEAR_MONTH = inExchangeZone({ year: "numeric", month: "short" });
const dateOf = (seconds) => new Date(seconds * 1000);

// Tick marks: a new day (or month, year) shows its date, other marks the time, all in New York.
function tickMark(seconds, tickMarkType) {
  if (tickMarkType <= 1) return YEAR_MONTH.format(dateOf(seconds)); // Year, Month
  if (tickMarkType === 2) return DAY.format(dateOf(seconds)); // DayOfMonth
  return TIME.format(dateOf(seconds));
}

// A marker on the first bar of each New York day: where one session ends and the next begins.
function sessionMarkers(data) {
  let previous = null;
  return data.flatMap((bar) => {
    const day = DAY.format(dateOf(bar.time));
    const marker = previous !== null && day !== previous
      ? [{ time: bar.time, position: "aboveBar", shape: "arrowDown", color: COLORS.text, text: day }] : [];
    previous = day;
    return marker;
  });
}

function chartIn(container) {
  return createChart(container, {
    autoSize: true,
    layout: { background: { color: "#ffffff" }, textColor: COLORS.text },
    grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
    timeScale: { timeVisible: true, secondsVisible: false, tickMarkFormatter: tickMark },
    localization: {
      timeFormatter: (seconds) => `${DAY_TIME.format(dateOf(seconds))} ET`,
      priceFormatter: (p) => `$${p.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 8 })}` },
  });
}

function dataFrom(id) {
  const script = document.getElementById(id);
  return script ? JSON.parse(script.textContent) : null;
}

function equityCurve() {
  const container = document.getElementById("equity-chart");
  const points = dataFrom("equity-curve-data");
  if (!container || !points) return;
  if (points.length === 0) {
    container.hidden = true;
    document.getElementById("equity-chart-empty").hidden = false;
    return;
  }
  const series = chartIn(container).addSeries(AreaSeries, {
    lineColor: COLORS.accent, topColor: "rgba(11, 92, 173, 0.25)", bottomColor: "rgba(11, 92, 173, 0.02)",
  });
  series.setData(points.map((p) => ({ time: p.time, value: Number(p.value) })));
}

function priceChart() {
  const container = document.getElementById("price-chart");
  const bars = dataFrom("price-chart-data");
  if (!container || !bars) return;
  if (bars.length === 0) document.getElementById("price-chart-empty").hidden = false;
  const chart = chartIn(container);
  const series = chart.addSeries(CandlestickSeries, {
    upColor: COLORS.up, downColor: COLORS.down, borderVisible: false, wickUpColor: COLORS.up, wickDownColor: COLORS.down,
  });
  const data = bars.map((b) => ({ time: b.time, open: +b.open, high: +b.high, low: +b.low, close: +b.close }));
  series.setData(data);
  if (BAR_SECONDS[container.dataset.timeframe]) createSeriesMarkers(series, sessionMarkers(data));
  chart.timeScale().scrollToRealTime();
  let last = data.at(-1) ?? null;
  const barSeconds = BAR_SECONDS[container.dataset.timeframe];

  // Each quote's last trade extends the newest candle or opens the next one (daily bars: only extends).
  document.addEventListener("live:quote", ({ detail: quote }) => {
    if (quote.symbol !== container.dataset.symbol || !quote.last || !quote.timestamp) return;
    const value = Number(quote.last);
    const seconds = Math.floor(Date.parse(quote.timestamp) / 1000);
    const bucket = barSeconds ? seconds - (seconds % barSeconds) : last?.time;
    if (bucket === undefined) return;
    if (last && bucket < last.time) return; // an old quote (snapshot) behind the chart
    if (last && bucket === last.time) {
      last = { ...last, high: Math.max(last.high, value), low: Math.min(last.low, value), close: value };
    } else {
      last = { time: bucket, open: last ? last.close : value, high: value, low: value, close: value };
    }
    series.update(last);
  });
}

equityCurve();
priceChart();
