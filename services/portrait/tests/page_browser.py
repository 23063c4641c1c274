"""Drives the 客群画像 page in Debian's chromium and reports what it shows.

Called by services/portrait/tests/page.rs (mode "tour") and tests/e2e/page_sync.rs
(mode "sync"), services/portrait/tests/auth (mode "login") with one JSON argument, or by hand against a running demo (mode
"measure": {"mode": "measure", "url": "http://127.0.0.1:50051", "screenshots": DIR}); prints one JSON line: the page's
states (filter, KPIs with their raw values, each chart's data read from
ECharts' getOption(), table rows), console errors and timings. The Rust
side compares every number with the gRPC answer for the same filter.
"""

import json
import sys
import time

from playwright.sync_api import sync_playwright

READ_STATE = """() => {
  const kpi = (id) => {
    const v = document.querySelector(`#${id} .value`);
    return { value: v.dataset.value, previous: v.dataset.previous, text: v.textContent,
             change: document.querySelector(`#${id} .change`).textContent };
  };
  const option = (name) => window.portrait.charts[name] ? window.portrait.charts[name].getOption() : null;
  const seg = option('segments');
  const products = option('products');
  const panels = {};
  document.querySelectorAll('.panel').forEach((p) => {
    panels[p.id] = ['loading', 'empty', 'failed', 'hidden'].filter((c) => p.classList.contains(c)).join(' ');
  });
  return {
    search: location.search,
    filter: window.portrait.filter(),
    previous: window.portrait.previous(),
    kpis: { total: kpi('kpi-total'), active: kpi('kpi-active'), aov: kpi('kpi-aov'), ltv: kpi('kpi-ltv') },
    segments: seg ? seg.series[0].data.map((d) => ({ segment: d.segment, value: d.value })) : [],
    donutTitle: seg ? seg.title[0].text : '',
    hours: option('hours') ? option('hours').series[0].data : [],
    products: products ? { names: products.yAxis[0].data, values: products.series[0].data } : null,
    channels: option('channels') ? option('channels').series[0].data.map((d) => ({ channel: d.channel, value: d.value })) : [],
    suggestions: [...document.querySelectorAll('#suggestions tbody tr')].map((tr) => ({
      id: tr.dataset.suggestion, type: tr.dataset.type, priority: tr.dataset.priority,
      audience: tr.dataset.audience, revenue: tr.dataset.revenue, text: tr.innerText })),
    audience: {
      suggestion: document.getElementById('suggestion-audience').dataset.suggestion || '',
      total: document.getElementById('suggestion-audience').dataset.total || '',
      open: !document.getElementById('suggestion-audience').classList.contains('hidden'),
      rows: [...document.querySelectorAll('#suggestion-audience-table tbody tr')].map((tr) => tr.dataset.customer),
    },
    customers: [...document.querySelectorAll('#segment-customers tbody tr')].map((tr) => tr.dataset.customer),
    panels,
    banner: document.getElementById('page-error').textContent,
    associations: [...document.querySelectorAll('#associations tbody tr')].map((tr) => tr.dataset.pair),
    clusters: [...document.querySelectorAll('#clusters tbody tr')].map((tr) => ({ cluster: tr.dataset.cluster, customers: tr.dataset.customers })),
    list: {
      rows: [...document.querySelectorAll('#customers tbody tr')].map((tr) => tr.dataset.customer),
      total: document.getElementById('customers').dataset.total || '',
      labels: document.getElementById('customers').dataset.labels || '',
      request: window.portrait.listRequest(),
    },
    clustersGeneration: document.getElementById('clusters').dataset.generation || '',
    summary: {
      level: document.getElementById('summary').dataset.level || '',
      rows: [...document.querySelectorAll('#summary tbody tr')].map((tr) => ({ key: tr.dataset.key, customers: tr.dataset.customers })),
      total: [...document.querySelectorAll('#summary tfoot tr')].map((tr) => tr.dataset.customers),
    },
    drawer: (() => {
      const d = document.getElementById('customer-drawer');
      const ids = (table, attr) => [...document.querySelectorAll(`#${table} tbody tr`)].map((tr) => tr.dataset[attr]);
      const facts = {};
      d.querySelectorAll('dd[data-key]').forEach((dd) => { facts[dd.dataset.key] = dd.dataset.value; });
      const week = option('customerWeek');
      return {
        hidden: d.classList.contains('hidden'), state: d.dataset.state, customer: d.dataset.customer || '',
        title: document.getElementById('customer-title').textContent,
        message: document.getElementById('customer-state').textContent, facts,
        hours: option('customerHours') ? option('customerHours').series[0].data : [],
        channels: option('customerChannels') ? option('customerChannels').series[0].data.map((c) => ({ channel: c.channel, value: c.value })) : [],
        week: week ? week.series[0].data : [],
        products: ids('customer-products', 'id'), categories: ids('customer-categories', 'id'),
        days: ids('customer-days', 'date'),
      };
    })(),
    effects: {
      picked: document.body.dataset.effects || '',
      adoptions: [...document.querySelectorAll('#adoptions tbody tr')].map((tr) => tr.dataset.adoption),
      adoptButtons: [...document.querySelectorAll('#suggestions button[data-adopt]')].map((b) => b.dataset.adopt),
      groups: [...document.querySelectorAll('#effect-groups tbody tr')].map((tr) => {
        const g = { group: tr.dataset.group };
        tr.querySelectorAll('td[data-field]').forEach((td) => { g[td.dataset.field] = td.dataset.value; });
        return g;
      }),
      message: document.getElementById('effect-message').textContent,
    },
    model: {
      status: document.getElementById('model-fit').dataset.status || '',
      model: document.getElementById('model-fit').dataset.model || '',
      holdout: [...document.querySelectorAll('#holdout tbody tr')].map((tr) => ({
        frequency: tr.dataset.frequency, customers: tr.dataset.customers,
        actual: tr.dataset.actual, predicted: tr.dataset.predicted })),
    },
    flows: [...document.querySelectorAll('#flows tbody tr')].map((tr) => ({ flow: tr.dataset.flow, customers: tr.dataset.customers })),
    flowWindow: [document.getElementById('flows').dataset.from || '', document.getElementById('flows').dataset.to || ''],
  };
}"""

SLICE = """() => {
  const chart = window.portrait.charts.segments;
  const data = chart.getModel().getSeriesByIndex(0).getData();
  let best = 0;
  for (let i = 1; i < data.count(); i += 1) if (data.get('value', i) > data.get('value', best)) best = i;
  const l = data.getItemLayout(best);
  const a = (l.startAngle + l.endAngle) / 2;
  const r = (l.r + l.r0) / 2;
  return { x: l.cx + r * Math.cos(a), y: l.cy + r * Math.sin(a), segment: data.getRawDataItem(best).segment };
}"""


class Tour:
    def __init__(self, page, shots):
        self.page = page
        self.shots = shots
        self.states = {}
        self.errors = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))

    def generation(self):
        """The refreshes started so far."""
        return int(self.page.evaluate("Number(document.body.dataset.started || 0)"))

    def wait_refresh(self, before):
        """Until a refresh started after `before` and the latest started one is done:
        events such as a date input's change may come after the action returns."""
        self.page.wait_for_function(
            """g => { const d = document.body.dataset;
                      return Number(d.started) > g && d.state === 'ready' && d.generation === d.started; }""",
            arg=before, timeout=30000)

    def act(self, action):
        """Runs an action that refreshes the panels; waits for the refresh."""
        before = self.generation()
        action()
        self.wait_refresh(before)

    def record(self, name, shot=None):
        self.states[name] = self.page.evaluate(READ_STATE)
        if shot:
            self.page.screenshot(path=f"{self.shots}/{shot}.png", full_page=True)

    def timings(self):
        return self.page.evaluate("""() => ({
          paint: Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime])),
          domContentLoaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
          refreshes: window.portrait.timings,
        })""")


def tour(t, spec):
    page = t.page
    page.goto(f"{spec['url']}/?range=30d&asOf={spec['asOf']}")
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=30000)
    page.wait_for_function("document.querySelector('#quality').textContent.length > 0")
    first_load = t.timings()
    t.record("initial", "01-overview")

    t.act(lambda: page.click("#presets button[data-range=all]"))
    t.record("all")

    # The first suggestion row adopted: the effect panel follows it.
    page.click("#suggestions tbody tr:first-child button[data-adopt]")
    page.wait_for_function("document.body.dataset.effects && document.body.dataset.effects !== 'none'"
                           " && document.querySelector('#effect-groups')", timeout=30000)
    page.wait_for_function("!document.getElementById('panel-effects').classList.contains('loading')")
    page.locator("#panel-effects").scroll_into_view_if_needed()
    t.record("adopted", "01b-suggestion-effect")

    page.click("#city-select .summary")
    t.act(lambda: page.click(f"#city-select input[value='{spec['city']}']"))
    t.record("city", "02-city-filter")
    # The summary drilled into the city: its stores.
    page.keyboard.press("Escape")
    page.click("header.top h1")
    page.click(f"#summary tbody tr[data-key='{spec['city']}']")
    page.wait_for_function("document.getElementById('summary').dataset.level === 'store'")
    page.wait_for_function("!document.getElementById('panel-summary').classList.contains('loading')")
    t.record("drilled", "02b-summary-stores")
    page.click("#summary-crumbs button")
    page.wait_for_function("document.getElementById('summary').dataset.level === 'city'")
    page.wait_for_function("!document.getElementById('panel-summary').classList.contains('loading')")
    # By segment, then back to cities.
    page.click("#summary-switch button[data-by=segment]")
    page.wait_for_function("document.getElementById('summary').dataset.level === 'segment'")
    page.wait_for_function("!document.getElementById('panel-summary').classList.contains('loading')")
    t.record("by-segment")
    page.click("#summary-switch button[data-by=hour_band]")
    page.wait_for_function("document.getElementById('summary').dataset.level === 'hour_band'")
    page.wait_for_function("!document.getElementById('panel-summary').classList.contains('loading')")
    t.record("by-hour-band", "02c-summary-hour-bands")
    page.click("#summary-switch button[data-by=city]")
    page.wait_for_function("document.getElementById('summary').dataset.level === 'city'")
    page.wait_for_function("!document.getElementById('panel-summary').classList.contains('loading')")
    page.keyboard.press("Escape")
    page.click("header.top h1")

    page.click("#city-select .summary")
    t.act(lambda: page.click("#city-select .clear"))
    page.click("header.top h1")
    page.click("#store-select .summary")
    page.fill("#store-select input[type=search]", spec["storeSearch"])
    t.act(lambda: page.click(f"#store-select input[value='{spec['storeId']}']"))
    t.record("store", "03-store-search")
    page.click("header.top h1")

    t.act(lambda: page.click("#product-switch button[data-by=revenue]"))
    t.record("revenue")

    spot = page.evaluate(SLICE)
    box = page.locator("#chart-segments").bounding_box()
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])
    page.wait_for_selector("#segment-customers tbody tr", timeout=10000)
    page.wait_for_function("!document.getElementById('panel-segment-customers').classList.contains('loading')")
    t.record("segment", "04-segment-customers")
    t.states["segment"]["clicked"] = spot["segment"]

    # A suggestion's audience, opened from its row and paged.
    page.click("#suggestions tbody tr:first-child .audience-open")
    page.wait_for_selector("#suggestion-audience-table tbody tr", timeout=10000)
    t.record("audience", "04b-suggestion-audience")
    if page.is_visible("#suggestion-audience-more"):
        page.click("#suggestion-audience-more")
        page.wait_for_function("document.querySelectorAll('#suggestion-audience-table tbody tr').length > 20", timeout=10000)
        t.record("audience-more")
    page.click("#suggestion-audience-close")

    # A listed customer's portrait in the drawer, then one found by search.
    drawer_done = "!['', 'loading'].includes(document.getElementById('customer-drawer').dataset.state)"
    page.click("#segment-customers tbody tr:first-child")
    page.wait_for_function(drawer_done, timeout=10000)
    t.record("customer", "05-customer-drawer")
    page.fill("#customer-query", spec["customerId"])
    page.click("#customer-search button")
    page.wait_for_function(f"document.getElementById('customer-drawer').dataset.customer === {json.dumps(spec['customerId'])}")
    page.wait_for_function(drawer_done, timeout=10000)
    t.record("searched", "06-customer-search")
    page.fill("#customer-query", "nobody:here")
    page.click("#customer-search button")
    page.wait_for_function("document.getElementById('customer-drawer').dataset.state === 'failed'", timeout=10000)
    t.record("missing")
    page.click("#customer-close")

    touring = t.timings()
    before = time.monotonic()
    page.reload()
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=30000)
    page.wait_for_selector("#segment-customers tbody tr", timeout=10000)
    t.record("reloaded")
    reload_ms = (time.monotonic() - before) * 1000

    t.act(lambda: page.fill("#from-date", "2001-01-01"))
    t.act(lambda: page.fill("#to-date", "2001-01-31"))
    t.record("empty", "07-empty")

    page.click("#sync-button")
    page.wait_for_function("document.body.dataset.syncState", timeout=30000)
    t.record("sync-error", "08-sync-error")
    t.states["sync-error"]["message"] = page.text_content("#sync-message")

    # The 客户画像 view: the customer list, sorted, at risk only, a row's drawer.
    page.click("#customer-close") if page.is_visible("#customer-drawer") else None
    t.act(lambda: page.click(".views .view[data-view=customers]"))
    t.act(lambda: page.click("#presets button[data-range=all]"))
    t.record("list", "09-customer-list")
    t.act(lambda: page.select_option("#customers-sort", "predicted_clv"))
    t.record("list-clv")
    t.act(lambda: page.check("#customers-risk"))
    t.record("list-risk")
    page.click("#customers tbody tr:first-child")
    page.wait_for_function(drawer_done, timeout=10000)
    t.record("list-customer", "10-list-customer")
    page.click("#customer-close")
    # The insight panels: associations over customers, clusters computed now.
    t.act(lambda: page.click("#basis-switch button[data-basis=ASSOCIATION_BASIS_CUSTOMER]"))
    page.click("#clusters-recompute")
    page.wait_for_selector("#clusters tbody tr", timeout=30000)
    page.wait_for_function("!document.getElementById('panel-clusters').classList.contains('loading')")
    t.record("insights", "11-insights")
    # A cluster's row lists its customers, once the suggest service has the
    # clusters just computed (it polls the profiler every exchange.poll_ms).
    deadline = time.monotonic() + 60
    while True:
        t.act(lambda: page.click("#clusters tbody tr:first-child"))
        labels = page.evaluate("document.getElementById('customers').dataset.labels")
        wanted = page.evaluate("document.getElementById('clusters').dataset.generation")
        if labels == wanted or time.monotonic() > deadline:
            break
        time.sleep(1)
    t.record("list-cluster", "11b-list-cluster")
    t.act(lambda: page.select_option("#customers-channel", "CHANNEL_WECHAT_MINI"))
    t.record("list-cluster-channel")
    return {"firstLoad": first_load, "tour": touring, "reloadMs": reload_ms, "last": t.timings()}


def sync(t, spec):
    page = t.page
    page.goto(f"{spec['url']}/?range=all&asOf={spec['asOf']}")
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=30000)
    t.record("before", "11-before-sync")
    before = t.generation()
    if spec.get("full"):
        page.check("#sync-full")
    page.click("#sync-button")
    page.wait_for_function("document.body.dataset.syncJob", timeout=30000)
    t.page.screenshot(path=f"{t.shots}/12-sync-running.png")
    page.wait_for_function("document.body.dataset.syncState", timeout=120000)
    t.wait_refresh(before)
    page.wait_for_function("!document.getElementById('panel-quality').classList.contains('loading')")
    t.record("after", "13-after-sync")
    state = t.states["after"]
    state["job"] = page.evaluate("document.body.dataset.syncJob")
    state["syncState"] = page.evaluate("document.body.dataset.syncState")
    state["message"] = page.text_content("#sync-message")
    state["qualityCounts"] = page.eval_on_selector_all("#quality .counts b", "bs => bs.map((b) => b.textContent)")
    return {"last": t.timings()}


def measure(t, spec):
    """Timings on a running stack (the demo): the default view, then each preset."""
    page = t.page
    page.goto(f"{spec['url']}/")
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=60000)
    first = t.timings()
    t.record("demo", "21-demo")
    for preset in ["7d", "90d", "ytd", "all", "30d"]:
        t.act(lambda: page.click(f"#presets button[data-range='{preset}']"))
    t.act(lambda: page.click("#product-switch button[data-by=revenue]"))
    return {"firstLoad": first, "last": t.timings()}


def login(t, spec):
    """A stack with authentication: the login comes up, a wrong token brings it
    back, the right one shows the page."""
    page = t.page
    page.goto(f"{spec['url']}/{spec.get('query', '')}")
    page.wait_for_selector("#login input", timeout=30000)
    page.screenshot(path=f"{t.shots}/31-login.png")
    asked = page.text_content("#login .login-why")
    page.fill("#login input", "not-a-token")
    with page.expect_navigation():
        page.click("#login button")
    page.wait_for_selector("#login input", timeout=30000)
    refused = page.text_content("#login .login-why")
    page.fill("#login input", spec["token"])
    with page.expect_navigation():
        page.click("#login button")
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=60000)
    t.record("loggedIn", "32-logged-in")
    return {"asked": asked, "refused": refused, "dialogs": page.locator("#login").count()}


def models(t, spec):
    """The customers view with a fit in service, one customer's drawer open."""
    page = t.page
    page.goto(f"{spec['url']}/?view=customers&range=all&asOf={spec['asOf']}&customer={spec['customerId']}")
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=30000)
    page.wait_for_function("!['', 'loading'].includes(document.getElementById('customer-drawer').dataset.state)",
                           timeout=10000)
    page.locator("#panel-model").scroll_into_view_if_needed()
    t.record("models", "31-models")
    return {"last": t.timings()}


def reveal(t, spec):
    """One customer's drawer as each token sees it: with `reveal`, press 显示
    and read what it shows; otherwise only whether the button is there."""
    page = t.page
    page.add_init_script(f"sessionStorage.setItem('portraitToken', {json.dumps(spec['token'])})")
    page.goto(f"{spec['url']}/?range=all&customer={spec['customerId']}")
    page.wait_for_function("!['', 'loading'].includes(document.getElementById('customer-drawer').dataset.state)",
                           timeout=30000)
    # The page has learned the role (GetCaller) before it decides on the button.
    page.wait_for_function("document.body.dataset.role", timeout=10000)
    if spec.get("reveal"):
        page.wait_for_selector("#customer-reveal", timeout=10000)
    box = "document.getElementById('customer-reveal-box')"
    result = {
        "role": page.evaluate("document.body.dataset.role"),
        "drawer": page.evaluate("document.getElementById('customer-drawer').dataset.state"),
        "buttons": page.locator("#customer-reveal").count(),
        "offer": page.evaluate(f"{box}.textContent"),
    }
    if spec.get("reveal"):
        page.click("#customer-reveal")
        page.wait_for_function(f"['ready', 'failed'].includes({box}.dataset.state)", timeout=10000)
        page.screenshot(path=f"{t.shots}/41-revealed.png")
        result["state"] = page.evaluate(f"{box}.dataset.state")
        result["shown"] = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#customer-revealed dd')]"
            ".map((d) => [d.dataset.key, d.textContent]))")
        result["said"] = page.evaluate(f"{box}.querySelector('.hint').textContent")
    else:
        page.screenshot(path=f"{t.shots}/42-no-reveal.png")
    return result


MODES = {"tour": tour, "sync": sync, "measure": measure, "models": models, "login": login, "reveal": reveal}


def main():
    spec = json.loads(sys.argv[1])
    with sync_playwright() as p:
        # Root in a container has no user namespaces for chromium's sandbox.
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--lang=zh-CN"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN",
                                timezone_id="Asia/Shanghai")
        t = Tour(page, spec["screenshots"])
        timings = MODES[spec["mode"]](t, spec)
        browser.close()
    print(json.dumps({"states": t.states, "errors": t.errors, "timings": timings}, ensure_ascii=False))


if __name__ == "__main__":
    main()
