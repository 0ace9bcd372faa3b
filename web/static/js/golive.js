// Go live from the browser: camera or screen → WebRTC → WHIP (POST /whip
// with the channel's stream key as Bearer token). The server takes H.264 and
// Opus, so H.264 is the only video codec offered.
import { api, t } from "./lib.js";

const root = document.getElementById("golive");
const form = document.getElementById("golive-form");
const preview = document.getElementById("golive-preview");
const statusEl = document.getElementById("golive-status");
const startBtn = document.getElementById("golive-start");
const stopBtn = document.getElementById("golive-stop");
const name = root.dataset.channel;

let pc = null;
let media = null;
let resource = null;

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

async function waitGathering(peer, ms) {
  if (peer.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    peer.addEventListener("icegatheringstatechange", () => {
      if (peer.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function stop() {
  if (resource) {
    fetch(resource, { method: "DELETE", keepalive: true }).catch(() => {});
    resource = null;
  }
  if (pc) pc.close();
  pc = null;
  if (media) media.getTracks().forEach((tr) => tr.stop());
  media = null;
  preview.srcObject = null;
  stopBtn.hidden = true;
  startBtn.disabled = false;
}

async function start(ev) {
  ev.preventDefault();
  startBtn.disabled = true;
  setStatus("starting", t("golive.status.key"));
  const res = await api("POST", `/channels/${encodeURIComponent(name)}/key`, { password: form.password.value });
  if (!res.ok) {
    setStatus("error", res.message);
    startBtn.disabled = false;
    return;
  }
  const key = res.data.stream_key;
  form.password.value = "";
  try {
    setStatus("starting", t("golive.status.media"));
    media = form.source.value === "screen"
      ? await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 30 }, audio: true })
      : await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720, frameRate: 30 }, audio: true });
    preview.srcObject = media;
    pc = new RTCPeerConnection();
    for (const track of media.getTracks()) {
      const tr = pc.addTransceiver(track, { direction: "sendonly", streams: [media] });
      if (track.kind === "video" && tr.setCodecPreferences) {
        const h264 = RTCRtpSender.getCapabilities("video").codecs.filter((c) => c.mimeType === "video/H264");
        if (h264.length) tr.setCodecPreferences(h264);
      }
    }
    setStatus("starting", t("golive.status.connecting"));
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathering(pc, 3000);
    const resp = await fetch("/whip", {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + key },
      body: pc.localDescription.sdp,
    });
    if (resp.status !== 201) {
      let msg = t("golive.status.refused");
      try { msg = (await resp.json()).message || msg; } catch { /* not JSON */ }
      throw new Error(msg);
    }
    resource = resp.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await resp.text() });
    pc.addEventListener("connectionstatechange", () => {
      if (!pc) return;
      if (pc.connectionState === "connected") setStatus("live", t("golive.status.live"));
      if (pc.connectionState === "failed" || pc.connectionState === "disconnected") setStatus("error", t("golive.status.lost"));
    });
    stopBtn.hidden = false;
  } catch (err) {
    setStatus("error", err && err.message ? err.message : t("golive.status.refused"));
    await stop();
  }
}

form.addEventListener("submit", start);
stopBtn.addEventListener("click", async () => {
  await stop();
  setStatus("idle", t("golive.status.stopped"));
});
window.addEventListener("pagehide", () => { if (resource) fetch(resource, { method: "DELETE", keepalive: true }).catch(() => {}); });
