// voice-meter.js — the AI coach's audio level, drawn as five bars from an analyser on its
// received track (updated less often under prefers-reduced-motion). `peak` keeps the
// loudest level seen, for tests.

export class AgentMeter {
  constructor(root) {
    this.bars = [...root.querySelectorAll("span")];
    this.ctx = null;
    this.timer = null;
    this.peak = 0;
  }

  attach(track) {
    this.detach();
    if (!window.AudioContext) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    const slow = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    this.ctx = ctx;
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      const rms = Math.sqrt(sum / data.length);
      this.peak = Math.max(this.peak, rms);
      const level = Math.min(1, rms * 6);
      this.bars.forEach((bar, i) => {
        const shape = [0.5, 0.8, 1, 0.8, 0.5][i];
        bar.style.transform = `scaleY(${Math.max(0.12, level * shape)})`;
      });
    }, slow ? 400 : 60);
    ctx.resume().catch(() => {});
  }

  detach() {
    clearInterval(this.timer);
    this.timer = null;
    this.ctx?.close().catch(() => {});
    this.ctx = null;
    for (const bar of this.bars) bar.style.transform = "scaleY(0.12)";
  }
}
