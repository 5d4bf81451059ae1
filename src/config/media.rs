//! Media settings: the WebRTC transport (ports, announced address, STUN/TURN, NACK history,
//! socket buffers)
//! and the video room limits, with the checks [`Config::validate`] runs on them.

use super::{Config, ConfigError, Secret};
use serde::{Deserialize, Serialize};

/// Media transport (WebRTC).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtcConfig {
    /// UDP port range for all media sockets, `"min-max"` (open it in the firewall).
    pub udp_ports: String,
    /// Public IPv4/IPv6 address behind a 1:1 NAT, written into the ICE candidates the server
    /// sends; empty = announce the local addresses.
    pub announced_ip: String,
    /// STUN server URLs handed to clients (`stun:host:port`); none by default, so no third
    /// party learns who calls.
    pub ice_servers: Vec<String>,
    /// TURN server URLs (`turn:host:3478?transport=udp`, `turns:…`), used with
    /// `PARLOR_RTC__TURN_SECRET` (env only) to hand out time-limited credentials.
    pub turn_urls: Vec<String>,
    /// Shared secret of the TURN server's REST API (coturn `static-auth-secret`). Env only.
    pub turn_secret: Secret,
    /// Lifetime of TURN credentials in seconds.
    pub turn_ttl_secs: u32,
    /// A participant whose ICE stays disconnected or failed this long is removed.
    pub ice_timeout_secs: u32,
    /// Sent packets kept per stream to answer retransmission requests (NACK): a power of two
    /// from 32 to 1024. The SFU keeps one history per subscriber and video track, so this is a
    /// large part of its memory per participant; 128 covers ~0.6 s of a 2 Mbit/s call (about
    /// 200 packets/s), several round trips on any usable path.
    pub nack_history: u16,
    /// Receive buffer asked for each media socket, in bytes (4 MiB by default; the kernel's
    /// default of ~208 KiB overflows in keyframe bursts of busy rooms, which then need
    /// retransmissions). Linux caps it at `net.core.rmem_max`; parlor warns once if so.
    pub recv_buffer_bytes: u32,
    /// Send buffer asked for each media socket, in bytes (1 MiB by default; capped at
    /// `net.core.wmem_max`).
    pub send_buffer_bytes: u32,
}

/// Video room limits and join tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    /// Most participants in one room.
    pub max_participants: u32,
    /// Most rooms open at once on this server.
    pub max_rooms: u32,
    /// Lifetime of join tokens minted by the API, in minutes (never past the booking's end
    /// plus `join_grace_minutes`).
    pub join_token_ttl_minutes: u32,
    /// How long before a booking's start its room tokens can be had and its room entered.
    pub join_lead_minutes: u32,
    /// How long after a booking's end its room can still be entered.
    pub join_grace_minutes: u32,
}

impl Default for RtcConfig {
    fn default() -> Self {
        Self {
            udp_ports: "40000-40999".into(),
            announced_ip: String::new(),
            ice_servers: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: Secret::default(),
            turn_ttl_secs: 6 * 3600,
            ice_timeout_secs: 30,
            nack_history: 128,
            recv_buffer_bytes: 4 << 20,
            send_buffer_bytes: 1 << 20,
        }
    }
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            max_participants: 8,
            max_rooms: 100,
            join_token_ttl_minutes: 240,
            join_lead_minutes: 15,
            join_grace_minutes: 30,
        }
    }
}

impl RtcConfig {
    /// The UDP port range, when `udp_ports` is well formed.
    pub fn port_range(&self) -> Option<(u16, u16)> {
        let (a, b) = self.udp_ports.split_once('-')?;
        let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
        (a >= 1024 && a <= b).then_some((a, b))
    }

    /// The announced public address, if set and valid.
    pub fn announced_ip(&self) -> Option<std::net::IpAddr> {
        self.announced_ip.parse().ok()
    }
}

impl Config {
    pub(super) fn validate_media(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg: msg.into(),
            })
        };
        let Some((lo, hi)) = self.rtc.port_range() else {
            return bad(
                "rtc.udp_ports",
                "must be \"min-max\" with 1024 <= min <= max <= 65535",
            );
        };
        if usize::from(hi - lo) + 1 < 4 {
            return bad(
                "rtc.udp_ports",
                "needs at least 4 ports (each participant uses 2)",
            );
        }
        if !self.rtc.announced_ip.is_empty() && self.rtc.announced_ip().is_none() {
            return bad(
                "rtc.announced_ip",
                "must be an IP address such as 203.0.113.7",
            );
        }
        if self
            .rtc
            .ice_servers
            .iter()
            .any(|u| !(u.starts_with("stun:") || u.starts_with("stuns:")))
        {
            return bad("rtc.ice_servers", "entries must be stun: or stuns: URLs");
        }
        if self
            .rtc
            .turn_urls
            .iter()
            .any(|u| !(u.starts_with("turn:") || u.starts_with("turns:")))
        {
            return bad("rtc.turn_urls", "entries must be turn: or turns: URLs");
        }
        if !self.rtc.turn_urls.is_empty() && self.rtc.turn_secret.is_empty() {
            return bad(
                "rtc.turn_urls",
                "TURN needs PARLOR_RTC__TURN_SECRET (coturn static-auth-secret)",
            );
        }
        if self.rtc.turn_ttl_secs < 60 || self.rtc.ice_timeout_secs == 0 {
            return bad(
                "rtc.turn_ttl_secs",
                "TURN credentials must live at least 60 s; ice_timeout_secs > 0",
            );
        }
        for (key, v) in [
            ("rtc.recv_buffer_bytes", self.rtc.recv_buffer_bytes),
            ("rtc.send_buffer_bytes", self.rtc.send_buffer_bytes),
        ] {
            if !(65_536..=(256 << 20)).contains(&v) {
                return bad(key, "must be from 65536 (64 KiB) to 268435456 (256 MiB)");
            }
        }
        let n = self.rtc.nack_history;
        if !n.is_power_of_two() || !(32..=1024).contains(&n) {
            return bad("rtc.nack_history", "must be a power of two from 32 to 1024");
        }
        if !(2..=64).contains(&self.rooms.max_participants) {
            return bad("rooms.max_participants", "must be between 2 and 64");
        }
        if self.rooms.max_rooms == 0 || self.rooms.join_token_ttl_minutes == 0 {
            return bad(
                "rooms.max_rooms",
                "rooms.max_rooms and rooms.join_token_ttl_minutes must be positive",
            );
        }
        Ok(())
    }
}
