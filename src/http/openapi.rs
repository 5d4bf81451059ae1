//! The OpenAPI document: every HTTP endpoint, collected from the handler annotations.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "parlor", description = "Self-hosted coaching server: booking, video rooms, AI voice."),
    paths(
        super::ops::healthz, super::ops::readyz, super::ops::metrics, super::ops::openapi,
        super::accounts::signup, super::accounts::login, super::accounts::logout, super::accounts::me,
        super::accounts::update_me, super::accounts::rotate_feed, super::accounts::create_key,
        super::accounts::list_keys, super::accounts::revoke_key, super::accounts::admin_create_user,
        super::coaches::list, super::coaches::one, super::coaches::create, super::coaches::update,
        super::coaches::set_availability, super::coaches::slots,
        super::bookings::create, super::bookings::list, super::bookings::one, super::bookings::reschedule,
        super::bookings::cancel, super::bookings::rate, super::bookings::notes, super::bookings::outcome,
        super::bookings::invite, super::bookings::feed,
        super::privacy::export, super::privacy::erase, super::privacy::list_commitments,
        super::privacy::create_commitment, super::privacy::update_commitment, super::privacy::audit,
    ),
    tags((name = "accounts"), (name = "coaches"), (name = "bookings"), (name = "commitments"),
         (name = "privacy"), (name = "admin"), (name = "ops"))
)]
struct ApiDoc;

/// The document as served at `/api/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
