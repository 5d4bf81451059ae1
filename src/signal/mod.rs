//! Signalling: the WebSocket protocol on `/rtc` (JSON messages tagged by `type`, in
//! [`protocol`]) and, later in this module, one session task per connection that drives the
//! SFU core and the media shell. The protocol is documented for client authors in
//! `docs/signalling.md`.

pub mod protocol;
