//! Coach profiles, policies and availability.

use super::{Store, StoreError, StoreResult, secs};
use crate::ids::{CoachId, UserId};
use crate::model::booking::{Availability, Coach, CoachPolicy};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The editable part of a coach profile (validated by the caller).
#[derive(Debug, Clone)]
pub struct CoachProfile {
    pub user_id: Option<UserId>,
    pub name: String,
    pub title: String,
    pub specialties: Vec<String>,
    pub experience_years: u32,
    pub bio: String,
    pub photo_url: Option<String>,
    pub phone: Option<String>,
    pub time_zone: String,
    pub policy: CoachPolicy,
    pub active: bool,
}

const COACH_SELECT: &str = "SELECT c.id, c.user_id, c.name, c.title, c.specialties, \
    c.experience_years, c.bio, c.photo_url, c.phone, c.time_zone, c.session_minutes, \
    c.buffer_minutes, c.slot_step_minutes, c.min_notice_minutes, c.booking_window_days, \
    c.cancel_notice_minutes, c.reschedule_notice_minutes, c.weekly_rules, c.date_overrides, \
    c.active, (SELECT COUNT(*) FROM bookings b WHERE b.coach_id = c.id \
    AND b.status = 'completed') AS sessions_held, \
    (SELECT COUNT(b.rating) FROM bookings b WHERE b.coach_id = c.id) AS rating_count, \
    COALESCE(CAST((SELECT SUM(b.rating) FROM bookings b WHERE b.coach_id = c.id) AS BIGINT), 0) \
    AS rating_sum FROM coaches c";

fn int(row: &AnyRow, col: &str) -> StoreResult<u32> {
    let v: i64 = row.try_get(col)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} = {v}")))
}

fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn coach_from_row(row: &AnyRow) -> StoreResult<Coach> {
    let time_zone: String = row.try_get("time_zone")?;
    let user_id: Option<String> = row.try_get("user_id")?;
    Ok(Coach {
        id: CoachId(row.try_get("id")?),
        user_id: user_id.map(UserId),
        name: row.try_get("name")?,
        title: row.try_get("title")?,
        specialties: json(row, "specialties")?,
        experience_years: int(row, "experience_years")?,
        bio: row.try_get("bio")?,
        photo_url: row.try_get("photo_url")?,
        phone: row.try_get("phone")?,
        policy: CoachPolicy {
            session_minutes: int(row, "session_minutes")?,
            buffer_minutes: int(row, "buffer_minutes")?,
            slot_step_minutes: int(row, "slot_step_minutes")?,
            min_notice_minutes: int(row, "min_notice_minutes")?,
            booking_window_days: int(row, "booking_window_days")?,
            cancel_notice_minutes: int(row, "cancel_notice_minutes")?,
            reschedule_notice_minutes: int(row, "reschedule_notice_minutes")?,
        },
        availability: Availability {
            time_zone: time_zone.clone(),
            weekly: json(row, "weekly_rules")?,
            overrides: json(row, "date_overrides")?,
        },
        time_zone,
        active: row.try_get::<i64, _>("active")? != 0,
        sessions_held: row.try_get("sessions_held")?,
        rating_count: row.try_get("rating_count")?,
        rating_average: {
            let (n, sum): (i64, i64) = (row.try_get("rating_count")?, row.try_get("rating_sum")?);
            // One decimal, as a profile shows it.
            (n > 0).then(|| (sum as f64 / n as f64 * 10.0).round() / 10.0)
        },
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises to JSON")
}

impl Store {
    /// Creates a coach with no availability yet.
    pub async fn insert_coach(&self, p: &CoachProfile, now: DateTime<Utc>) -> StoreResult<Coach> {
        let id = CoachId::generate();
        sqlx::query(
            "INSERT INTO coaches (id, user_id, name, title, specialties, experience_years, bio, \
             photo_url, phone, time_zone, session_minutes, buffer_minutes, slot_step_minutes, \
             min_notice_minutes, booking_window_days, cancel_notice_minutes, \
             reschedule_notice_minutes, weekly_rules, date_overrides, active, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, '[]', '[]', $18, $19, $19)",
        )
        .bind(id.as_str())
        .bind(p.user_id.as_ref().map(UserId::as_str))
        .bind(&p.name)
        .bind(&p.title)
        .bind(to_json(&p.specialties))
        .bind(i64::from(p.experience_years))
        .bind(&p.bio)
        .bind(p.photo_url.as_deref())
        .bind(p.phone.as_deref())
        .bind(&p.time_zone)
        .bind(i64::from(p.policy.session_minutes))
        .bind(i64::from(p.policy.buffer_minutes))
        .bind(i64::from(p.policy.slot_step_minutes))
        .bind(i64::from(p.policy.min_notice_minutes))
        .bind(i64::from(p.policy.booking_window_days))
        .bind(i64::from(p.policy.cancel_notice_minutes))
        .bind(i64::from(p.policy.reschedule_notice_minutes))
        .bind(i64::from(p.active))
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        self.coach(&id).await
    }

    /// Replaces the profile and policy of a coach.
    pub async fn update_coach(
        &self,
        id: &CoachId,
        p: &CoachProfile,
        now: DateTime<Utc>,
    ) -> StoreResult<Coach> {
        let r = sqlx::query(
            "UPDATE coaches SET user_id = $2, name = $3, title = $4, specialties = $5, \
             experience_years = $6, bio = $7, photo_url = $8, phone = $9, time_zone = $10, \
             session_minutes = $11, buffer_minutes = $12, slot_step_minutes = $13, \
             min_notice_minutes = $14, booking_window_days = $15, cancel_notice_minutes = $16, \
             reschedule_notice_minutes = $17, active = $18, updated_at = $19 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(p.user_id.as_ref().map(UserId::as_str))
        .bind(&p.name)
        .bind(&p.title)
        .bind(to_json(&p.specialties))
        .bind(i64::from(p.experience_years))
        .bind(&p.bio)
        .bind(p.photo_url.as_deref())
        .bind(p.phone.as_deref())
        .bind(&p.time_zone)
        .bind(i64::from(p.policy.session_minutes))
        .bind(i64::from(p.policy.buffer_minutes))
        .bind(i64::from(p.policy.slot_step_minutes))
        .bind(i64::from(p.policy.min_notice_minutes))
        .bind(i64::from(p.policy.booking_window_days))
        .bind(i64::from(p.policy.cancel_notice_minutes))
        .bind(i64::from(p.policy.reschedule_notice_minutes))
        .bind(i64::from(p.active))
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.coach(id).await
    }

    /// Replaces weekly rules and overrides (the zone is the availability's zone).
    pub async fn set_availability(
        &self,
        id: &CoachId,
        a: &Availability,
        now: DateTime<Utc>,
    ) -> StoreResult<Coach> {
        let r = sqlx::query(
            "UPDATE coaches SET time_zone = $2, weekly_rules = $3, date_overrides = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(&a.time_zone)
        .bind(to_json(&a.weekly))
        .bind(to_json(&a.overrides))
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.coach(id).await
    }

    /// One coach (active or not).
    pub async fn coach(&self, id: &CoachId) -> StoreResult<Coach> {
        let sql = format!("{COACH_SELECT} WHERE c.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_one(self.pool())
            .await?;
        coach_from_row(&row)
    }

    /// The coach profile of a coach account.
    pub async fn coach_by_user(&self, user: &UserId) -> StoreResult<Coach> {
        let sql = format!("{COACH_SELECT} WHERE c.user_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .fetch_one(self.pool())
            .await?;
        coach_from_row(&row)
    }

    /// All active coaches, by name.
    pub async fn active_coaches(&self) -> StoreResult<Vec<Coach>> {
        let sql = format!("{COACH_SELECT} WHERE c.active = 1 ORDER BY c.name, c.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(coach_from_row).collect()
    }

    /// Every coach, active or not, by name (for admins).
    pub async fn all_coaches(&self) -> StoreResult<Vec<Coach>> {
        let sql = format!("{COACH_SELECT} ORDER BY c.name, c.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(coach_from_row).collect()
    }
}
