// emitter.js — a minimal event emitter for the room session (on/off/once/emit).
// Listeners that throw are reported on the console and do not stop the others.

export class Emitter {
  constructor() {
    this.listeners = new Map();
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  once(type, fn) {
    const off = this.on(type, (v) => { off(); fn(v); });
    return off;
  }

  emit(type, value) {
    for (const fn of [...(this.listeners.get(type) ?? [])]) {
      try { fn(value); } catch (err) { console.error(`listener for ${type} failed`, err); }
    }
    for (const fn of [...(this.listeners.get("*") ?? [])]) {
      try { fn({ type, value }); } catch (err) { console.error("wildcard listener failed", err); }
    }
  }
}
