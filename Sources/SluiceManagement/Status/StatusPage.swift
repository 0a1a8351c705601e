import HTTPTypes
import Hummingbird
import NIOCore

/// The status page at `GET /status` on the management port: one self-contained HTML document (inline CSS and
/// script, nothing fetched from elsewhere) that polls `GET /management/v2/status` every second and draws the
/// APIs, their entrypoints, endpoint states, open connections and message rates, with charts of the last two
/// minutes.
///
/// The page holds no data. Its user gives it a management token in the URL's fragment (`/status#token=…`, which
/// browsers never send to the server) or in its form; it keeps the token in the tab's session storage and sends
/// it as `Authorization: Bearer`. Every text from a definition goes into the page as text, never as markup.
enum StatusPage {
    static func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Content-Security-Policy")!] = contentSecurityPolicy
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// Only this page's own script and style, and requests to this server.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
        + "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let html = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <link rel="icon" href="data:,">
        <title>Sluice status</title>
        <style>
          :root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --card: #ffffff; --page: #f4f6f9;
                  --in: #2563eb; --out: #0f9d58; --conn: #9333ea; --bad: #c0392b; --warn: #b7791f; }
          * { box-sizing: border-box; }
          body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
                 color: var(--ink); background: var(--page); }
          header { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: #1d2330;
                   color: #fff; flex-wrap: wrap; }
          header h1 { margin: 0; font-size: 18px; font-weight: 600; letter-spacing: .2px; }
          header .meta { color: #c7cdd8; font-size: 13px; }
          header .spacer { flex: 1; }
          header button { background: transparent; color: #c7cdd8; border: 1px solid #475067; border-radius: 6px;
                          padding: 4px 10px; cursor: pointer; font: inherit; font-size: 12px; }
          main { padding: 16px 24px 32px; }
          #message { display: none; margin: 0 0 16px; padding: 10px 14px; border-radius: 8px; font-weight: 500; }
          #message.error { display: block; background: #fdecea; color: var(--bad); border: 1px solid #f5c2bd; }
          #message.info { display: block; background: #eef4ff; color: #1e429f; border: 1px solid #c3d4fe; }
          #token-form { display: none; margin: 0 0 16px; gap: 8px; align-items: center; }
          #token-form.shown { display: flex; }
          #token-form input { flex: 0 1 420px; padding: 7px 10px; border: 1px solid var(--line); border-radius: 6px;
                              font: inherit; }
          #token-form button { padding: 7px 14px; border: 0; border-radius: 6px; background: var(--in); color: #fff;
                               font: inherit; cursor: pointer; }
          #summary { margin: 0 0 14px; color: var(--muted); }
          #apis { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 16px; }
          .api { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px;
                 box-shadow: 0 1px 2px rgba(16, 24, 40, .04); min-width: 0; }
          .api-head { display: flex; align-items: baseline; gap: 8px; min-width: 0; }
          .api-name { margin: 0; font-size: 16px; font-weight: 600; overflow: hidden; text-overflow: ellipsis;
                      white-space: nowrap; }
          .api-id { color: var(--muted); font-size: 12px; overflow: hidden; text-overflow: ellipsis;
                    white-space: nowrap; flex: 0 0 auto; max-width: 35%; }
          .api-name { flex: 0 1 auto; }
          .badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11px; font-weight: 600;
                   text-transform: uppercase; letter-spacing: .3px; background: #eef0f3; color: var(--muted);
                   white-space: nowrap; }
          .badge.good { background: #e3f4ea; color: #127a43; }
          .badge.bad { background: #fdecea; color: var(--bad); }
          .badge.warn { background: #fdf3e1; color: var(--warn); }
          .api-head .badge { margin-left: auto; }
          .rows { margin: 10px 0 8px; display: grid; grid-template-columns: 90px 1fr; gap: 4px 10px; font-size: 13px; }
          .rows dt { color: var(--muted); }
          .rows dd { margin: 0; min-width: 0; }
          .entrypoint, .endpoint { display: inline-flex; gap: 4px; align-items: baseline; margin: 0 10px 2px 0;
                                   max-width: 100%; }
          .entrypoint code, .endpoint code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace;
                                             overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
          .type { font-weight: 600; }
          .numbers { display: grid; grid-template-columns: repeat(5, 1fr); gap: 6px; margin: 8px 0 10px; }
          .number { background: #f7f8fa; border-radius: 8px; padding: 6px 8px; }
          .number .value { font-size: 17px; font-weight: 600; font-variant-numeric: tabular-nums; }
          .number .label { color: var(--muted); font-size: 11px; white-space: nowrap; }
          .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
          .chart-box { min-width: 0; position: relative; }
          .chart-title { font-size: 11px; color: var(--muted); display: flex; gap: 6px; margin-bottom: 2px;
                         white-space: nowrap; overflow: hidden; }
          .chart-max { position: absolute; right: 5px; top: 19px; font-size: 10px; color: var(--muted);
                       font-variant-numeric: tabular-nums; pointer-events: none; }
          .chart-title .key::before { content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 4px;
                                      vertical-align: middle; background: currentColor; }
          svg.chart { width: 100%; height: 72px; display: block; background: #fbfcfd; border: 1px solid var(--line);
                      border-radius: 6px; }
          svg.chart .grid { stroke: var(--line); stroke-width: 1; }
          svg.chart .series { fill: none; stroke-width: 1.8; stroke-linejoin: round; stroke-linecap: round; }
          .empty { color: var(--muted); padding: 24px 0; }
          footer { padding: 0 24px 24px; color: var(--muted); font-size: 12px; }
        </style>
        </head>
        <body>
        <header>
          <h1>Sluice status</h1>
          <span class="meta" id="gateway">connecting…</span>
          <span class="spacer"></span>
          <span class="meta" id="updated"></span>
          <button type="button" id="change-token">Token</button>
        </header>
        <main>
          <div id="message" role="status"></div>
          <form id="token-form" autocomplete="off">
            <label for="token">Management token</label>
            <input id="token" name="token" type="password" placeholder="the bearer token of a management user">
            <button type="submit">Show status</button>
          </form>
          <p id="summary"></p>
          <div id="apis"></div>
        </main>
        <footer>Numbers since the gateway started; rates over the last second, charts over the last two minutes.</footer>
        <noscript><p>This page needs JavaScript to read the status.</p></noscript>
        <script>
        "use strict";
        (function () {
          var POLL_MS = 1000, WINDOW_MS = 120000, MAX_POINTS = 300, STORAGE_KEY = "sluice-management-token";
          var SVG = "http://www.w3.org/2000/svg";
          var token = null, timer = null, previous = null, trails = {};

          function $(id) { return document.getElementById(id); }
          function element(name, className, text) {
            var node = document.createElement(name);
            if (className) node.className = className;
            if (text !== undefined && text !== null) node.textContent = String(text);
            return node;
          }
          function svgElement(name, attributes) {
            var node = document.createElementNS(SVG, name);
            for (var key in attributes) node.setAttribute(key, String(attributes[key]));
            return node;
          }
          function showMessage(kind, text) {
            var box = $("message");
            box.className = kind || "";
            box.textContent = text || "";
          }
          function showForm(shown) { $("token-form").className = shown ? "shown" : ""; }

          function readToken() {
            var match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
            if (match) {
              var given = "";
              try { given = decodeURIComponent(match[1]); } catch (e) { given = ""; }
              try { sessionStorage.setItem(STORAGE_KEY, given); } catch (e) { /* storage off: keep it in memory */ }
              // The fragment is never sent to the server; it leaves the address bar too.
              history.replaceState(null, "", location.pathname + location.search);
              return given;
            }
            try { return sessionStorage.getItem(STORAGE_KEY); } catch (e) { return null; }
          }
          function useToken(given) {
            token = given;
            try { sessionStorage.setItem(STORAGE_KEY, given); } catch (e) { /* in memory only */ }
            previous = null;
            trails = {};
            schedule(0);
          }
          function schedule(delay) {
            if (timer) clearTimeout(timer);
            timer = setTimeout(poll, delay);
          }

          function poll() {
            timer = null;
            if (!token) {
              showForm(true);
              showMessage("info", "Enter the token of a management user (READ_ONLY is enough) to see the status.");
              return;
            }
            if (!/^[\x21-\x7e]{1,4096}$/.test(token)) {
              showForm(true);
              showMessage("error", "This token cannot be valid: it must be printable characters without spaces.");
              return;
            }
            fetch("/management/v2/status", {
              headers: { "Authorization": "Bearer " + token, "Accept": "application/json" },
              cache: "no-store", credentials: "omit"
            }).then(function (response) {
              if (response.status === 401 || response.status === 403) {
                return response.json().catch(function () { return {}; }).then(function (problem) {
                  showForm(true);
                  showMessage("error", "The management API refused the token (HTTP " + response.status + "): " +
                    ((problem && problem.detail) || "not valid") + ". Enter another token.");
                });
              }
              if (!response.ok) {
                showMessage("error", "The status is not available (HTTP " + response.status + "); retrying…");
                schedule(POLL_MS);
                return;
              }
              return response.json().then(function (snapshot) {
                showForm(false);
                showMessage("", "");
                render(snapshot);
                schedule(POLL_MS);
              });
            }).catch(function () {
              showMessage("error", "The management API cannot be reached; retrying every second…");
              schedule(POLL_MS);
            });
          }

          function counters(api) { return api && api.counters ? api.counters : null; }
          function rate(now, before, field, seconds) {
            if (!now || !before || !(seconds > 0)) return null;
            var delta = (now[field] || 0) - (before[field] || 0);
            return delta < 0 ? null : delta / seconds;
          }
          function formatRate(value) {
            if (value === null || value === undefined) return "–";
            if (value >= 100) return Math.round(value).toLocaleString("en");
            return value.toFixed(1);
          }
          function formatCount(value) { return value === null || value === undefined ? "–" : Number(value).toLocaleString("en"); }

          function render(snapshot) {
            var received = Date.now();
            var seconds = previous ? (snapshot.timestampMs - previous.timestampMs) / 1000 : 0;
            var before = {};
            if (previous) previous.apis.forEach(function (api) { before[api.id] = api; });
            var gateway = snapshot.gateway || {};
            $("gateway").textContent = gateway.running
              ? "gateway " + (gateway.node || "") + " · " + formatCount(gateway.openStreams) + " open streams"
              : (gateway.detail || "no gateway runs in this process");
            $("updated").textContent = "updated " + new Date(snapshot.timestampMs).toLocaleTimeString("en-GB");
            $("summary").textContent = snapshot.apis.length + (snapshot.apis.length === 1 ? " API" : " APIs") +
              (snapshot.truncated ? " (the first ones only)" : "");
            var list = $("apis");
            var cards = document.createDocumentFragment();
            var seen = {};
            snapshot.apis.forEach(function (api) {
              seen[api.id] = true;
              var now = counters(api), then = counters(before[api.id]);
              var rates = {
                in: rate(now, then, "messagesIn", seconds),
                out: rate(now, then, "messagesOut", seconds),
                requests: rate(now, then, "requests", seconds),
                errors: (function () {
                  var server = rate(now, then, "serverErrors", seconds), message = rate(now, then, "messageErrors", seconds);
                  return server === null || message === null ? null : server + message;
                })()
              };
              // Rates come from the server's timestamps; the charts' time axis is this page's clock.
              var points = trails[api.id] || (trails[api.id] = []);
              if (now && rates.in !== null) {
                points.push({ t: received, in: rates.in, out: rates.out, conns: api.openConnections || 0 });
              } else if (now && points.length === 0) {
                points.push({ t: received, in: 0, out: 0, conns: api.openConnections || 0 });
              }
              while (points.length > MAX_POINTS || (points.length && points[0].t < received - WINDOW_MS)) {
                points.shift();
              }
              cards.appendChild(card(api, rates, points, received, !!gateway.running));
            });
            for (var id in trails) if (!seen[id]) delete trails[id];
            list.replaceChildren(cards);
            if (!snapshot.apis.length) list.appendChild(element("p", "empty", "No APIs in the store yet."));
            previous = snapshot;
          }

          function stateClass(state) {
            if (state === "STARTED" || state === "connected" || state === "ready" || state === "embedded") return "badge good";
            if (state === "disconnected" || state === "circuit-open") return "badge bad";
            if (state === "idle") return "badge warn";
            return "badge";
          }

          function card(api, rates, points, nowMs, live) {
            var box = element("section", "api");
            box.setAttribute("data-api-id", api.id);
            var head = element("div", "api-head");
            var name = element("h2", "api-name", api.name);
            name.title = api.name;
            head.appendChild(name);
            head.appendChild(element("span", "api-id", api.id));
            head.appendChild(element("span", stateClass(api.state) + " api-state",
              api.state + (api.state === "STARTED" && live && !api.deployed ? " · deploying" : "")));
            box.appendChild(head);

            var rows = element("dl", "rows");
            rows.appendChild(element("dt", null, "Entrypoints"));
            var entrypoints = element("dd");
            api.entrypoints.forEach(function (entrypoint) {
              var item = element("span", "entrypoint");
              item.appendChild(element("span", "type", entrypoint.type));
              if (entrypoint.paths.length) item.appendChild(element("code", "path", entrypoint.paths.join(", ")));
              entrypoints.appendChild(item);
            });
            if (!api.entrypoints.length) entrypoints.textContent = "none";
            rows.appendChild(entrypoints);
            rows.appendChild(element("dt", null, "Endpoints"));
            var endpoints = element("dd");
            api.endpoints.forEach(function (endpoint) {
              var item = element("span", "endpoint");
              item.appendChild(element("span", "type", endpoint.type));
              item.appendChild(element("code", null, endpoint.name));
              item.appendChild(element("span", stateClass(endpoint.state) + " endpoint-state", endpoint.state || (live ? "not served" : "unknown here")));
              endpoints.appendChild(item);
            });
            if (!api.endpoints.length) endpoints.textContent = "none";
            rows.appendChild(endpoints);
            box.appendChild(rows);

            var numbers = element("div", "numbers");
            [["connections", formatCount(api.openConnections), "connections"],
             ["msg-in", formatRate(rates.in), "msg/s in"],
             ["msg-out", formatRate(rates.out), "msg/s out"],
             ["requests", formatRate(rates.requests), "req/s"],
             ["errors", formatRate(rates.errors), "err/s"]].forEach(function (number) {
              var cell = element("div", "number " + number[0]);
              cell.appendChild(element("div", "value", number[1]));
              cell.appendChild(element("div", "label", number[2]));
              numbers.appendChild(cell);
            });
            box.appendChild(numbers);

            if (api.counters) {
              var charts = element("div", "charts");
              charts.appendChild(chart("messages/s", points, nowMs, [["in", "var(--in)"], ["out", "var(--out)"]]));
              charts.appendChild(chart("open connections", points, nowMs, [["conns", "var(--conn)"]]));
              box.appendChild(charts);
            }
            return box;
          }

          function chart(title, points, nowMs, series) {
            var box = element("div", "chart-box");
            var caption = element("div", "chart-title");
            caption.appendChild(element("span", null, title));
            series.forEach(function (entry) {
              if (series.length > 1) {
                var key = element("span", "key", entry[0]);
                key.style.color = entry[1];
                caption.appendChild(key);
              }
            });
            var width = 300, height = 72, top = 16, bottom = 4;
            var svg = svgElement("svg", { "class": "chart", viewBox: "0 0 " + width + " " + height,
                                          preserveAspectRatio: "none", role: "img", "aria-label": title });
            var highest = 0;
            points.forEach(function (point) { series.forEach(function (entry) { highest = Math.max(highest, point[entry[0]]); }); });
            var scale = highest > 0 ? highest * 1.1 : 1;
            [0.25, 0.5, 0.75].forEach(function (fraction) {
              var y = top + (height - top - bottom) * fraction;
              svg.appendChild(svgElement("line", { "class": "grid", x1: 0, x2: width, y1: y, y2: y }));
            });
            box.appendChild(caption);
            box.appendChild(element("span", "chart-max", "max " + formatRate(highest)));
            series.forEach(function (entry) {
              var d = points.map(function (point, index) {
                var x = width - (nowMs - point.t) / WINDOW_MS * width;
                var y = height - bottom - (point[entry[0]] / scale) * (height - top - bottom);
                return (index ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
              }).join(" ");
              var path = svgElement("path", { "class": "series series-" + entry[0], d: d || "M0 0",
                                               "data-points": points.length });
              path.style.stroke = entry[1];
              svg.appendChild(path);
            });
            box.appendChild(svg);
            return box;
          }

          $("token-form").addEventListener("submit", function (event) {
            event.preventDefault();
            var given = $("token").value.trim();
            $("token").value = "";
            if (given) useToken(given);
          });
          $("change-token").addEventListener("click", function () { showForm(true); $("token").focus(); });
          window.addEventListener("hashchange", function () {
            var given = readToken();
            if (given) useToken(given);
          });

          token = readToken();
          poll();
        })();
        </script>
        </body>
        </html>
        """#
}
