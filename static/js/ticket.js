// The order ticket: shows only the fields the chosen order needs, keeps dollar amounts to market
// orders, and checks minimums and fractionability before anything is sent. The server checks it all
// again (trading.risk): this only saves a round trip and explains the rule where the user is typing.
// Delegated listeners: htmx replaces the ticket after each step.

function ticketOf(element) {
  return element.closest("form.ticket");
}

function checked(form, name) {
  return form.querySelector(`input[name="${name}"]:checked`)?.value;
}

function showFields(form) {
  const type = form.elements.type.value;
  const amountIn = checked(form, "amount_in");
  // Why Dollars went away: said next to the order type rather than switched silently.
  form.querySelector("#ticket-note").hidden = type === "market";
  for (const block of form.querySelectorAll("[data-order-types]")) {
    block.hidden = !block.dataset.orderTypes.split(" ").includes(type);
  }
  for (const block of form.querySelectorAll("[data-amount-in]")) {
    block.hidden = block.dataset.amountIn !== amountIn;
  }
  const orderClass = form.elements.order_class?.value || "simple";
  for (const block of form.querySelectorAll("[data-order-classes]")) {
    block.hidden = !block.dataset.orderClasses.split(" ").includes(orderClass);
  }
}

function setAmountIn(form, value) {
  const radio = form.querySelector(`input[name="amount_in"][value="${value}"]`);
  if (radio) radio.checked = true;
}

/** The first rule the ticket breaks, as a sentence; null when it may be sent. */
function problem(form) {
  const { crypto, fractionable, minOrderSize, symbol } = form.dataset;
  const wholeOnly = crypto !== "true" && fractionable !== "true";
  if (checked(form, "amount_in") === "dollars") {
    const amount = Number(form.elements.notional.value.replace(/[$,]/g, ""));
    if (!form.elements.notional.value.trim()) return "Enter an amount in dollars.";
    if (!(amount > 0)) return "The amount must be a positive number.";
    if (amount < 1) return "Dollar orders are at least $1.00.";
    if (wholeOnly) return `${symbol} trades in whole shares only: choose Shares.`;
    return null;
  }
  const quantity = Number(form.elements.qty.value.replace(/,/g, ""));
  if (!form.elements.qty.value.trim()) return "Enter a quantity.";
  if (!(quantity > 0)) return "The quantity must be a positive number.";
  if (minOrderSize && quantity < Number(minOrderSize)) return `The minimum order is ${Number(minOrderSize)}.`;
  if (wholeOnly && !Number.isInteger(quantity)) return `${symbol} trades in whole shares only.`;
  return null;
}

document.addEventListener("change", (event) => {
  const form = ticketOf(event.target);
  if (!form) return;
  const type = form.elements.type;
  // Dollar amounts are for market orders only (the API's rule): keep the two choices consistent; the
  // note (showFields) says why. The dollars typed stay in their box for a switch back to Market.
  if (event.target === type && type.value !== "market") setAmountIn(form, "shares");
  if (event.target.name === "amount_in" && event.target.value === "dollars") type.value = "market";
  // Bracket, OTO and OCO orders are for a quantity of shares (the API's rule), like limit orders.
  if (event.target.name === "order_class" && event.target.value !== "simple") setAmountIn(form, "shares");
  if (event.target.name === "amount_in" && event.target.value === "dollars" && form.elements.order_class) {
    form.elements.order_class.value = "simple";
  }
  showFields(form);
});

// "Sell all": the whole position as a share quantity (a dollar sell would need a price buffer on top).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-sell-all]");
  const form = button && ticketOf(button);
  if (!form) return;
  form.querySelector('input[name="side"][value="sell"]').checked = true;
  setAmountIn(form, "shares");
  form.elements.type.value = "market";
  form.elements.qty.value = button.dataset.sellAll.replaceAll(",", "");
  showFields(form);
  form.elements.qty.focus();
});

// Capture phase: runs before htmx's own submit handler on the form, so a refused ticket is never sent.
document.addEventListener(
  "submit",
  (event) => {
    const form = ticketOf(event.target);
    if (!form) return;
    // The server's errors were about the order as it was last sent: they go before anything new is said.
    for (const stale of form.querySelectorAll(".errorlist, .form-error")) stale.remove();
    for (const field of form.querySelectorAll(".field.invalid")) field.classList.remove("invalid");
    const message = problem(form);
    const box = form.querySelector("#ticket-check");
    box.hidden = message === null;
    box.textContent = message ?? "";
    if (message !== null) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);

// The review step of a sell: the shares typed against tax lots, added up as the customer types (the
// server refuses lots that do not add up to the order; this says so before Place).
document.addEventListener("input", (event) => {
  const choice = event.target.closest("#lot-choice");
  if (!choice) return;
  const wanted = Number(choice.dataset.orderQty.replaceAll(",", ""));
  let chosen = 0;
  let typed = false;
  for (const box of choice.querySelectorAll("input[data-lot-open]")) {
    if (!box.value.trim()) continue;
    typed = true;
    chosen += Number(box.value.replaceAll(",", ""));
  }
  // Rounded to the 9 decimals quantities keep, so 0.1 + 0.2 reads as 0.3.
  const total = Math.round(chosen * 1e9) / 1e9;
  choice.querySelector("#lot-choice-total").textContent = !typed
    ? ""
    : total === wanted
      ? `${total} of ${wanted} shares chosen.`
      : `${total} of ${wanted} shares chosen: the lots must add up to ${wanted}.`;
});
