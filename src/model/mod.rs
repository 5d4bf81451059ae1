//! The domain's data: plain types the services, the store and the HTTP layer share —
//! accounts, coaches, bookings and their slot rules, commitments, voice sessions and their
//! transcripts. No behaviour beyond small conversions and no IO, so every other module may
//! use them: this is the bottom of the import graph (it uses only `ids` and the room's word
//! for a speaker), which keeps the store from importing the services that use it.

pub mod account;
pub mod booking;
pub mod voice;
