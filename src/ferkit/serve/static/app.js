// ferkit's page: photo, live camera and video flows over the server's API. No libraries, no CDN.
"use strict";

const EMOTION_COLORS = {
  angry: "#dc2828", disgust: "#288c28", fear: "#a03ca0", happy: "#f0c828",
  sad: "#2878c8", surprise: "#ff8c00", neutral: "#aaaaaa", contempt: "#a06464",
};
const $ = (id) => document.getElementById(id);
const state = { classes: [], token: null };

// ------------------------------------------------------------------ token and requests
(function readToken() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    sessionStorage.setItem("ferkit-token", token);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  state.token = sessionStorage.getItem("ferkit-token");
})();

function authHeaders() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

function withToken(path) {
  return state.token ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(state.token) : path;
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  } catch (err) {
    serverGone();
    throw new Error("The server cannot be reached. Is `ferkit serve` still running?");
  }
  serverBack();
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `The server answered ${response.status}.`);
  }
  return body;
}

function serverGone() {
  const banner = $("server-status");
  banner.textContent = "The server is gone: it cannot be reached. Start `ferkit serve` again, then reload this page.";
  banner.classList.remove("hidden");
}

function serverBack() {
  $("server-status").classList.add("hidden");
}

function say(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// ------------------------------------------------------------------ tabs
document.querySelectorAll(".tab").forEach((tab) => {
  tab.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".panel").forEach((p) => p.classList.toggle("hidden", p.id !== tab.dataset.panel));
  });
});

// ------------------------------------------------------------------ bars
function bars(emotions, title) {
  const card = document.createElement("div");
  card.className = "face-card";
  if (title) {
    const h = document.createElement("h4");
    h.textContent = title;
    card.appendChild(h);
  }
  for (const [name, p] of Object.entries(emotions)) {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.emotion = name;
    row.innerHTML = `<span>${name}</span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
    row.querySelector(".fill").style.width = (100 * p).toFixed(1) + "%";
    row.querySelector(".fill").style.background = EMOTION_COLORS[name] || "#2f6fed";
    row.querySelector(".value").textContent = (100 * p).toFixed(0) + "%";
    card.appendChild(row);
  }
  return card;
}

// ------------------------------------------------------------------ photo
let photoResult = null;

async function analyzePhoto(file) {
  say("photo-message", `Analysing ${file.name}...`);
  $("photo-faces").innerHTML = "";
  $("photo-download").classList.add("hidden");
  const form = new FormData();
  form.append("file", file);
  try {
    const result = await api("/api/analyze?annotate=1", { method: "POST", body: form });
    photoResult = result;
    const img = $("photo-annotated");
    img.src = "data:image/jpeg;base64," + result.annotated_jpeg;
    img.classList.remove("hidden");
    result.faces.forEach((face, i) => {
      $("photo-faces").appendChild(bars(face.emotions, `Face ${i + 1}: ${face.label} (${face.sentiment})`));
    });
    $("photo-download").classList.remove("hidden");
    say("photo-message", result.faces.length
      ? `${result.faces.length} face${result.faces.length > 1 ? "s" : ""} found in ${file.name}.`
      : `No face found in ${file.name}. Try a photo where the face is larger and turned to the camera.`);
    document.body.dataset.photoFaces = String(result.faces.length);
  } catch (err) {
    $("photo-annotated").classList.add("hidden");
    say("photo-message", err.message, true);
    document.body.dataset.photoFaces = "error";
  }
}

$("photo-input").addEventListener("change", (e) => { if (e.target.files[0]) analyzePhoto(e.target.files[0]); });
const drop = $("photo-drop");
["dragenter", "dragover"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
drop.addEventListener("drop", (e) => { if (e.dataTransfer.files[0]) analyzePhoto(e.dataTransfer.files[0]); });
$("photo-download").addEventListener("click", () => {
  const { annotated_jpeg, ...rest } = photoResult;
  download(new Blob([JSON.stringify(rest, null, 2)], { type: "application/json" }), "faces.json");
});

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 5000);
}

// ------------------------------------------------------------------ live camera
const live = {
  ws: null, stream: null, timer: null, inFlight: 0, results: 0, resultTimes: [], history: [],
  recording: false, rows: [], grab: document.createElement("canvas"),
};
const SEND_FPS = 12;

async function startLive() {
  say("live-message", "Asking for the camera...");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("live-message", "This browser gives no camera to pages served over plain HTTP from another machine: open the page on this machine (localhost) or over HTTPS.", true);
    return;
  }
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    const why = err.name === "NotAllowedError" ? "Camera permission was denied. Allow the camera for this page (the icon in the address bar) and press Start again."
      : err.name === "NotFoundError" || err.name === "OverconstrainedError" ? "No camera was found. Plug one in and press Start again."
      : err.name === "NotReadableError" ? "The camera is in use by another program."
      : "The camera could not be started (" + err.name + ").";
    say("live-message", why, true);
    return;
  }
  const video = $("live-video");
  video.srcObject = live.stream;
  await video.play();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  live.ws = new WebSocket(withToken(`${proto}//${location.host}/api/stream`));
  live.ws.binaryType = "arraybuffer";
  live.ws.onopen = () => {
    say("live-message", "Live: your expressions are measured on the server.");
    live.ws.send(JSON.stringify({ type: "options", smooth: $("live-smooth").checked }));
    live.timer = setInterval(sendFrame, 1000 / SEND_FPS);
  };
  live.ws.onmessage = (e) => onLiveMessage(JSON.parse(e.data));
  live.ws.onclose = (e) => {
    if (live.stream) {
      say("live-message", e.code === 4401 ? "The server wants a token: open the page as /?token=TOKEN."
        : "The connection to the server was lost. Is `ferkit serve` still running?", true);
      if (e.code !== 4401) serverGone();
      stopLive(false);
    }
  };
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  $("live-record").disabled = false;
}

function stopLive(clearMessage = true) {
  clearInterval(live.timer);
  live.timer = null;
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  live.stream = null;
  if (live.ws && live.ws.readyState <= 1) live.ws.close();
  live.ws = null;
  live.inFlight = 0;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
  if (clearMessage) say("live-message", "Stopped.");
}

function sendFrame() {
  const video = $("live-video");
  if (!live.ws || live.ws.readyState !== 1 || !video.videoWidth || live.inFlight >= 2) return;
  live.grab.width = video.videoWidth;
  live.grab.height = video.videoHeight;
  live.grab.getContext("2d").drawImage(video, 0, 0);
  const t = performance.now();
  live.inFlight += 1;
  live.grab.toBlob(async (blob) => {
    if (!blob || !live.ws || live.ws.readyState !== 1) { live.inFlight = Math.max(0, live.inFlight - 1); return; }
    const jpeg = new Uint8Array(await blob.arrayBuffer());
    const message = new Uint8Array(8 + jpeg.length);
    new DataView(message.buffer).setFloat64(0, t, true);
    message.set(jpeg, 8);
    live.ws.send(message.buffer);
  }, "image/jpeg", 0.8);
}

function onLiveMessage(msg) {
  if (msg.type === "error") {
    live.inFlight = Math.max(0, live.inFlight - 1);
    say("live-message", "The server could not use a frame: " + msg.message, true);
    return;
  }
  if (msg.type !== "result") return;
  live.inFlight = Math.max(0, live.inFlight - 1);
  const now = performance.now();
  live.results += 1;
  live.resultTimes.push(now);
  while (live.resultTimes.length && now - live.resultTimes[0] > 1000) live.resultTimes.shift();
  $("live-fps").textContent = live.resultTimes.length;
  $("live-latency").textContent = Math.round(now - msg.t);
  $("live-server-ms").textContent = Math.round(msg.processing_ms);
  $("live-dropped").textContent = msg.dropped;
  document.body.dataset.liveResults = String(live.results);
  document.body.dataset.liveFaces = String(msg.faces.length);
  drawOverlay(msg);
  const main = mainFace(msg.faces);
  $("live-bars").innerHTML = "";
  if (main) {
    $("live-bars").appendChild(bars(main.emotions, `#${main.track_id}: ${main.label}`));
    live.history.push({ t: now, emotions: main.emotions });
  }
  while (live.history.length && now - live.history[0].t > 30000) live.history.shift();
  drawTimeline();
  if (live.recording) {
    msg.faces.forEach((f) => live.rows.push({ time_ms: Math.round(msg.t), track_id: f.track_id, label: f.label,
      x: f.box[0], y: f.box[1], w: f.box[2], h: f.box[3], ...f.emotions }));
    $("live-download-csv").disabled = live.rows.length === 0;
  }
}

function mainFace(faces) {
  return faces.reduce((best, f) => (!best || f.box[2] * f.box[3] > best.box[2] * best.box[3] ? f : best), null);
}

function drawOverlay(msg) {
  const canvas = $("live-canvas");
  const rect = canvas.getBoundingClientRect();
  canvas.width = rect.width;
  canvas.height = rect.height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const sx = canvas.width / msg.width, sy = canvas.height / msg.height;
  for (const f of msg.faces) {
    const [x, y, w, h] = [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy];
    const color = EMOTION_COLORS[f.label] || "#2f6fed";
    ctx.lineWidth = 3;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, h);
    ctx.fillStyle = color;
    ctx.font = "bold 15px system-ui, sans-serif";
    ctx.fillText(`#${f.track_id} ${f.label} ${Math.round(100 * f.emotions[f.label])}%`, x, Math.max(14, y - 6));
    const names = Object.keys(f.emotions);
    names.forEach((name, i) => {   // the seven bars beside the box
      const by = y + i * 12, bx = x + w + 6;
      ctx.fillStyle = "rgba(0,0,0,0.45)";
      ctx.fillRect(bx, by, 100, 10);
      ctx.fillStyle = EMOTION_COLORS[name] || "#2f6fed";
      ctx.fillRect(bx, by, 100 * f.emotions[name], 10);
      ctx.fillStyle = "#fff";
      ctx.font = "9px system-ui, sans-serif";
      ctx.fillText(name, bx + 2, by + 8);
    });
  }
}

function drawTimeline() {
  const canvas = $("live-timeline");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (live.history.length < 2) return;
  const now = live.history[live.history.length - 1].t;
  const x = (t) => canvas.width - ((now - t) / 30000) * canvas.width;
  const y = (p) => canvas.height - 4 - p * (canvas.height - 8);
  for (const name of Object.keys(live.history[0].emotions)) {
    ctx.strokeStyle = EMOTION_COLORS[name] || "#2f6fed";
    ctx.lineWidth = 2;
    ctx.beginPath();
    live.history.forEach((h, i) => (i ? ctx.lineTo(x(h.t), y(h.emotions[name])) : ctx.moveTo(x(h.t), y(h.emotions[name]))));
    ctx.stroke();
  }
}

$("live-start").addEventListener("click", startLive);
$("live-stop").addEventListener("click", () => stopLive());
$("live-smooth").addEventListener("change", (e) => {
  if (live.ws && live.ws.readyState === 1) live.ws.send(JSON.stringify({ type: "options", smooth: e.target.checked }));
});
$("live-record").addEventListener("click", () => {
  live.recording = !live.recording;
  if (live.recording) live.rows = [];
  $("live-record").textContent = live.recording ? "Stop recording" : "Record";
  say("live-message", live.recording ? "Recording every face of every analysed frame..." : `Recorded ${live.rows.length} rows.`);
});
$("live-download-csv").addEventListener("click", () => {
  if (!live.rows.length) return;
  const cols = Object.keys(live.rows[0]);
  const lines = [cols.join(",")].concat(live.rows.map((r) => cols.map((c) => r[c]).join(",")));
  download(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }), "live.csv");
});

// ------------------------------------------------------------------ video
function uploadVideo(file) {
  $("video-done").classList.add("hidden");
  $("video-progress").style.width = "0%";
  say("video-status", `Uploading ${file.name}...`);
  const form = new FormData();
  form.append("file", file);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/videos");
  for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) say("video-status", `Uploading ${file.name}: ${Math.round((100 * e.loaded) / e.total)}%`);
  };
  xhr.onerror = () => { serverGone(); say("video-status", "The upload failed: the server cannot be reached.", true); };
  xhr.onload = () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
    if (xhr.status !== 202) {
      say("video-status", (body && body.error) || `The server refused the video (${xhr.status}).`, true);
      document.body.dataset.videoState = "refused";
      return;
    }
    followJob(body.id, file.name);
  };
  xhr.send(form);
}

function followJob(id, name) {
  say("video-status", `Analysing ${name}...`);
  const events = new EventSource(withToken(`/api/jobs/${id}/events`));
  events.onmessage = (e) => {
    const job = JSON.parse(e.data);
    $("video-progress").style.width = (100 * job.progress).toFixed(1) + "%";
    document.body.dataset.videoState = job.state;
    if (job.state === "running" || job.state === "queued") {
      say("video-status", job.state === "queued" ? `${name} is waiting for its turn...`
        : `Analysing ${name}: ${job.frames_done}${job.frames_expected ? " of " + job.frames_expected : ""} frames`);
    } else {
      events.close();
      if (job.state === "done") showJob(job);
      else say("video-status", `${name}: ${job.error || job.state}`, true);
    }
  };
  events.onerror = () => {
    if (document.body.dataset.videoState !== "done") {
      events.close();
      serverGone();
      say("video-status", "Lost the server while the video was being analysed.", true);
    }
  };
}

function showJob(job) {
  const s = job.summary || {};
  const overall = s.overall || {};
  say("video-status", `${job.name}: done.`);
  $("video-timeline").src = withToken(job.downloads["timeline.png"]);
  const shares = overall.mean_sentiment || {};
  $("video-summary").innerHTML = "";
  const p = document.createElement("p");
  p.textContent = `${s.frames_sampled || 0} frames, ${s.tracks || 0} face track(s). Dominant emotion: ` +
    `${overall.dominant_by_mean || "none"}. Positive ${pct(shares.positive)}, neutral ${pct(shares.neutral)}, negative ${pct(shares.negative)}.`;
  $("video-summary").appendChild(p);
  if (overall.mean_emotions) $("video-summary").appendChild(bars(overall.mean_emotions, "Mean over the video"));
  $("video-downloads").innerHTML = "";
  for (const [name, url] of Object.entries(job.downloads)) {
    const a = document.createElement("a");
    a.href = withToken(url);
    a.textContent = name;
    a.setAttribute("download", "");
    $("video-downloads").appendChild(a);
  }
  $("video-done").classList.remove("hidden");
}

function pct(v) { return v === undefined ? "-" : Math.round(100 * v) + "%"; }

$("video-input").addEventListener("change", (e) => { if (e.target.files[0]) uploadVideo(e.target.files[0]); });

// ------------------------------------------------------------------ start
api("/api/health").then((h) => {
  $("version").textContent = h.version;
  $("model-name").textContent = h.model;
  state.classes = h.classes;
}).catch((err) => {
  if (String(err.message).includes("token")) say("photo-message", "This server wants a token: open the page as /?token=TOKEN.", true);
});
setInterval(() => { api("/api/health").catch(() => {}); }, 5000);
