//! The OpenAPI document: every HTTP endpoint, collected from the handler annotations.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "parlor", description = "Self-hosted coaching server: booking, video rooms, AI voice."),
    paths(
        super::ops::healthz, super::ops::readyz, super::ops::metrics, super::ops::openapi,
        super::accounts::signup, super::accounts::login, super::accounts::logout, super::accounts::me,
        super::accounts::update_me, super::accounts::change_password, super::accounts::rotate_feed, super::accounts::create_key,
        super::accounts::list_keys, super::accounts::revoke_key, super::accounts::admin_create_user, super::accounts::admin_list_users, super::accounts::admin_disable_user, super::accounts::admin_enable_user, super::accounts::admin_set_role, super::accounts::admin_reset_password,
        super::coaches::list, super::coaches::one, super::coaches::create, super::coaches::update,
        super::coaches::set_availability, super::coaches::slots,
        super::bookings::create, super::bookings::list, super::bookings::one, super::bookings::reschedule,
        super::bookings::cancel, super::bookings::rate, super::bookings::notes, super::bookings::outcome,
        super::bookings::invite, super::bookings::feed,
        super::privacy::export, super::privacy::erase, super::privacy::list_commitments,
        super::privacy::create_commitment, super::privacy::update_commitment, super::privacy::audit,
        super::rooms::token,
        super::voice::start, super::voice::list, super::voice::one, super::voice::end,
    ),
    modifiers(&BodyErrors),
    tags((name = "accounts"), (name = "coaches"), (name = "bookings"), (name = "commitments"),
         (name = "privacy"), (name = "admin"), (name = "rooms"), (name = "voice"), (name = "ops"))
)]
struct ApiDoc;

/// Every operation with a JSON body can also answer 413 (body too large) and 415 (not JSON);
/// documenting that once here keeps the handler annotations short.
struct BodyErrors;

impl utoipa::Modify for BodyErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                if op.request_body.is_some() {
                    op.responses
                        .responses
                        .insert("413".into(), error("request body too large").into());
                    op.responses
                        .responses
                        .insert("415".into(), error("request body is not JSON").into());
                }
            }
        }
    }
}

/// The document as served at `/api/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
