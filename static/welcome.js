// The set-up guide's live "waiting for the first delivery…": asks the server every 2 s for a
// delivery newer than the last one seen, and shows it (or why it was refused) in place.
"use strict";

(() => {
  const box = document.getElementById("first-delivery");
  if (!box) return;
  const endpoint = box.dataset.endpoint;
  let since = box.dataset.since || "0";
  const waiting = box.querySelector("[data-state=waiting]");

  const element = (tag, text, className) => {
    const made = document.createElement(tag);
    if (text) made.textContent = text;
    if (className) made.className = className;
    return made;
  };

  const link = (href, text) => {
    const made = element("a", text);
    made.href = href;
    return made;
  };

  const show = (delivery) => {
    const card = element("div", "", `delivery-arrived ${delivery.verified ? "arrived-ok" : "arrived-refused"}`);
    card.dataset.outcome = delivery.outcome;
    const head = element("p");
    head.append(
      element("span", delivery.verified ? "received" : `refused ${delivery.status_code}`, `pill ${delivery.verified ? "ok" : "danger"}`),
      " ",
      element("strong", delivery.kind),
      ` · ${delivery.when}`,
    );
    card.append(head, element("p", delivery.explanation, "small"));
    if (delivery.reason) card.append(element("p", delivery.reason, "mono small wrap"));
    const links = element("p", "", "small");
    if (delivery.lead_url) links.append(link(delivery.lead_url, "Open the lead"), " · ");
    links.append(link(delivery.details_url, "Delivery details"));
    card.append(links);
    box.querySelectorAll(".delivery-arrived").forEach((old) => old.remove());
    box.insertBefore(card, waiting);
  };

  const poll = async () => {
    let answer = null;
    try {
      const response = await fetch(`${endpoint}?since=${encodeURIComponent(since)}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const type = response.headers.get("content-type") || "";
      if (response.ok && type.includes("application/json")) answer = await response.json();
    } catch (error) {
      answer = null; // offline for a moment: ask again
    }
    if (answer && answer.status === "received") {
      since = String(answer.delivery.id);
      show(answer.delivery);
      if (answer.delivery.verified) {
        waiting.hidden = true;
        const onward = document.querySelector(".welcome-nav a.button");
        if (onward) {
          onward.textContent = "Next"; // this step is done now, not skipped
          onward.classList.remove("secondary");
        }
        return; // the path works: nothing more to wait for
      }
      waiting.lastChild.textContent = " Waiting for the next delivery…";
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
})();
