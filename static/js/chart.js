// Charts with TradingView's lightweight-charts (vendored, global `LightweightCharts`):
// Home's equity curve and the trade page's candlesticks, which follow live quotes (live.js).
// Times are shown as the exchange reads them (America/New_York), with dates, and each new
// session (New York day) of an intraday chart is marked with its date.
const { createChart, createSeriesMarkers, AreaSeries, CandlestickSeries, HistogramSeries, LineSeries } = window.LightweightCharts;

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
    // Each series formats its own scale (dollars for prices, plain numbers for RSI, MACD and volume).
    localization: { timeFormatter: (seconds) => `${DAY_TIME.format(dateOf(seconds))} ET` },
  });
}

// Per series, not chart-wide: dollars for prices and equity, plain numbers for RSI, MACD and volume.
const DOLLARS = { type: "custom", minMove: 0.00000001, formatter: (p) => `$${p.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 8 })}` };
const PLAIN = { type: "custom", minMove: 0.01, formatter: (v) => v.toLocaleString("en-US", { maximumFractionDigits: 2 }) };

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
    lineColor: COLORS.accent, topColor: "rgba(11, 92, 173, 0.25)", bottomColor: "rgba(11, 92, 173, 0.02)", priceFormat: DOLLARS,
  });
  series.setData(points.map((p) => ({ time: p.time, value: Number(p.value) })));
}

// Indicators (marketdata.indicators, computed on the server from the same bars): overlays on the price pane,
// volume at its foot, RSI and MACD each in a pane of their own. A toggle adds or removes its lines at once
// (a pane left without series goes away with them).
const INDICATOR_STYLE = {
  sma: { lines: { sma: { color: "#7a3e9d" } } },
  ema: { lines: { ema: { color: "#c2570c" } } },
  bbands: { lines: { upper: { color: "#6b7785" }, middle: { color: "#9aa4ae", lineStyle: 2 }, lower: { color: "#6b7785" } } },
  volume: { lines: { volume: { color: "rgba(11, 92, 173, 0.3)", histogram: true, priceScaleId: "volume" } } },
  rsi: { ownPane: true, lines: { rsi: { color: "#7a3e9d" } } },
  macd: { ownPane: true, lines: { macd: { color: COLORS.accent }, signal: { color: "#c2570c" }, histogram: { color: "#9aa4ae", histogram: true } } },
};

function addIndicator(chart, style, values) {
  const pane = style.ownPane ? chart.panes().length : 0;
  return Object.entries(style.lines).map(([line, options]) => {
    const seriesOptions = {
      color: options.color, lineWidth: 1, lineStyle: options.lineStyle ?? 0, priceLineVisible: false, lastValueVisible: false,
      priceFormat: style.ownPane || options.priceScaleId ? PLAIN : DOLLARS,
    };
    if (options.priceScaleId) seriesOptions.priceScaleId = options.priceScaleId;
    const series = chart.addSeries(options.histogram ? HistogramSeries : LineSeries, seriesOptions, pane);
    if (options.priceScaleId) series.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    series.setData(values?.[line] ?? []);
    return series;
  });
}

function drawIndicators(chart, toggles) {
  const computed = dataFrom("price-chart-indicators");
  if (!computed || !toggles) return;
  const drawn = new Map();
  const show = () => {
    for (const box of toggles.querySelectorAll('input[name="indicator"]')) {
      const style = INDICATOR_STYLE[box.value];
      if (box.checked && !drawn.has(box.value) && style) drawn.set(box.value, addIndicator(chart, style, computed[box.value]));
      if (!box.checked && drawn.has(box.value)) {
        drawn.get(box.value).forEach((series) => chart.removeSeries(series));
        drawn.delete(box.value);
      }
    }
  };
  toggles.addEventListener("change", show);
  show();
}

function priceChart() {
  const container = document.getElementById("price-chart");
  const bars = dataFrom("price-chart-data");
  if (!container || !bars) return;
  if (bars.length === 0) document.getElementById("price-chart-empty").hidden = false;
  const chart = chartIn(container);
  const series = chart.addSeries(CandlestickSeries, {
    upColor: COLORS.up, downColor: COLORS.down, borderVisible: false, wickUpColor: COLORS.up, wickDownColor: COLORS.down,
    priceFormat: DOLLARS,
  });
  const data = bars.map((b) => ({ time: b.time, open: +b.open, high: +b.high, low: +b.low, close: +b.close }));
  series.setData(data);
  if (BAR_SECONDS[container.dataset.timeframe]) createSeriesMarkers(series, sessionMarkers(data));
  drawIndicators(chart, container.closest("section")?.querySelector(".indicator-toggles"));
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
