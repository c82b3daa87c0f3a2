// Live updates: one EventSource on /api/v1/events/stream, fanned out to whichever view is showing.
// Views get {type: "ready"} when (re)connected, {type: "reset"} when changes were missed (reload), and
// {type: "incident", event} per change. The indicator in the header says whether the feed is live.

const STREAM = "/api/v1/events/stream";

export class LiveFeed {
  constructor(indicator) {
    this.indicator = indicator;
    this.listeners = new Set();
    this.lastSeq = null;
    this.source = null;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start() {
    const url = this.lastSeq === null ? STREAM : `${STREAM}?after=${this.lastSeq}`;
    const es = new EventSource(url);
    this.source = es;
    this.status("off", "connecting…");
    es.addEventListener("ready", (e) => {
      const data = JSON.parse(e.data);
      this.lastSeq = data.last_seq;
      this.status("on", "live");
      this.emit({ type: "ready" });
    });
    es.addEventListener("incident", (e) => {
      const event = JSON.parse(e.data);
      this.lastSeq = event.seq;
      this.emit({ type: "incident", event });
    });
    es.addEventListener("reset", (e) => {
      this.lastSeq = JSON.parse(e.data).last_seq;
      this.emit({ type: "reset" });
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // refused (e.g. 503: too many streams) or gone: try again later, from where we were
        this.status("off", "offline, retrying");
        setTimeout(() => this.start(), 5000);
      } else {
        this.status("off", "reconnecting…");
      }
    };
  }

  emit(msg) {
    for (const fn of this.listeners) {
      try {
        fn(msg);
      } catch (err) {
        console.error("live update handler failed", err);
      }
    }
  }

  status(state, text) {
    this.indicator.dataset.live = state;
    this.indicator.textContent = text;
  }
}
