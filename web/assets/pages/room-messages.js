// room-messages.js — what the room page says when something is wrong (in words a person
// understands), the join token's claims read from the link, and the booking's Jitsi Meet
// fallback link: from the token's `fallback` claim, else through the bookings API when the
// visitor is logged in.

import { api } from "../lib/api.js";

export const MESSAGES = {
  noToken: "This link is missing its access code. Open the link from your booking again, or ask the organiser for a new one.",
  expired: "This join link has expired. Ask your coach or the organiser for a new link.",
  notYetValid: "This join link is not valid yet. Open it again closer to the start of the session.",
  invalid: "This join link is not valid. Check that you copied all of it, or ask for a new one.",
  wrongRoom: "This join link belongs to another room. Open the link from your booking again.",
  full: "This room is full: it already has as many people as it allows. Try again when someone leaves.",
  denied: "Your browser blocked the camera and microphone. Allow them for this site (the camera icon in the address bar), then try again. You can also join without them.",
  noDevice: "No camera or microphone was found. Connect one and try again, or join without them.",
  busyDevice: "Your camera or microphone is being used by another app. Close it and try again, or join without them.",
  unreachable: "Cannot connect to the video server. Check your internet connection and try again.",
  lost: "The connection to the video server was lost and could not be restored. Check your internet connection and try again.",
  replaced: "You joined this call from another window or device, so this one has left.",
  ended: "The call has ended.",
  unsupported: "This browser cannot make video calls. Use a recent Chrome, Edge, Firefox or Safari.",
};

/**
 * Browsers allow the camera and microphone only on secure pages (https, or localhost). On a
 * plain-http address they hide the devices, which would otherwise read as "no camera found".
 */
export function insecureContextText(what) {
  const https = location.href.replace(/^http:/, "https:");
  return `Your browser allows the camera and microphone only on secure (https) pages, and this page was opened over plain http, so ${what} cannot start here. Open ${https} instead, or ask the server's operator to set up HTTPS (http.public_url must start with https://).`;
}

/** The join error from the server or the network, in words. */
export function joinErrorText(code, message = "") {
  const m = message.toLowerCase();
  if (code === "invalid_token") {
    if (m.includes("expired")) return MESSAGES.expired;
    if (m.includes("not valid yet")) return MESSAGES.notYetValid;
    if (m.includes("another room")) return MESSAGES.wrongRoom;
    return MESSAGES.invalid;
  }
  if (code === "room_full") return MESSAGES.full;
  if (code === "replaced") return MESSAGES.replaced;
  if (code === "unreachable") return MESSAGES.unreachable;
  if (code === "bye") return MESSAGES.ended;
  return message ? `${message.charAt(0).toUpperCase()}${message.slice(1)}.`.replace(/\.\.$/, ".") : MESSAGES.unreachable;
}

/** A getUserMedia failure, in words. */
export function mediaErrorText(err) {
  if (!window.isSecureContext) return insecureContextText("the video call");
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return MESSAGES.denied;
    case "NotFoundError":
    case "OverconstrainedError":
      return MESSAGES.noDevice;
    case "NotReadableError":
    case "AbortError":
      return MESSAGES.busyDevice;
    default:
      return MESSAGES.noDevice;
  }
}

/** The claims of a join token (unverified: only for the page's own use), or null. */
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** An http(s) URL from an unverified claim, or null (never a javascript: or data: link). */
function webUrl(raw) {
  if (typeof raw !== "string") return null;
  try {
    const u = new URL(raw);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * The Jitsi Meet link of the booking that owns `room`: the join token's `fallback` claim
 * (unverified, so only ever shown as a link), or else, when the visitor is logged in as one
 * of its participants, the booking's link; null otherwise.
 */
export async function findFallbackUrl(room, claims = null) {
  const fromToken = webUrl(claims?.fallback);
  if (fromToken) return fromToken;
  const suffix = `/r/${room}`;
  for (const scope of ["upcoming", "past"]) {
    let bookings;
    try {
      bookings = await api("GET", `/api/bookings?scope=${scope}`);
    } catch {
      return null; // logged out, or the server is unreachable
    }
    const hit = (bookings || []).find((b) => b.join_url && b.join_url.endsWith(suffix));
    if (hit) return hit.fallback_url || null;
  }
  return null;
}
