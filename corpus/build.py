#!/usr/bin/env python3
"""Builds the labelled corpus: sessions written from what a user meant to do.

Each scenario below is a small story: a user hammering a broken button,
selecting a word with a double click, paging through results. Its label is
the frustration the author meant it to show (or none, for look-alikes), not
what any rule says. Timings and positions vary within ranges a person
produces (double clicks 80-250 ms apart, page reactions in tens of ms, a
pointer sampled every 50 ms), drawn from a fixed seed.

Two splits are written with different seeds: `train` may be looked at while
rules are tuned; `holdout` must not be. Run from the repository root:

    python3 corpus/build.py

It rewrites corpus/train.jsonl, corpus/holdout.jsonl and corpus/labels.jsonl
(keeping the labels of the browser-recorded sessions, see record.mjs).
"""

import json
import random

T0 = 1_764_000_000_000
PAGE = "https://shop.example.com"
PER_SCENARIO = {"train": 12, "holdout": 12}
SEEDS = {"train": 20261128, "holdout": 7_000_019}


class Session:
    def __init__(self, sid, rng):
        self.sid, self.rng, self.t, self.seq, self.events = sid, rng, T0, 0, []
        self.vh = 800

    def at(self, dt):
        self.t += int(dt)
        return self

    def ev(self, t, **fields):
        self.seq += 1
        e = {"t": t, "ts": self.t, "seq": self.seq}
        e.update(fields)
        self.events.append(e)
        return self

    def nav(self, path, how="push"):
        return self.ev("nav", url=PAGE + path, nav=how)

    def click(self, sel, x, y, tag="button", txt=None, **el):
        e = {"tag": tag}
        e.update(el)
        fields = {"x": x, "y": y, "sel": sel, "el": e}
        if txt is not None:
            fields["txt"] = txt
        return self.ev("click", **fields)

    def react(self, lo=15, hi=120, n=None):
        """The page reacts: DOM mutations shortly after."""
        return self.at(self.rng.randint(lo, hi)).ev("mutation", n=n or self.rng.randint(1, 30))

    def glide(self, x0, x1, y, step=40):
        """Pointer moving smoothly from x0 to x1, one sample per 50 ms."""
        n = max(1, abs(x1 - x0) // step)
        for i in range(1, n + 1):
            self.at(50).ev("move", x=x0 + (x1 - x0) * i // n, y=y)
        return self

    def batches(self):
        out, cur = [], []
        for e in self.events:
            if cur and (e["ts"] - cur[0]["ts"] > 4000 or len(cur) >= 40):
                out.append(cur)
                cur = []
            cur.append(e)
        if cur:
            out.append(cur)
        return [{"v": 1, "sid": self.sid, "uid": "u-" + self.sid, "ctx": {"vw": 1280, "vh": self.vh}, "events": b}
                for b in out]


def start(s):
    s.nav("/", "load").react()
    s.at(s.rng.randint(400, 1500)).glide(300, 300 + s.rng.randint(100, 400), 200)
    return s


# Frustrated users -----------------------------------------------------------

def broken_button(s, r):
    """Clicks Save once; nothing happens; gives up and moves on."""
    start(s).at(r.randint(300, 900)).click("form > button#save", 500, 400, txt="Save")
    s.at(r.randint(4000, 8000)).glide(500, 200, 400)
    return ["dead_click"]


def hammered_broken_button(s, r):
    """Checkout does nothing; the user clicks it again and again."""
    start(s).at(500)
    x, y = 640, 500
    for _ in range(r.randint(4, 7)):
        s.click("div.cart > button#checkout", x + r.randint(-6, 6), y + r.randint(-6, 6), txt="Checkout")
        s.at(r.randint(110, 350))
    s.at(r.randint(3000, 6000)).glide(640, 300, 500)
    return ["rage_click", "dead_click"]


def error_on_click(s, r):
    """Add to cart throws."""
    start(s).at(700).click("button.add", 800, 300, txt="Add to cart").react(10, 60)
    s.at(r.randint(40, 600)).ev("error", msg="TypeError: cart is undefined", kind="error")
    s.at(r.randint(2000, 5000)).glide(800, 500, 300)
    return ["error_click"]


def slow_button(s, r):
    """Apply filters works, but only after a noticeable wait."""
    start(s).at(600).click("aside > button#apply", 200, 600, txt="Apply")
    s.at(r.randint(1300, 2800)).ev("mutation", n=40)
    s.at(r.randint(2000, 5000)).glide(200, 600, 600)
    return ["slow_click"]


def failing_submit(s, r):
    """The payment request fails with a server error."""
    start(s).at(800).ev("input", sel="form#pay > input#card").at(r.randint(800, 2000))
    s.ev("submit", sel="form#pay").react(10, 40)
    dur = r.randint(150, 2500)
    s.at(dur).ev("net", method="POST", url="https://api.example.com/pay", status=r.choice([500, 502, 503, 0]), dur=dur)
    s.react(5, 30)
    s.at(r.randint(3000, 6000)).glide(400, 700, 300)
    return ["failed_request"]


def form_retry_loop(s, r):
    """The sign-up form keeps coming back with no explanation."""
    start(s).nav("/signup").react()
    for _ in range(r.randint(3, 5)):
        s.at(r.randint(2500, 8000)).ev("input", sel="form#signup > input#email")
        s.at(r.randint(400, 1500)).ev("submit", sel="form#signup").react(20, 80)
        s.at(r.randint(100, 400)).ev("net", method="POST", url="https://api.example.com/signup", status=200, dur=100)
    s.at(r.randint(3000, 5000)).glide(400, 700, 300)
    return ["form_loop"]


def wrong_page(s, r):
    """Opens a product, sees it is the wrong one, goes straight back."""
    start(s).at(800).click("ul.results > li > a", 300, 300, tag="a", href="/p/1", txt="Blue shirt")
    s.at(r.randint(20, 80)).nav("/p/%d" % r.randint(1, 999)).react()
    s.at(r.randint(900, 4000)).nav("/", "pop").react()
    s.at(r.randint(2000, 4000)).glide(300, 600, 300)
    return ["u_turn"]


def searching_scroll(s, r):
    """Scrolls down and back up at least three times, looking for something
    that is not there."""
    start(s).at(500)
    y = 0
    for i in range(r.randint(6, 9)):
        leg = int(s.vh * r.uniform(0.6, 1.6))
        y = y + leg if i % 2 == 0 else max(0, y - leg)
        s.at(r.randint(300, 700)).ev("scroll", y=y)
    s.at(r.randint(3000, 6000)).glide(500, 200, 300)
    return ["excessive_scroll"]


def thrash(s, r):
    """Swings the pointer back and forth, impatient."""
    start(s).at(500)
    x = 600
    for i in range(r.randint(12, 20)):
        swing = r.randint(60, 220)
        x1 = x + swing if i % 2 == 0 else x - swing
        s.glide(x, x1, 400, step=max(30, swing // 2))
        x = x1
    s.at(r.randint(3000, 5000)).glide(x, 300, 400)
    return ["thrashed_cursor"]


def frozen_click(s, r):
    """The page locks up right after the click, then reacts late."""
    start(s).at(600).click("button#export", 900, 200, txt="Export")
    task = r.randint(1200, 3000)
    s.at(r.randint(20, 300)).ev("longtask", dur=task).at(task + r.randint(5, 50)).ev("mutation", n=12)
    s.at(r.randint(2000, 4000)).glide(900, 500, 200)
    return ["unresponsive", "slow_click"]


# Look-alikes: quick or repeated actions that are not frustration -------------

def text_selection(s, r):
    """Double or triple clicks a paragraph to select it, then copies. The
    browser changes the selection at the second click (a word) and again at
    the third (the paragraph), so `select` follows each of them."""
    start(s).at(800)
    for i in range(r.choice([2, 3])):
        s.click("article > p", 400 + r.randint(-2, 2), 300, tag="p")
        if i > 0:
            s.at(r.randint(1, 15)).ev("select")
        s.at(r.randint(80, 250))
    s.at(r.randint(1000, 3000)).glide(400, 700, 300)
    return []


def stepper(s, r):
    """Raises the quantity with the + button, several times quickly."""
    start(s).at(700)
    label = r.choice(["+", "-"])
    for _ in range(r.randint(3, 8)):
        s.click("div.qty > button.step", 700, 420, txt=label).react(10, 60).at(r.randint(100, 350))
    s.at(r.randint(1500, 3000)).glide(700, 300, 420)
    return []


def pagination(s, r):
    """Pages through results: Next, Next, Next."""
    start(s).at(600)
    label = r.choice(["Next", "##", "\u00bb"])
    for _ in range(r.randint(3, 5)):
        s.click("nav.pages > a", 900, 700, tag="a", href="/search?page=2", txt=label)
        s.at(r.randint(10, 40)).nav("/search").react().at(r.randint(250, 700))
    s.at(r.randint(2000, 4000)).glide(900, 400, 700)
    return []


def new_tab_link(s, r):
    """Opens the help centre in a new tab: this page does not change."""
    start(s).at(700).click("footer > a.help", 300, 750, tag="a", href="https://help.example.com", target="_blank",
                           txt="Help")
    s.at(r.randint(200, 1000)).ev("vis", state="hidden").at(r.randint(5000, 20000)).ev("vis", state="visible")
    s.at(500).glide(300, 600, 700)
    return []


def download(s, r):
    """Downloads the invoice: the browser saves a file, the page stays."""
    start(s).at(700).click("td > a.invoice", 1000, 300, tag="a", href="/invoice.pdf", download=True, txt="PDF")
    s.at(r.randint(3000, 6000)).glide(1000, 600, 300)
    return []


def slow_but_working(s, r):
    """A spinner shows at once, the results a few seconds later."""
    start(s).at(700).click("form > button#search", 600, 100, txt="Search").react(10, 80)
    s.at(r.randint(1500, 4000)).ev("mutation", n=60)
    s.at(r.randint(2000, 4000)).glide(600, 300, 100)
    return []


def reading(s, r):
    """Reads a long page: scrolls down in small steps, clicks a tab, goes on."""
    start(s)
    y = 0
    for _ in range(r.randint(6, 12)):
        y += int(s.vh * r.uniform(0.1, 0.35))
        s.at(r.randint(600, 2500)).ev("scroll", y=y)
    s.at(800).click("ul.tabs > li#reviews", 500, 200, tag="li", txt="Reviews").react()
    s.at(r.randint(1000, 3000)).nav("/p/2").react()
    s.at(r.randint(1000, 3000)).glide(500, 800, 300)
    return []


def broken_then_working(s, r):
    """Apply coupon does nothing; soon after, Add to cart works at once."""
    start(s).at(600).click("form.coupon > button#apply", 420, 380, txt="Apply")
    s.at(r.randint(400, 2500)).click("div.buy > button#add", 700, 300, txt="Add to cart").react(2, 60)
    s.at(r.randint(3000, 6000)).glide(700, 400, 300)
    return ["dead_click"]


def broken_then_typing(s, r):
    """Send does nothing; the user clicks into the message field and types on."""
    start(s).at(600).click("form.chat > button#send", 900, 500, txt="Send")
    s.at(r.randint(400, 2000)).click("form.chat > textarea#msg", 500, 500, tag="textarea")
    for _ in range(r.randint(3, 8)):
        s.at(r.randint(120, 400)).ev("input", sel="form.chat > textarea#msg")
    s.at(r.randint(3000, 6000)).glide(500, 300, 500)
    return ["dead_click"]


def broken_then_new_tab(s, r):
    """Compare does nothing; the user opens the size guide in a new tab instead."""
    start(s).at(600).click("div.tools > button#compare", 300, 450, txt="Compare")
    s.at(r.randint(600, 2200)).click("div.tools > a#guide", 500, 450, tag="a", href="/guide", target="_blank",
                                     in_link=True, txt="Size guide")
    s.at(r.randint(80, 400)).ev("vis", state="hidden")
    s.at(r.randint(5000, 20000)).ev("vis", state="visible").glide(500, 700, 450)
    return ["dead_click"]


SCENARIOS = [broken_button, hammered_broken_button, error_on_click, slow_button, failing_submit, form_retry_loop,
             wrong_page, searching_scroll, thrash, frozen_click, text_selection, stepper, pagination, new_tab_link,
             download, slow_but_working, reading, broken_then_working, broken_then_typing,
             broken_then_new_tab]


def main():
    labels = []
    for split in ["train", "holdout"]:
        rng = random.Random(SEEDS[split])
        lines = []
        for scenario in SCENARIOS:
            for i in range(PER_SCENARIO[split]):
                sid = "%s-%s-%02d" % (split, scenario.__name__, i)
                s = Session(sid, rng)
                kinds = scenario(s, rng)
                lines.extend(s.batches())
                labels.append({"sid": sid, "split": split, "scenario": scenario.__name__, "kinds": sorted(kinds)})
        with open("corpus/%s.jsonl" % split, "w") as f:
            for b in lines:
                f.write(json.dumps(b, separators=(",", ":"), ensure_ascii=False) + "\n")
    # The sessions recorded in a browser (corpus/record.mjs) keep their labels.
    with open("corpus/labels.jsonl") as f:
        recorded = [l for l in f if json.loads(l)["split"] == "browser"]
    with open("corpus/labels.jsonl", "w") as f:
        for l in labels:
            f.write(json.dumps(l, separators=(",", ":")) + "\n")
        f.writelines(recorded)


if __name__ == "__main__":
    main()
