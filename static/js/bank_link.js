// "Link a bank" (BANK_RAIL=plaid): ask our server for a Link token, open Plaid Link, and send
// the public token back to our server, which exchanges it and checks the account's owner.
// Plaid Link's script is the one thing that must come from Plaid's host; if it cannot load,
// the section says so and the rest of the page keeps working.

const section = document.getElementById("bank-link");

function say(text) {
  section.querySelector("[data-bank-link-status]").textContent = text;
}

function csrfToken() {
  return section.querySelector("input[name=csrfmiddlewaretoken]").value;
}

async function post(url, fields = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken() },
    body: new URLSearchParams(fields),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || "The bank could not be linked.");
  return data;
}

function loadLinkScript() {
  return new Promise((resolve, reject) => {
    if (window.Plaid) return resolve(window.Plaid);
    const script = document.createElement("script");
    script.src = section.dataset.linkScript;
    script.onload = () => (window.Plaid ? resolve(window.Plaid) : reject(new Error("no Plaid")));
    script.onerror = () => reject(new Error("blocked"));
    document.head.appendChild(script);
  });
}

async function linkBank(button) {
  button.disabled = true;
  say("Opening Plaid…");
  try {
    let Plaid;
    try {
      Plaid = await loadLinkScript();
    } catch {
      say("Plaid Link could not load from cdn.plaid.com (offline or blocked). Linking a bank needs it; everything else works without it.");
      section.dataset.linkUnavailable = "true";
      return;
    }
    const { link_token: token } = await post(section.dataset.tokenUrl);
    const handler = Plaid.create({
      token,
      onSuccess: async (publicToken, metadata) => {
        try {
          const result = await post(section.dataset.exchangeUrl, {
            public_token: publicToken,
            account_id: metadata.accounts?.[0]?.id || metadata.account_id || "",
            institution_name: metadata.institution?.name || "",
          });
          say(result.message);
          document.body.dispatchEvent(new Event("account-changed"));
        } catch (error) {
          say(error.message);
        }
      },
      onExit: (error) => say(error ? error.display_message || "Linking was not finished." : ""),
    });
    handler.open();
  } catch (error) {
    say(error.message);
  } finally {
    button.disabled = false;
  }
}

if (section) {
  section.querySelector("[data-bank-link-open]").addEventListener("click", (event) => linkBank(event.currentTarget));
}
