// The inbox at speed: selecting rows, the keyboard, a live list, and keeping one's place.
// Every part is an enhancement: without script the list, its forms and its links still work.
"use strict";

(() => {
  const bulk = document.getElementById("bulk");
  const list = document.getElementById("leads");
  const scrollKey = "inbox-scroll";

  const typing = (target) =>
    target instanceof HTMLElement &&
    (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));

  // ---- keeping one's place ------------------------------------------------------------------
  // Leaving the list for a lead remembers where the list was scrolled; coming back to the same
  // list URL (by "← Leads" or the browser's back) scrolls there again.
  const here = () => {  // the list, whatever order its parameters came in
    const query = new URLSearchParams(location.search);
    query.sort();
    return `${location.pathname}?${query}`;
  };
  if (list) {
    const remember = () =>
      sessionStorage.setItem(scrollKey, JSON.stringify({ url: here(), y: window.scrollY }));
    list.addEventListener("click", (event) => {
      if (event.target.closest("a.item-link")) remember();
    });
    window.addEventListener("pagehide", remember);
    const saved = JSON.parse(sessionStorage.getItem(scrollKey) || "null");
    const navigation = performance.getEntriesByType("navigation")[0];
    const returning = sessionStorage.getItem("inbox-return") === "1" ||
      (navigation && navigation.type === "back_forward");
    sessionStorage.removeItem("inbox-return");
    if (saved && saved.url === here() && returning) {
      history.scrollRestoration = "manual";  // ours, not the browser's guess from a reload
      const restore = () => window.scrollTo(0, saved.y);
      restore();
      window.addEventListener("load", () => requestAnimationFrame(restore), { once: true });
    }
  }
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-back-to-list]")) sessionStorage.setItem("inbox-return", "1");
  });

  // ---- selection ---------------------------------------------------------------------------
  const boxes = () => (list ? [...list.querySelectorAll("input[name=lead]")] : []);
  const pickPage = bulk && bulk.querySelector("[data-pick-page]");
  const pickAll = bulk && bulk.querySelector("[data-pick-all]");
  const picked = bulk && bulk.querySelector("[data-picked]");

  const showPicked = () => {
    if (!bulk) return;
    const chosen = boxes().filter((box) => box.checked);
    for (const box of boxes()) box.closest(".item").classList.toggle("is-picked", box.checked);
    if (pickPage) pickPage.checked = chosen.length > 0 && chosen.length === boxes().length;
    if (pickAll && pickAll.checked) {
      picked.textContent = "Every lead this filter matches";
    } else {
      picked.textContent = chosen.length ? `${chosen.length} selected` : "";
    }
    bulk.classList.toggle("has-picked", chosen.length > 0 || Boolean(pickAll && pickAll.checked));
  };

  if (bulk) {
    bulk.addEventListener("change", (event) => {
      if (event.target === pickPage) {
        for (const box of boxes()) box.checked = pickPage.checked;
        if (!pickPage.checked && pickAll) pickAll.checked = false;
      } else if (event.target === pickAll && pickAll.checked) {
        for (const box of boxes()) box.checked = true;
      }
      showPicked();
    });
    bulk.addEventListener("submit", (event) => {
      const chosen = boxes().filter((box) => box.checked).length;
      if (!chosen && !(pickAll && pickAll.checked)) {
        event.preventDefault();
        picked.textContent = "Select leads first (x, or the boxes)";
      }
    });
    bulk.dataset.ready = "1";  // the phone shows the actions once something is picked
    showPicked();
  }

  // ---- the keyboard (desktop) ---------------------------------------------------------------
  let focused = -1;
  const rows = () => (list ? [...list.querySelectorAll(".item")] : []);
  const focus = (index) => {
    const all = rows();
    if (!all.length) return;
    focused = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, i) => row.classList.toggle("is-focused", i === focused));
    all[focused].scrollIntoView({ block: "nearest" });
  };
  const current = () => rows()[focused];
  const archive = () => {
    const row = current();
    const anyPicked = boxes().some((box) => box.checked) || (pickAll && pickAll.checked);
    if (!anyPicked && row) row.querySelector("input[name=lead]").checked = true;
    if (!anyPicked && !row) return;
    bulk.requestSubmit(bulk.querySelector("[data-key-archive]"));
  };
  const keysDialog = document.getElementById("keys");

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const prev = document.querySelector("[data-key-prev]");
    const next = document.querySelector("[data-key-next]");
    if (!list) {  // a lead's page: j/k walk the list it was opened from
      if (event.key === "j" && next) location.href = next.href;
      if (event.key === "k" && prev) location.href = prev.href;
      return;
    }
    if (keysDialog && keysDialog.open) return;
    const actions = {
      j: () => focus(focused + 1),
      k: () => focus(focused < 0 ? 0 : focused - 1),
      x: () => {
        const row = current();
        if (!row) return;
        const box = row.querySelector("input[name=lead]");
        box.checked = !box.checked;
        showPicked();
      },
      e: archive,
      o: () => current() && current().querySelector("a.item-link").click(),
      Enter: () => current() && current().querySelector("a.item-link").click(),
      "/": () => {
        const search = document.querySelector("form.search input[name=q]");
        if (search) search.focus();
      },
      "?": () => keysDialog && keysDialog.showModal(),
    };
    const act = actions[event.key];
    if (!act) return;
    if (event.key === "Enter" && focused < 0) return;
    event.preventDefault();
    act();
  });

  // ---- the live list ------------------------------------------------------------------------
  // Every few seconds, while the tab is visible, ask for rows newer than the top one that match
  // this list's filter; only the newest page polls (the server marks it data-live).
  if (!bulk || !bulk.hasAttribute("data-live")) return;
  const every = 3000;
  let top = bulk.dataset.top || "";
  let timer = 0;
  let asking = false;
  const baseTitle = document.title.replace(/^\(\d+\) /, "");

  const showCount = (count) => {
    document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
    const tab = document.querySelector('.tabs a[href="/"]');
    if (tab) {
      let badge = tab.querySelector(".badge");
      if (count && !badge) {
        badge = document.createElement("span");
        badge.className = "badge";
        tab.append(" ", badge);
      }
      if (badge) {
        if (count) {
          badge.textContent = String(count);
          badge.title = `${count} new`;
        } else {
          badge.remove();
        }
      }
    }
    const header = document.querySelector("[data-new-count]");
    if (header) {
      header.textContent = "";
      if (count) {
        const strong = document.createElement("strong");
        strong.textContent = String(count);
        header.append(strong, " new");
      } else {
        header.textContent = "Nothing new";
      }
    }
  };

  const addRows = (html) => {
    const holder = document.createElement("ul");
    holder.innerHTML = html;  // our own server's rows, drawn (and escaped) by the list's macro
    const fresh = [...holder.children];
    for (const row of fresh) {
      const old = list.querySelector(`[data-lead-id="${row.dataset.leadId}"]`);
      if (old) old.remove();
      row.classList.add("is-arrived");
    }
    list.prepend(...fresh);
    list.hidden = false;
    const bar = bulk.querySelector(".bulkbar");
    if (bar) bar.hidden = false;
    const empty = document.querySelector(".empty");
    if (empty) empty.hidden = true;
    if (focused >= 0) focus(focused + fresh.length);
  };

  const poll = async () => {
    clearTimeout(timer);
    if (document.hidden || asking) return;  // resumed by visibilitychange, or already asking
    asking = true;
    try {
      const query = new URLSearchParams(bulk.dataset.liveQuery || "");
      if (top) query.set("top", top);
      const answer = await fetch(`/leads/live?${query}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (answer.ok) {
        const body = await answer.json();
        if (body.rows) addRows(body.rows);
        top = body.top || top;
        showCount(body.new_count);
      }
    } catch (error) {
      // Offline for a moment, or the server restarting: the next poll tries again.
    }
    asking = false;
    timer = setTimeout(poll, every);
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
  timer = setTimeout(poll, every);
})();
