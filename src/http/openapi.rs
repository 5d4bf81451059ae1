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
        super::privacy::create_commitment, super::privacy::update_commitment, super::privacy::delete_commitment, super::privacy::audit,
        super::rooms::token, super::rooms::live,
        super::voice::start, super::voice::list, super::voice::one, super::voice::end,
        super::notify::request_reset, super::notify::confirm_reset, super::notify::verify_email, super::notify::resend_verification, super::notify::unsubscribe_page,
        super::notify::unsubscribe, super::notify::deliveries, super::notify::delivery, super::notify::retry,
        super::webhooks::create, super::webhooks::list, super::webhooks::one, super::webhooks::update,
        super::webhooks::remove, super::webhooks::deliveries,
        super::push::key, super::push::subscribe, super::push::list, super::push::unsubscribe,
    ),
    modifiers(&BodyErrors, &Described, &Security),
    tags((name = "accounts"), (name = "coaches"), (name = "bookings"), (name = "commitments"),
         (name = "privacy"), (name = "admin"), (name = "rooms"), (name = "voice"), (name = "notifications"), (name = "ops"))
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

/// Gives every response without its own description the standard meaning of its status in
/// this API, so the document says what each answer means (OpenAPI requires a description).
struct Described;

/// What a status means in this API, for responses whose handler did not say more.
fn status_meaning(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted: it happens in the background",
        "204" => "Done; no body",
        "400" => "Malformed request: the body, a parameter or the query could not be read",
        "401" => "Not signed in: no valid session cookie or API key",
        "403" => "Signed in, but not allowed to do this",
        "404" => "Not found, or not visible to the caller",
        "405" => "Method not allowed on this path",
        "409" => "Conflicts with the current state; `error.code` says which rule",
        "413" => "Request body too large",
        "415" => "Request body is not JSON",
        "422" => "A value is out of range or invalid; `error.message` names the field",
        "429" => "Too many attempts; retry after the `Retry-After` seconds",
        "503" => "Not ready (the database cannot be reached)",
        _ => "See the error body",
    }
}

impl utoipa::Modify for Described {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                for (status, response) in op.responses.responses.iter_mut() {
                    if let RefOr::T(r) = response
                        && r.description.trim().is_empty()
                    {
                        r.description = status_meaning(status).to_string();
                    }
                }
            }
        }
    }
}

/// Every operation of a path item.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// Operations that work without signing in and show more to those who are signed in.
const OPTIONAL_AUTH: &[(&str, &str)] = &[("/api/coaches", "get"), ("/api/coaches/{id}", "get")];

/// Operations whose 401 is about the credentials in the body, not about a session.
const PUBLIC: &[(&str, &str)] = &[("/api/auth/login", "post")];

/// The two ways to authenticate (`session`: the browser's login cookie; `bearer`: an API key
/// `plk_…`), required by every operation that can answer 401 and optional where signing in
/// shows more.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::extract::SESSION_COOKIE,
                "The login session cookie set by `POST /api/auth/login` (browsers). State-changing \
                 requests with it must carry this site's `Origin`.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`plk_…`) from `POST /api/keys`, for integrations.",
                    ))
                    .build(),
            ),
        );
        let either = || {
            vec![
                SecurityRequirement::new("session", Vec::<String>::new()),
                SecurityRequirement::new("bearer", Vec::<String>::new()),
            ]
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let methods = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, op) in methods {
                let Some(op) = op else { continue };
                let key = (path.as_str(), method);
                if PUBLIC.contains(&key) {
                    continue;
                }
                if key == ("/api/auth/logout", "post") {
                    // Ends the browser's session if it has one; answers 204 either way.
                    op.security = Some(vec![
                        SecurityRequirement::default(),
                        SecurityRequirement::new("session", Vec::<String>::new()),
                    ]);
                } else if OPTIONAL_AUTH.contains(&key) {
                    let mut any = vec![SecurityRequirement::default()];
                    any.extend(either());
                    op.security = Some(any);
                } else if op.responses.responses.contains_key("401") {
                    op.security = Some(either());
                }
            }
        }
    }
}

/// The document as served at `/api/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use std::collections::{BTreeSet, HashSet};

    fn doc() -> Value {
        serde_json::to_value(super::document()).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((method.to_uppercase(), path.clone(), op));
            }
        }
        out
    }

    fn refs(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.insert(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_response_is_described_and_every_operation_named_once() {
        let doc = doc();
        let mut ids = HashSet::new();
        for (method, path, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_string()),
                "operationId {id:?} repeats ({method} {path})"
            );
            for (status, r) in op["responses"].as_object().unwrap() {
                let d = r["description"].as_str().unwrap_or_default();
                assert!(
                    !d.trim().is_empty(),
                    "{method} {path} {status} has no description"
                );
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = doc();
        let mut found = BTreeSet::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {r}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} is referenced but not defined"
            );
        }
    }

    #[test]
    fn operations_that_need_a_login_say_how_to_authenticate() {
        let doc = doc();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["session"]["type"], "apiKey");
        assert_eq!(schemes["session"]["in"], "cookie");
        assert_eq!(schemes["session"]["name"], "parlor_session");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        for (method, path, op) in operations(&doc) {
            let sec = op.get("security").and_then(Value::as_array);
            let required = sec.is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            let answers_401 = op["responses"].get("401").is_some();
            if answers_401 && path != "/api/auth/login" {
                assert!(
                    required,
                    "{method} {path} answers 401 but requires no authentication"
                );
            }
        }
        // The login's 401 is about the credentials sent, and says so.
        let login = &doc["paths"]["/api/auth/login"]["post"]["responses"]["401"]["description"];
        assert!(
            login.as_str().unwrap().contains("Wrong email or password"),
            "{login}"
        );
        let coaches = &doc["paths"]["/api/coaches"]["get"]["security"];
        assert_eq!(coaches[0], serde_json::json!({}), "anonymous is allowed");
    }

    #[test]
    fn availability_and_policy_are_typed() {
        let doc = doc();
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["Availability"]["properties"]["weekly"]["items"]["$ref"],
            "#/components/schemas/WeeklyRule"
        );
        assert_eq!(
            s["WeeklyRule"]["properties"]["weekday"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            7
        );
        assert_eq!(
            s["DateOverride"]["properties"]["windows"]["items"]["$ref"],
            "#/components/schemas/TimeWindow"
        );
        assert_eq!(
            s["CoachPolicy"]["properties"]["session_minutes"]["minimum"],
            5
        );
        assert_eq!(
            s["CoachPolicy"]["properties"]["session_minutes"]["default"],
            60
        );
    }
}
