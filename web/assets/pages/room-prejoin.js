// room-prejoin.js — the check before joining: camera and microphone preview, device choice
// (the lists fill in once permission is granted), and a live microphone level meter.

const $ = (id) => document.getElementById(id);

function reducedMotion() {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

export class Prejoin {
  constructor() {
    this.stream = null;
    this.meter = null;
    $("camera-select").addEventListener("change", () => this.switchDevice("video"));
    $("mic-select").addEventListener("change", () => this.switchDevice("audio"));
  }

  /** Asks for camera and microphone; throws the getUserMedia error. */
  async start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      const err = new Error("no media devices");
      err.name = "NotSupportedError";
      throw err;
    }
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
    $("preview").srcObject = this.stream;
    await this.fillDeviceLists();
    this.startMeter();
    return this.stream;
  }

  async fillDeviceLists() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, current) => {
      select.replaceChildren();
      const list = devices.filter((d) => d.kind === kind);
      list.forEach((d, i) => {
        const o = document.createElement("option");
        o.value = d.deviceId;
        o.textContent = d.label || `${kind === "videoinput" ? "Camera" : "Microphone"} ${i + 1}`;
        o.selected = d.deviceId === current;
        select.append(o);
      });
      select.disabled = list.length < 2;
    };
    fill($("camera-select"), "videoinput", this.stream.getVideoTracks()[0]?.getSettings().deviceId);
    fill($("mic-select"), "audioinput", this.stream.getAudioTracks()[0]?.getSettings().deviceId);
  }

  async switchDevice(kind) {
    const id = $(kind === "video" ? "camera-select" : "mic-select").value;
    const constraints = kind === "video"
      ? { video: { deviceId: { exact: id }, width: 1280, height: 720 } }
      : { audio: { deviceId: { exact: id } } };
    const fresh = await navigator.mediaDevices.getUserMedia(constraints);
    const track = fresh.getTracks()[0];
    for (const old of kind === "video" ? this.stream.getVideoTracks() : this.stream.getAudioTracks()) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    $("preview").srcObject = this.stream;
    if (kind === "audio") this.startMeter();
  }

  startMeter() {
    this.stopMeter();
    const track = this.stream?.getAudioTracks()[0];
    const bar = $("mic-meter-level");
    if (!track || !window.AudioContext) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const tick = () => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
      bar.style.width = `${Math.min(100, Math.round((peak / 128) * 140))}%`;
    };
    const timer = setInterval(tick, reducedMotion() ? 500 : 80);
    this.meter = { ctx, timer };
    ctx.resume().catch(() => {});
  }

  stopMeter() {
    if (!this.meter) return;
    clearInterval(this.meter.timer);
    this.meter.ctx.close().catch(() => {});
    this.meter = null;
  }

  /** Hands the tracks over to the call (the preview stops showing them). */
  takeTracks() {
    this.stopMeter();
    $("preview").srcObject = null;
    const s = this.stream;
    this.stream = null;
    return s;
  }
}
