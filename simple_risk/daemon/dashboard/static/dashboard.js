// simple-risk dashboard: renders one account's picture, pushed by the daemon over Server-Sent
// Events, and ticks its countdowns every second. Read-only: it never sends anything back.
// Times are shown in the browser's own time zone (named in the header); money with cents.
"use strict";

(function () {
  const account = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
  let skew = 0; // the daemon's clock minus the browser's, in ms (the daemon's clock rules)
  let picture = null;
  let received = 0; // performance.now() when the last picture came
  let lost = false; // the stream to the daemon is down
  // the tab's title: the account's name, after what the trader must know first (LOCKED …)
  let accountName = "";
  let tradingFlag = "";
  // the daemon sends a picture at least once a second: this long without one, it is stale
  const STALE_AFTER_MS = 5000;
  // how soon the page asks again when the browser gave up on the stream
  const RETRY_MS = 2000;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // a live region (role alert or status) is read out at each change: it is only rewritten
  // when its words change, never with each picture (the same alert heard every second)
  function say(node, words, css) {
    if (node.textContent !== words) node.textContent = words;
    if (css !== undefined && node.className !== css) node.className = css;
  }

  function now() {
    return Date.now() + skew;
  }

  // "$-48.40": the form engine status, monitor, history and the rule messages use
  function money(value) {
    if (value === null || value === undefined) return "unknown";
    const amount = Number(value);
    return usd.format(amount).replace(/^-\$/, "$-");
  }

  function moneyNode(value) {
    const amount = Number(value);
    const css = value === null || value === undefined ? null : amount < 0 ? "money-neg" : amount > 0 ? "money-pos" : null;
    return el("span", { class: css }, money(value));
  }

  function lots(value) {
    const count = Number(value);
    return `${number.format(count)} ${count === 1 ? "lot" : "lots"}`;
  }

  function contracts(value) {
    const count = Number(value);
    return `${number.format(count)} ${count === 1 ? "contract" : "contracts"}`;
  }

  function price(value) {
    return value === null || value === undefined ? "—" : number.format(Number(value));
  }

  // a moment to the second in the trader's zone, with its weekday when it is not today (the
  // daemon runs for days: yesterday's last action must not read as today's)
  function clock(iso, withDay) {
    if (!iso) return "—";
    const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" };
    if (withDay || !today(iso)) options.weekday = "short";
    return new Date(iso).toLocaleTimeString(undefined, options);
  }

  // a moment in the trader's zone, with its weekday when it is not today
  function when(iso) {
    const options = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
    if (!today(iso)) options.weekday = "short";
    return new Date(iso).toLocaleTimeString(undefined, options);
  }

  function today(iso) {
    const day = (t) => new Date(t).toLocaleDateString(undefined, { dateStyle: "short" });
    return day(iso) === day(now());
  }

  function duration(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
    if (m > 0) return `${m} min ${String(s).padStart(2, "0")} s`;
    return `${s} s`;
  }

  // <span data-until=ISO> shows the time left, <span data-since=ISO> the time elapsed
  function ticking(kind, iso) {
    return el("span", { class: "countdown", ["data-" + kind]: iso }, "");
  }

  function tick() {
    freshness();
    for (const node of document.querySelectorAll("[data-until]")) {
      node.textContent = duration((Date.parse(node.dataset.until) - now()) / 1000);
    }
    for (const node of document.querySelectorAll("[data-since]")) {
      node.textContent = duration((now() - Date.parse(node.dataset.since)) / 1000);
    }
  }

  function fill(list, items, empty) {
    list.replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, empty)]));
  }

  function rows(table, items, columns, empty) {
    const body = table.tBodies[0];
    if (!items.length) {
      body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: columns }, empty)));
      return;
    }
    // each cell carries its heading, shown beside it when a narrow window stacks the rows
    const headings = [...table.tHead.rows[0].cells].map((th) => th.textContent);
    body.replaceChildren(...items.map((cells) => el("tr", {}, ...cells.map((c, i) =>
      el("td", {}, el("span", { class: "label" }, headings[i]), c)))));
  }

  function renderHeader(p) {
    const name = p.account.name ? `${p.account.name} (${p.account.id})` : `Account ${p.account.id}`;
    $("account-name").textContent = name;
    accountName = name;
    const mode = (p.mode || "enforce").toLowerCase();
    // a lost lease stops enforcing the account at once, whatever its mode says
    const unguarded = (p.connection || {}).lease === "lost";
    $("mode").textContent = unguarded ? "NOT ENFORCED" : mode.toUpperCase();
    $("mode").className = `badge ${unguarded ? "blocked" : mode}`;
    $("mode").title = unguarded
      ? "This daemon does not hold the account's lease: it enforces nothing for it"
      : mode === "observe" ? "Observing only: breaches are reported, not enforced" : "Breaches are enforced";
    renderTrading(p.trading || { state: p.account.can_trade === false ? "refused" : "open" });
    $("zone").textContent = `Times in ${zone}`;
  }

  // the first thing a trader reads: may I trade now, and if not, until when and why
  function renderTrading(t) {
    let words = "CAN TRADE";
    let css = "open";
    let why = [];
    if (t.state === "refused") {
      words = "TRADING BLOCKED BY TOPSTEPX";
      css = "blocked";
    } else if (t.state === "locked" || t.state === "cooldown") {
      words = (t.state === "cooldown" ? "COOLING DOWN" : "LOCKED") +
        (t.until ? ` until ${when(t.until)}` : " while the condition holds");
      css = "blocked";
      why = [
        ...(t.until ? ["for ", ticking("until", t.until), " more, "] : []),
        `by ${t.rule}: ${t.reason}`,
        t.until && t.while ? ", and while a condition holds" : "",
      ];
    } else if (t.state === "except") {
      words = `CAN TRADE, EXCEPT ${t.tickers.join(", ")}`;
      css = "partial";
      // each ticker: until when (with its countdown) and why, as for the account
      why = (t.locks || []).flatMap((l, i) => [
        i ? "; " : "",
        l.until ? `${l.ticker} until ${when(l.until)} (for ` : `${l.ticker} while the condition holds`,
        ...(l.until ? [ticking("until", l.until), " more)"] : []),
        `, by ${l.rule}: ${l.reason}`,
        l.until && l.while ? ", and while a condition holds" : "",
      ]);
    }
    say($("can-trade"), words, `badge ${css}`);
    // a tab in the background says it too: the trader trading in another tab must see it
    tradingFlag = t.state === "refused" ? "BLOCKED" : t.state === "locked" ? "LOCKED"
      : t.state === "cooldown" ? "COOLING DOWN"
      : t.state === "except" ? `EXCEPT ${t.tickers.join(", ")}` : "";
    $("trading-why").replaceChildren(...why);
  }

  function renderLoss(p) {
    const loss = p.loss;
    const fillBar = $("gauge-fill");
    if (!loss) {
      $("loss-words").textContent = "No daily loss limit in this ruleset";
      fillBar.style.width = "0%";
      $("gauge").setAttribute("aria-valuetext", "no daily loss limit");
    } else {
      const left = Number(loss.left);
      const limit = Number(loss.limit);
      const share = limit > 0 ? Math.max(0, Math.min(1, left / limit)) : 0;
      $("loss-words").textContent = `${money(left)} of ${money(limit)} left`;
      $("gauge").setAttribute("aria-valuetext", $("loss-words").textContent);
      fillBar.style.width = `${(share * 100).toFixed(1)}%`;
      fillBar.className = `gauge-fill ${share <= 0.25 ? "bad" : share <= 0.5 ? "warn" : ""}`;
      $("gauge").setAttribute("aria-valuenow", String(left));
      $("gauge").setAttribute("aria-valuemax", String(limit));
    }
    const pnl = p.pnl || {};
    $("pnl-words").replaceChildren(
      "Today, net of fees: realized ", moneyNode(pnl.realized),
      ", open ", moneyNode(pnl.unrealized),
      ", total ", moneyNode(pnl.net),
      ` · ${pnl.trades ?? 0} ${pnl.trades === 1 ? "fill" : "fills"}`,
      p.account.balance !== null && p.account.balance !== undefined ? ` · balance ${money(p.account.balance)}` : "",
    );
    renderLine(p);
  }

  function renderLine(p) {
    const svg = $("pnl-line");
    const ns = "http://www.w3.org/2000/svg";
    const shape = (tag, attrs) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      return node;
    };
    const points = (p.line || []).map((pt) => [Date.parse(pt.at), Number(pt.value)]);
    const at = Date.parse(p.now);
    if (points.length) points.push([at, points[points.length - 1][1]]);
    const floor = p.loss ? Number(p.loss.floor) : null;
    const values = points.map((pt) => pt[1]).concat([0], floor === null ? [] : [floor]);
    const top = Math.max(...values);
    const bottom = Math.min(...values);
    const pad = Math.max((top - bottom) * 0.15, 10);
    const high = top + pad;
    const low = bottom - pad;
    const start = points.length ? points[0][0] : at - 60000;
    const span = Math.max(at - start, 1000) * 1.1; // room on the right: the latest step shows
    const W = Math.max(svg.clientWidth, 300), H = 200; // drawn at the size shown: text unstretched
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const x = (t) => ((t - start) / span) * W;
    const y = (v) => H - ((v - low) / (high - low)) * H;
    const children = [shape("line", { class: "zero", x1: 0, x2: W, y1: y(0), y2: y(0) })];
    if (floor !== null) {
      children.push(shape("line", { class: "floor", x1: 0, x2: W, y1: y(floor), y2: y(floor) }));
      const label = shape("text", { class: "floor-label", x: 6, y: y(floor) - 5 });
      label.textContent = `Loss floor ${money(floor)}`;
      children.push(label);
    }
    if (points.length) {
      let path = `M${x(points[0][0])},${y(points[0][1])}`;
      for (let i = 1; i < points.length; i++) {
        path += ` H${x(points[i][0])} V${y(points[i][1])}`; // a step: P&L jumps at each fill
      }
      children.push(shape("path", { class: "pnl", d: path }));
    }
    const short = (t) => new Date(t).toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
    const first = shape("text", { x: 6, y: H - 6 });
    first.textContent = short(start);
    const last = shape("text", { x: x(at) - 6, y: H - 6, "text-anchor": "end" });
    last.textContent = `now ${short(at)}`;
    children.push(first, last);
    svg.replaceChildren(...children);
    $("line-words").textContent = points.length
      ? `Realized P&L of the trading day (since ${clock(new Date(start).toISOString(), true)}), after each fill` +
        (floor === null ? "" : ", against the loss floor")
      : "";
  }

  // a hub's state (adapters/topstepx/hubs.py): these three mean its stream is up
  function streaming(state) {
    return state === "connected" || state === "reconnected" || state === "refreshed";
  }

  function renderMarket(p) {
    fill($("sessions"), (p.sessions || []).map((s) =>
      s.open
        ? el("li", {}, `Session “${s.name}” is open; it closes ${today(s.closes_at) ? "at " : ""}${when(s.closes_at)}`)
        : el("li", {}, `Session “${s.name}” is closed; it opens ${clock(s.next_open, true)} (in `, ticking("until", s.next_open), ")"),
    ), "No sessions in the calendar");
    const c = p.connection || {};
    const hubs = streaming(c.user_hub) && streaming(c.market_hub);
    const degraded = (c.degraded || []).length
      ? `DEGRADED: ${c.degraded.join(", ")} keeps failing (the daemon restarts it and alerts). `
      : "";
    $("connection").textContent = degraded + (c.live && hubs
      ? `Connected to the gateway; last full check ${clock(c.last_reconcile_at)}`
      : `Gateway: ${c.live ? "account live" : "account not checked yet: positions and orders are as last saved, unconfirmed, and nothing is sent until the gateway confirms them"}, account stream ${c.user_hub}, market stream ${c.market_hub}`);
    renderGateway(c);
    const k = p.contracts || {};
    $("contracts").textContent = k.open === null || k.open === undefined
      ? ""
      : `Contracts open: ${lots(k.open)}` + (k.limit !== null && k.limit !== undefined ? ` of ${lots(k.limit)} allowed (a micro counts 1/10)` : "");
  }

  // beside the page's own link, at the top: whether the daemon itself hears the gateway
  function renderGateway(c) {
    const hubs = streaming(c.user_hub) && streaming(c.market_hub);
    let state = "ok";
    let words = "Gateway connected";
    if (c.lease === "lost") {
      state = "down";
      words = "NOT ENFORCED: another daemon holds this account's lease, or the store cannot renew it — this daemon sends nothing for it";
    } else if (!hubs) {
      state = "down";
      words = `GATEWAY DOWN: account stream ${c.user_hub}, market stream ${c.market_hub} — fills and prices may be late`;
    } else if ((c.degraded || []).length) {
      state = "down";
      words = `DEGRADED: ${c.degraded.join(", ")} keeps failing`;
    } else if (!c.live) {
      state = "waiting";
      words = "Gateway connected, account not confirmed yet";
    }
    $("gateway").className = `link ${state}`;
    $("gateway").textContent = words;
  }

  // a limit's value in its unit, as engine status writes it
  function amount(value, unit) {
    if (value === null || value === undefined) return "unknown";
    if (unit === "usd") return money(value);
    const count = Number(value);
    if (unit === "lots" || unit === "contracts" || unit === "trades") {
      const one = unit.slice(0, -1);
      return `${number.format(count)} ${count === 1 ? one : unit}`;
    }
    return number.format(count);
  }

  // every limit of the ruleset: its value now, its bound, the share used (green, yellow from
  // 50 %, red from 80 %, as engine status colours it)
  function renderLimits(p) {
    fill($("limits"), (p.limits || []).map((l) => {
      // a profit against a loss limit (or a fresh day's -0) uses none of it: never "-21.6%"
      const used = l.used_pct === null || l.used_pct === undefined ? null : Math.max(0, Number(l.used_pct));
      const css = used === null ? null : used >= 80 ? "limit-bad" : used >= 50 ? "limit-warn" : "limit-ok";
      return el("li", {}, `${l.label}: ${amount(l.value, l.unit)} of ${amount(l.limit, l.unit)} — `,
        el("span", { class: css }, used === null ? "share used unknown" : `${used.toFixed(1)}% used`));
    }), "No limit in this ruleset");
  }

  function renderLocks(p) {
    fill($("lockouts"), (p.lockouts || []).map((l) => {
      const what = l.scope === "account" ? "Account" : l.ticker || "Symbol";
      const kind = l.kind === "cooldown" ? "cooling down" : "locked";
      const end = l.ends_at
        ? ["ends in ", ticking("until", l.ends_at), ` (at ${clock(l.ends_at)})`]
        : ["until the condition clears"];
      return el("li", { class: "lock" }, `${what} ${kind} by ${l.rule}: ${l.reason} — `, ...end);
    }), "No lockout: trading is allowed");
    fill($("pending"), (p.pending || []).map((t) =>
      el("li", {}, `${t.rule}${t.on ? " on " + t.on : ""} acts in `, ticking("until", t.fires_at), ` (at ${clock(t.fires_at)}) unless fixed`),
    ), "No timer running");
    fill($("derived"), (p.derived || []).map((d) => {
      const label = (d.description || d.name) + (d.ticker ? ` (${d.ticker})` : "");
      const value = d.error
        ? el("span", { class: "unprotected" }, `cannot be computed: ${d.error}`)
        : d.value === null || d.value === undefined ? "not known yet" : String(d.value);
      return el("li", {}, `${label}: `, value);
    }), "This ruleset derives no facts");
  }

  function renderTables(p) {
    rows($("positions"), (p.positions || []).map((pos) => [
      pos.ticker,
      pos.side,
      contracts(pos.size),
      price(pos.avg_price),
      pos.priced_from === "bars"
        ? el("span", {}, moneyNode(pos.unrealized_pnl), " (no quotes: priced from REST bars)")
        : moneyNode(pos.unrealized_pnl),
      pos.protected
        ? el("span", { class: "protected" }, `Protected, stop at ${price(pos.stop_price)}`)
        : el("span", { class: "unprotected" }, "UNPROTECTED for ", ticking("since", pos.unprotected_since || pos.opened_at)),
      pos.opened_at ? ticking("since", pos.opened_at) : "—",
    ]), 7, "No open position");
    rows($("orders"), (p.orders || []).map((o) => [
      String(o.id),
      o.ticker,
      o.side,
      o.type,
      Number(o.remaining) !== Number(o.size) ? `${o.remaining} of ${contracts(o.size)} left` : contracts(o.size),
      price(o.stop_price ?? o.limit_price),
      o.own ? "simple-risk (protective stop)" : "you",
    ]), 7, "No working order");
  }

  function renderAlerts(p) {
    const alerts = (p.alerts || []).map((a) => [a.level, clock(a.at), a.message]);
    $("alerts").hidden = alerts.length === 0;
    // alerts older than the trading day (and the last hour) are not what is wrong now, but
    // they are not gone: said outside the live region, so a screen reader does not announce
    // an old failure as a new one
    const earlier = Number(p.alerts_earlier || 0);
    const older = $("alerts-earlier");
    older.hidden = earlier === 0;
    older.textContent = earlier === 0 ? "" : `${earlier} earlier alert${earlier === 1 ? "" : "s"} ` +
      "(before this trading day): simple-risk engine history --kind alert";
    const list = $("alerts").querySelector("ul");
    const key = JSON.stringify(alerts);
    if (list.dataset.shown === key) return; // the same alerts: nothing new to read out
    list.dataset.shown = key;
    list.replaceChildren(...alerts.map(([level, at, message]) =>
      el("li", { class: level }, el("span", { class: "at" }, at), " ", message)));
  }

  function renderFirings(p) {
    // the daemon keeps its latest firings in memory: an empty list says since when
    const none = `since the daemon started at ${clock(p.daemon_started_at)} (engine history lists the whole day)`;
    // the newest, at the top of the page: which rule acted last and what it did
    const last = (p.firings || [])[0];
    $("last-action").className = `last-action ${last ? last.severity : ""}`;
    $("last-action").replaceChildren(...(last
      ? [el("span", { class: "at" }, `Last action ${clock(last.at)}: `), last.text]
      : [`No rule has acted ${none}`]));
    fill($("firings"), (p.firings || []).map((f) =>
      el("li", { class: f.severity }, el("span", { class: "at" }, clock(f.at)), " ", f.text),
    ), `No firing ${none}`);
  }

  // old figures never pass for live ones: a banner, the page greyed out, the dot red
  function retitle(stale) {
    const flags = [stale ? "NOT LIVE" : "", tradingFlag].filter(Boolean);
    const title = `${flags.length ? flags.join(" · ") + " · " : ""}${accountName} — simple-risk`;
    if (document.title !== title) document.title = title;
  }

  function freshness() {
    if (!picture) return;
    const silent = performance.now() - received > STALE_AFTER_MS;
    const stale = lost || silent;
    retitle(stale);
    document.body.classList.toggle("stale", stale);
    $("stale").hidden = !stale;
    if (!stale) return;
    const why = lost ? "the daemon is not answering" : "no news from the daemon";
    say($("stale"),
      `NOT LIVE: ${why}. Everything below is as of ${clock(picture.now)} and may be out of date.`);
    if (!lost) link("down", `No update for ${duration((performance.now() - received) / 1000)}`);
    // the gateway's state was the daemon's word: without the daemon nobody vouches for it
    $("gateway").className = "link waiting";
    $("gateway").textContent = "Gateway: unknown until the daemon answers";
  }

  function render(p) {
    picture = p;
    received = performance.now();
    skew = Date.parse(p.now) - Date.now();
    renderHeader(p);
    renderLoss(p);
    renderMarket(p);
    renderLimits(p);
    renderLocks(p);
    renderTables(p);
    renderFirings(p);
    renderAlerts(p);
    tick();
    document.body.dataset.updated = p.now;
  }

  function link(state, words) {
    $("link").className = `link ${state}`;
    $("link").textContent = words;
  }

  function connect() {
    const source = new EventSource(`/api/account/${encodeURIComponent(account)}/events`);
    source.addEventListener("status", (message) => {
      lost = false;
      link("ok", "Live");
      render(JSON.parse(message.data));
    });
    source.onerror = () => {
      lost = picture !== null;
      link(picture ? "down" : "waiting", picture ? "Lost the daemon — retrying…" : "Connecting to the daemon…");
      freshness();
      // the browser retries a dropped stream by itself, but gives up on one answered with an
      // error (404 from a daemon restarted without this account): then the page retries
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, RETRY_MS);
    };
  }

  setInterval(tick, 1000);
  connect();
})();
