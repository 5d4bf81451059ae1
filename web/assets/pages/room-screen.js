// room-screen.js — starts a screen share with getDisplayMedia; returns its video track, or
// null when the person cancelled the browser's picker.

export async function startScreenShare() {
  if (!navigator.mediaDevices?.getDisplayMedia) {
    throw new Error("this browser cannot share a screen");
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
    return stream.getVideoTracks()[0];
  } catch (err) {
    if (err.name === "NotAllowedError") return null;
    throw err;
  }
}
